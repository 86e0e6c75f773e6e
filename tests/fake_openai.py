"""A local OpenAI-compatible embeddings server (``POST /v1/embeddings``) for the tests that need one: the
``openai`` / ``nim`` embedders' tests, and the agent memory server's embeddings (:mod:`servers_agent_memory`)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeEmbeddings(ThreadingHTTPServer):
    """Answers ``POST /v1/embeddings`` like OpenAI; ``script`` holds canned answers to give first.

    The default vector of a text is ``[len(text), 1, 2, 3]`` (not unit length), and ``data`` comes back in
    reverse order so clients must sort by ``index``; with ``vectors`` (real vectors for a real client such as
    the agent memory server's) it comes back in order, as OpenAI sends it.
    """

    daemon_threads = True

    def __init__(self, vectors: Callable[[Sequence[str]], list[list[float]]] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.vectors = vectors  # the vectors of a batch of texts; the default: [len(text), 1, 2, 3]
        self.script: list[tuple[int, dict[str, str], Any]] = []
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.times: list[float] = []
        self.delay = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: the timeout test hangs up before the delayed answer is written."""

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        if self.script:
            return self.script.pop(0)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = self.vectors(texts) if self.vectors else [[float(len(t)), 1.0, 2.0, 3.0] for t in texts]
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return 200, {}, {"object": "list", "data": data[::-1] if self.vectors is None else data, "model": body["model"],
                         "usage": {"prompt_tokens": 1, "total_tokens": 1}}


class _Handler(BaseHTTPRequestHandler):
    server: FakeEmbeddings

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((dict(self.headers), body))
        self.server.times.append(time.monotonic())
        if self.path != "/v1/embeddings":
            return self._send(404, {}, {"error": {"message": "not found"}})
        if self.server.delay:
            delay, self.server.delay = self.server.delay, 0.0
            time.sleep(delay)
        self._send(*self.server.answer(body))

    def _send(self, status: int, headers: dict[str, str], payload: Any) -> None:
        raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        return None




@contextmanager
def serving(server: FakeEmbeddings) -> Iterator[FakeEmbeddings]:
    """Serve ``server`` on a thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
