"""A local OpenAI-compatible chat server for tests: streams server-sent events on 127.0.0.1, a free port.

Model ``broken`` answers 500, ``unauthorized`` 401. A request whose system message is the playground agent's
facts prompt gets :data:`FACTS` as a JSON array (with chatter around it, as models do); any other gets
:data:`CHUNKS`. Every request is kept in ``Handler.seen``.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from memory_core.agent import FACTS_PROMPT

CHUNKS = ["Hel", "lo ", "Alice", "!"]
FACTS = ["Alice likes green tea.", "Alice is allergic to peanuts."]
ERRORS = {"broken": (500, b"boom"), "unauthorized": (401, b'{"error": "invalid api key"}')}


def chunks_for(body: dict[str, Any]) -> list[str]:
    messages = body.get("messages") or [{}]
    if messages[0].get("content") == FACTS_PROMPT:
        text = f"Sure! {json.dumps(FACTS)} Anything else?"
        return [text[:20], text[20:]]
    return CHUNKS


class Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if body["model"] in ERRORS:
            status, payload = ERRORS[body["model"]]
            self.send_response(status)
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b": keep-alive\n\n")
        for chunk in chunks_for(body):
            event = {"choices": [{"delta": {"content": chunk}}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: object) -> None:
        return


@contextlib.contextmanager
def serve() -> Iterator[str]:
    """Run the server in a thread; yields its base URL (``http://127.0.0.1:PORT/v1``)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
