"""A local OpenAI-compatible chat server for tests: streams server-sent events on 127.0.0.1, a free port.

A :class:`~fake_http.FakeService`, so faults come on demand (``fail(503, retry_after="0.2")``, ``slow``,
``drop``). Model ``broken`` answers 500, ``unauthorized`` 401. A request whose system message is the
playground agent's facts prompt gets :data:`FACTS` as a JSON array (with chatter around it, as models do); any
other gets :data:`CHUNKS`. Every request is kept in ``Handler.seen`` (of every server of the process) and in
the server's own ``calls``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any, ClassVar

from memory_core.agent import FACTS_PROMPT
from tests.helpers.fake_http import Call, FakeService, Fault, Reply

CHUNKS = ["Hel", "lo ", "Alice", "!"]
FACTS = ["Alice likes green tea.", "Alice is allergic to peanuts."]
ERRORS: dict[str, tuple[int, Any]] = {"broken": (500, "boom"), "unauthorized": (401, {"error": "invalid api key"})}


def chunks_for(body: dict[str, Any]) -> list[str]:
    messages = body.get("messages") or [{}]
    if messages[0].get("content") == FACTS_PROMPT:
        text = f"Sure! {json.dumps(FACTS)} Anything else?"
        return [text[:20], text[20:]]
    return CHUNKS


def events(chunks: list[str]) -> str:
    """A streamed reply: a keep-alive comment, one ``data:`` event per chunk, ``[DONE]``."""
    deltas = [f"data: {json.dumps({'choices': [{'delta': {'content': chunk}}]})}\n\n" for chunk in chunks]
    return ": keep-alive\n\n" + "".join(deltas) + "data: [DONE]\n\n"


class FakeLlm(FakeService):
    """``with FakeLlm() as llm: ...`` serves ``POST {llm.base_url}/chat/completions``; any key is accepted."""

    name = "fake-llm"
    text_type = "text/event-stream"  # the streamed replies (and the text of an error)
    seen: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, api_key: str = "") -> None:
        super().__init__(api_key)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def handle(self, call: Call) -> Reply:
        FakeLlm.seen.append({"path": call.path, "auth": call.headers.get("authorization"), "body": call.body})
        return super().handle(call)

    def auth_error(self, call: Call) -> Reply | None:
        return None

    def respond(self, call: Call) -> Reply:
        body = call.body if isinstance(call.body, dict) else {}
        if body.get("model") in ERRORS:
            status, payload = ERRORS[body["model"]]
            return status, payload, {}
        return 200, events(chunks_for(body)), {}

    def fault_body(self, fault: Fault) -> Any:
        if fault.body is not None:
            return fault.body
        return {"error": {"message": f"injected HTTP {fault.status}", "type": "server_error"}}


Handler = FakeLlm  # the name the tests knew the request log by: ``Handler.seen``


@contextlib.contextmanager
def serve() -> Iterator[str]:
    """Run a server in a thread; yields its base URL (``http://127.0.0.1:PORT/v1``)."""
    with FakeLlm() as fake:
        yield fake.base_url
