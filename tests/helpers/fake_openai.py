"""A local OpenAI-compatible embeddings server (``POST /v1/embeddings``) for the tests that need one: the
``openai`` / ``nim`` embedders' tests, and the agent memory server's embeddings (:mod:`servers_agent_memory`).

A :class:`~fake_http.FakeService`, so faults come on demand (``fail(429, retry_after="0.3")``, ``slow``,
``drop``) besides the canned answers of :attr:`FakeEmbeddings.script`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tests.helpers.fake_http import Call, FakeService, Fault, Reply


class FakeEmbeddings(FakeService):
    """Answers ``POST /v1/embeddings`` like OpenAI, with any key; ``script`` holds canned answers
    (``(status, headers, body)``) to give first.

    The default vector of a text is ``[len(text), 1, 2, 3]`` (not unit length), and ``data`` comes back in
    reverse order so clients must sort by ``index``; with ``vectors`` (real vectors for a real client such as
    the agent memory server's) it comes back in order, as OpenAI sends it. ``requests`` holds each request's
    headers (lower-case names) and body, ``times`` when it came.
    """

    name = "fake-openai"
    prefix = "/v1"
    not_found_text = "not found"
    text_type = "text/plain; charset=utf-8"

    def __init__(self, vectors: Callable[[Sequence[str]], list[list[float]]] | None = None) -> None:
        super().__init__("")
        self.vectors = vectors  # the vectors of a batch of texts; the default: [len(text), 1, 2, 3]
        self.script: list[tuple[int, dict[str, str], Any]] = []
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.times: list[float] = []

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def handle(self, call: Call) -> Reply:
        self.requests.append((call.headers, call.body))
        self.times.append(time.monotonic())
        return super().handle(call)

    def auth_error(self, call: Call) -> Reply | None:
        return None

    def respond(self, call: Call) -> Reply:
        if (call.method, call.path) != ("POST", "/embeddings"):
            return 404, {"error": {"message": "not found"}}, {}
        if self.script:
            status, headers, payload = self.script.pop(0)
            return status, payload, headers
        return 200, self.answer(call.body), {}

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = self.vectors(texts) if self.vectors else [[float(len(t)), 1.0, 2.0, 3.0] for t in texts]
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return {"object": "list", "data": data[::-1] if self.vectors is None else data, "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1}}

    def fault_body(self, fault: Fault) -> Any:
        if fault.body is not None:
            return fault.body
        return {"error": {"message": f"injected HTTP {fault.status}", "type": "server_error"}}

    # what servers_agent_memory.py calls: it runs the fake as it would a ThreadingHTTPServer
    def serve_forever(self) -> None:
        self._server.serve_forever(0.05)

    def shutdown(self) -> None:
        self._stopping.set()
        self._server.shutdown()

    def server_close(self) -> None:
        self._server.server_close()


@contextmanager
def serving(server: FakeEmbeddings) -> Iterator[FakeEmbeddings]:
    """Serve ``server`` on a thread until the block ends."""
    with server:
        yield server
