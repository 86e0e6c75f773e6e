"""OpenAI-compatible client: config from llms:, streaming SSE from a local server on 127.0.0.1, failures and
the retries of the request that starts a stream (memory_core.http's policy)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import yaml

from memory_core.config import parse_config
from memory_core.errors import ConfigError, StoreUnavailableError
from memory_core.llm import LlmConfig, chat, llm_config, stream_chat
from tests.helpers.llm_server import CHUNKS, FakeLlm, Handler, events, serve

KEY = "sk-llm-secret-42"
HI = [{"role": "user", "content": "hi"}]


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
        await chat(llm_config(config(server, model="broken", retry_backoff=0.01), "chat"), [])
    with pytest.raises(StoreUnavailableError, match="unreachable"):
        await chat(llm_config(config("http://127.0.0.1:9/v1", retry_backoff=0.01), "chat"), [])
    with pytest.raises(ConfigError, match="no llm 'other'"):
        llm_config(config(server), "other")


@pytest.fixture
def llm():
    with FakeLlm() as fake:
        yield fake


def fast(llm: FakeLlm, **extra) -> LlmConfig:
    return LlmConfig.model_validate({"_type": "openai", "base_url": llm.base_url, "model_name": "demo-model",
                                     "api_key": KEY, "retry_backoff": 0.01, **extra})


async def test_a_429_with_retry_after_and_a_503_are_retried_before_the_stream_starts(llm):
    llm.fail(429, retry_after="0.3")
    llm.fail(503)
    started = time.monotonic()
    chunks = [c async for c in stream_chat(fast(llm), HI)]
    assert chunks == CHUNKS and time.monotonic() - started >= 0.29
    assert [call.status for call in llm.calls] == [429, 503, 200]
    assert all(call.headers["authorization"] == f"Bearer {KEY}" for call in llm.calls)


async def test_a_dropped_connection_before_the_answer_is_retried(llm):
    llm.drop()
    assert await chat(fast(llm), HI) == "".join(CHUNKS)
    assert len(llm.calls) == 2


async def test_gives_up_after_num_retries_naming_the_status_never_the_key(llm):
    llm.fail(503, times=10, body={"error": {"message": f"overloaded (key {KEY})"}})
    with pytest.raises(StoreUnavailableError) as info:
        await chat(fast(llm, num_retries=3), HI)
    assert "llm endpoint answered 503 after 4 attempts" in str(info.value) and "key ***" in str(info.value)
    assert KEY not in str(info.value) and len(llm.calls) == 4


async def test_do_auto_retry_false_makes_one_attempt(llm):
    llm.fail(429, times=10, retry_after="0")
    with pytest.raises(StoreUnavailableError, match="answered 429: "):
        await chat(fast(llm, do_auto_retry=False), HI)
    assert len(llm.calls) == 1


async def test_an_unreachable_endpoint_is_retried_then_named():
    config = LlmConfig.model_validate({"_type": "openai", "base_url": "http://127.0.0.1:9/v1", "model_name": "m",
                                       "retry_backoff": 0.01})
    with pytest.raises(StoreUnavailableError, match="unreachable after 3 attempts"):
        await chat(config, HI)


async def test_a_stream_that_has_started_is_never_sent_again():
    sent: list[httpx.Request] = []

    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield events(["Hel"]).removesuffix("data: [DONE]\n\n").encode()
            raise httpx.ReadError("connection reset mid-reply")

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=Broken())

    config = LlmConfig.model_validate({"_type": "openai", "base_url": "http://llm.invalid/v1", "model_name": "m",
                                       "retry_backoff": 0.01})
    got: list[str] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(reply)) as client:
        with pytest.raises(StoreUnavailableError, match="mid-reply"):
            async for chunk in stream_chat(config, HI, client=client):
                got.append(chunk)
    assert got == ["Hel"] and len(sent) == 1
    assert json.loads(sent[0].content)["stream"] is True


def test_retry_settings_come_from_the_llms_entry(server, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "k")
    settings = llm_config(config(server), "chat")
    assert (settings.num_retries, settings.retry_on_status_codes, settings.do_auto_retry, settings.retry_backoff,
            settings.max_retry_wait) == (2, [429, 500, 502, 503, 504], True, 0.5, 30.0)
    tuned = llm_config(config(server, num_retries=5, do_auto_retry=False, retry_on_status_codes=[503]), "chat")
    assert (tuned.num_retries, tuned.retry_policy().num_retries, tuned.retry_policy().retry_on) == (
        5, 0, frozenset({503}))
    with pytest.raises(ConfigError, match=r"llms\.chat\.num_retries"):
        llm_config(config(server, num_retries=-1), "chat")
