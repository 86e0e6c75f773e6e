"""OpenAI-compatible client: config from llms:, streaming SSE from a local server on 127.0.0.1, failures."""

from __future__ import annotations

import pytest
import yaml
from llm_server import CHUNKS, Handler, serve

from memory_core.config import parse_config
from memory_core.errors import ConfigError, StoreUnavailableError
from memory_core.llm import chat, llm_config, stream_chat


@pytest.fixture(scope="module")
def server():
    with serve() as url:
        yield url


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
