"""The ``openai`` / ``nim`` embedders against a small OpenAI-style embeddings server on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from memory_core.builder import MemoryBuilder
from memory_core.config import parse_config
from memory_core.embedders.openai import (
    NIM_URL,
    NIMEmbedderConfig,
    OpenAICompatibleEmbedder,
    OpenAIEmbedderConfig,
)
from memory_core.errors import ConfigError, InvalidInputError, StoreUnavailableError
from memory_core.http import retry_after
from tests.helpers.fake_openai import FakeEmbeddings, serving

KEY = "sk-test-secret-123"
DIM = 4


@pytest.fixture
def server() -> Iterator[FakeEmbeddings]:
    with serving(FakeEmbeddings()) as srv:
        yield srv


@pytest.fixture(autouse=True)
def no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("NVIDIA_API_KEY", raising=False)


def config(server: FakeEmbeddings, **fields: Any) -> OpenAIEmbedderConfig:
    return OpenAIEmbedderConfig(model_name="test-embed", base_url=server.base_url, api_key=KEY,
                                retry_backoff=0.01, **fields)


def expected(text: str) -> np.ndarray:
    vector = np.array([len(text), 1, 2, 3], dtype=np.float32)
    return vector / np.linalg.norm(vector)


async def test_embeds_in_order_normalised_with_the_key_and_model(server: FakeEmbeddings) -> None:
    embedder = OpenAICompatibleEmbedder(config(server))
    try:
        vectors = await embedder.embed(["a", "three", "ten chars!"])
    finally:
        await embedder.aclose()
    assert vectors.shape == (3, DIM) and vectors.dtype == np.float32
    assert np.allclose(vectors, [expected("a"), expected("three"), expected("ten chars!")])
    headers, body = server.requests[0]
    assert headers["authorization"] == f"Bearer {KEY}"
    assert body == {"model": "test-embed", "input": ["a", "three", "ten chars!"]}
    assert embedder.dimension == DIM
    assert embedder.model_id == f"{server.base_url}|test-embed|{DIM}"


async def test_batches_and_empty_texts(server: FakeEmbeddings) -> None:
    embedder = OpenAICompatibleEmbedder(config(server, batch_size=2))
    vectors = await embedder.embed(["one", "", "three", "  ", "five", "six"])
    assert [body["input"] for _, body in server.requests] == [["one", "three"], ["five", "six"]]
    assert not vectors[1].any() and not vectors[3].any()
    assert np.allclose(vectors[5], expected("six"))
    assert (await embedder.embed([])).shape == (0, DIM)
    await embedder.aclose()


async def test_only_empty_texts_still_learn_the_dimension(server: FakeEmbeddings) -> None:
    embedder = OpenAICompatibleEmbedder(config(server))
    assert (await embedder.embed([""])).shape == (1, DIM)
    await embedder.aclose()


async def test_429_waits_for_retry_after(server: FakeEmbeddings) -> None:
    server.script = [(429, {"Retry-After": "0.3"}, {"error": {"message": "slow down"}})]
    embedder = OpenAICompatibleEmbedder(config(server))
    vectors = await embedder.embed(["hello"])
    await embedder.aclose()
    assert np.allclose(vectors[0], expected("hello"))
    assert len(server.requests) == 2
    assert server.times[1] - server.times[0] >= 0.29


async def test_retry_after_is_bounded(server: FakeEmbeddings) -> None:
    server.script = [(429, {"Retry-After": "3600"}, {}), (503, {"retry-after-ms": "900000"}, {})]
    embedder = OpenAICompatibleEmbedder(config(server, max_retry_wait=0.05))
    started = time.monotonic()
    await embedder.embed(["hello"])
    await embedder.aclose()
    assert time.monotonic() - started < 2
    assert len(server.requests) == 3


async def test_500_then_success_and_persistent_500(server: FakeEmbeddings) -> None:
    server.script = [(500, {}, {"error": {"message": "boom"}})]
    embedder = OpenAICompatibleEmbedder(config(server, max_retries=2))
    await embedder.embed(["x"])
    assert len(server.requests) == 2
    server.script = [(502, {}, "bad gateway")] * 3
    with pytest.raises(StoreUnavailableError, match="HTTP 502 after 3 attempts: bad gateway"):
        await embedder.embed(["x"])
    await embedder.aclose()
    assert len(server.requests) == 5


async def test_401_says_the_key_was_rejected_without_echoing_it(server: FakeEmbeddings) -> None:
    server.script = [(401, {}, {"error": {"message": f"Incorrect API key provided: {KEY}"}})]
    embedder = OpenAICompatibleEmbedder(config(server))
    with pytest.raises(StoreUnavailableError) as info:
        await embedder.embed(["x"])
    await embedder.aclose()
    assert "rejected the API key (HTTP 401)" in str(info.value)
    assert "OPENAI_API_KEY" in str(info.value)
    assert KEY not in str(info.value) and KEY not in repr(info.value.__cause__)
    assert len(server.requests) == 1


async def test_bad_request_shows_the_server_message_with_the_key_masked(server: FakeEmbeddings) -> None:
    server.script = [(400, {}, {"error": {"message": f"input too long for key {KEY}"}})]
    embedder = OpenAICompatibleEmbedder(config(server))
    with pytest.raises(InvalidInputError, match=r"HTTP 400\): input too long for key \*\*\*"):
        await embedder.embed(["x"])
    await embedder.aclose()


async def test_malformed_answers_are_reported(server: FakeEmbeddings) -> None:
    server.script = [(200, {}, {"data": [{"index": 0}]}), (200, {}, "not json{")]
    embedder = OpenAICompatibleEmbedder(config(server))
    with pytest.raises(StoreUnavailableError, match="unexpected body"):
        await embedder.embed(["x"])
    with pytest.raises(StoreUnavailableError, match="not JSON"):
        await embedder.embed(["x"])
    await embedder.aclose()


async def test_timeouts_are_retried(server: FakeEmbeddings) -> None:
    server.slow(0.5)
    embedder = OpenAICompatibleEmbedder(config(server, timeout=0.2))
    await embedder.embed(["late"])
    await embedder.aclose()
    assert len(server.requests) == 2


async def test_unreachable_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    embedder = OpenAICompatibleEmbedder(OpenAIEmbedderConfig(
        model_name="m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, retry_backoff=0.01))
    with pytest.raises(StoreUnavailableError, match="is unreachable"):
        await embedder.embed(["x"])
    await embedder.aclose()


async def test_dimensions_are_requested_and_checked(server: FakeEmbeddings) -> None:
    embedder = OpenAICompatibleEmbedder(config(server, dimensions=8))
    assert embedder.dimension == 8
    with pytest.raises(StoreUnavailableError, match="returned 4-d vectors, expected 8"):
        await embedder.embed(["x"])
    await embedder.aclose()
    assert server.requests[0][1]["dimensions"] == 8


async def test_nim_sends_input_type_and_truncate_with_the_nvidia_key(server: FakeEmbeddings,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NVIDIA_API_KEY", "nvapi-env")
    nim = NIMEmbedderConfig(model="nvidia/nv-embedqa-e5-v5", base_url=server.base_url)
    assert NIMEmbedderConfig(model_name="m").base_url == NIM_URL
    embedder = OpenAICompatibleEmbedder(nim)
    await embedder.embed(["x"])
    await embedder.aclose()
    headers, body = server.requests[0]
    assert headers["authorization"] == "Bearer nvapi-env"
    assert body == {"model": "nvidia/nv-embedqa-e5-v5", "input": ["x"], "input_type": "query", "truncate": "NONE"}


async def test_no_key_sends_no_authorization(server: FakeEmbeddings) -> None:
    embedder = OpenAICompatibleEmbedder(OpenAIEmbedderConfig(model_name="m", base_url=server.base_url))
    await embedder.embed(["x"])
    await embedder.aclose()
    assert "authorization" not in server.requests[0][0]


def test_retry_after_forms() -> None:
    import httpx

    assert retry_after(httpx.Headers({"retry-after": "2"})) == 2
    assert retry_after(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert retry_after(httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) < 0
    assert retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after(httpx.Headers()) is None


async def test_built_from_yaml_probes_once_and_closes(server: FakeEmbeddings) -> None:
    text = f"""
embedders:
  e5:
    _type: nim
    model: nvidia/nv-embedqa-e5-v5
    base_url: {server.base_url}
    num_retries: 1
"""
    parsed = parse_config(text)
    assert parsed.warnings == []
    async with MemoryBuilder(parsed) as builder:
        embedder = await builder.get_embedder("e5")
        assert embedder.dimension == DIM and len(server.requests) == 1
        assert embedder.config.num_retries == 1
    assert embedder._client.is_closed


async def test_hosted_endpoint_without_a_key_fails_at_build() -> None:
    parsed = parse_config("embedders:\n  oa:\n    _type: openai\n    model_name: text-embedding-3-small\n")
    async with MemoryBuilder(parsed) as builder:
        with pytest.raises(ConfigError, match="needs an API key: set api_key or the OPENAI_API_KEY variable"):
            await builder.get_embedder("oa")


# The one retry policy (memory_core.http), as the stores have it: faults injected by the fake.

async def test_a_429_with_retry_after_and_a_503_are_retried_then_it_succeeds(server: FakeEmbeddings) -> None:
    server.fail(429, retry_after="0.3")
    server.fail(503)
    embedder = OpenAICompatibleEmbedder(config(server))
    vectors = await embedder.embed(["hello"])
    await embedder.aclose()
    assert np.allclose(vectors[0], expected("hello"))
    assert [call.status for call in server.calls] == [429, 503, 200]
    assert server.times[1] - server.times[0] >= 0.29


async def test_a_dropped_connection_is_retried(server: FakeEmbeddings) -> None:
    server.drop()
    embedder = OpenAICompatibleEmbedder(config(server))
    vectors = await embedder.embed(["hello"])
    await embedder.aclose()
    assert np.allclose(vectors[0], expected("hello")) and len(server.requests) == 2


async def test_gives_up_after_num_retries_naming_the_status_never_the_key(server: FakeEmbeddings) -> None:
    server.fail(503, times=10, body={"error": {"message": f"overloaded (key {KEY})"}})
    embedder = OpenAICompatibleEmbedder(config(server, num_retries=2))
    with pytest.raises(StoreUnavailableError) as info:
        await embedder.embed(["x"])
    await embedder.aclose()
    assert "answered HTTP 503 after 3 attempts: overloaded (key ***)" in str(info.value)
    assert KEY not in str(info.value) and len(server.requests) == 3


async def test_do_auto_retry_false_makes_one_attempt(server: FakeEmbeddings) -> None:
    server.fail(429, times=10, retry_after="0")
    embedder = OpenAICompatibleEmbedder(config(server, do_auto_retry=False))
    with pytest.raises(StoreUnavailableError, match=r"answered HTTP 429: injected HTTP 429"):
        await embedder.embed(["x"])
    await embedder.aclose()
    assert len(server.requests) == 1


def test_retry_settings_names_and_defaults() -> None:
    defaults = OpenAIEmbedderConfig(model_name="m")
    assert (defaults.num_retries, defaults.retry_on_status_codes, defaults.do_auto_retry, defaults.retry_backoff,
            defaults.max_retry_wait) == (3, [408, 429, 500, 502, 503, 504], True, 0.5, 20.0)
    assert OpenAIEmbedderConfig(model_name="m", max_retries=7).num_retries == 7  # the older name
    parsed = parse_config("""
embedders:
  e:
    _type: openai
    model_name: m
    max_retries: 4
    retry_backoff: 0.1
    retry_on_status_codes: [429]
    do_auto_retry: false
""")
    assert parsed.warnings == []
    policy = parsed.embedders["e"].retry_policy()
    assert (policy.num_retries, policy.retry_on, policy.backoff) == (0, frozenset({429}), 0.1)
