"""OpenAI-compatible client: config from llms:, streaming SSE from a local server on 127.0.0.1, failures."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import yaml

from memory_core.config import parse_config
from memory_core.errors import ConfigError, StoreUnavailableError
from memory_core.llm import chat, llm_config, stream_chat

CHUNKS = ["Hel", "lo ", "Alice", "!"]


class Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if body["model"] == "broken":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b": keep-alive\n\n")
        for chunk in CHUNKS:
            event = {"choices": [{"delta": {"content": chunk}}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def config(base_url: str, model: str = "demo-model", **extra):
    return parse_config(yaml.safe_dump({"memory": {"m": {"_type": "in_memory"}}, "llms": {"chat": {
        "_type": "openai", "base_url": base_url, "model_name": model, "api_key": "${TEST_LLM_KEY}", **extra}}}))


async def test_streams_deltas_with_the_key_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test")
    cfg = llm_config(config(server, temperature=0.1), "chat")
    assert "sk-test" not in repr(cfg)
    chunks = [c async for c in stream_chat(cfg, [{"role": "user", "content": "hi"}])]
    assert chunks == CHUNKS
    request = Handler.seen[-1]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert request["body"]["stream"] is True and request["body"]["temperature"] == 0.1


async def test_errors_are_messages(server, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "k")
    with pytest.raises(StoreUnavailableError, match="answered 500"):
        await chat(llm_config(config(server, model="broken"), "chat"), [])
    with pytest.raises(StoreUnavailableError, match="unreachable"):
        await chat(llm_config(config("http://127.0.0.1:9/v1"), "chat"), [])
    with pytest.raises(ConfigError, match="no llm 'other'"):
        llm_config(config(server), "other")
