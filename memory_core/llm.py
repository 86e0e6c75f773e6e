"""An OpenAI-compatible chat client configured like the toolkit's ``llms:`` entries, streaming over httpx.

``llms: {name: {_type: nim|openai, base_url, model_name, api_key, temperature}}``; ``api_key`` may be a
``${VAR}`` reference (resolved by :mod:`memory_core.config`) and is held as a ``SecretStr``. Replies stream
as server-sent events (``data: {json}`` lines, ``data: [DONE]`` at the end); :func:`stream_chat` yields the
text deltas.

Retries are :mod:`memory_core.http`'s, as for the stores and embedders, with the same fields (``num_retries``,
``retry_on_status_codes``, ``do_auto_retry``, ``retry_backoff``, ``max_retry_wait``), for the request that
starts the stream only: a retryable status, or a network error before the answer's headers (a timeout
excepted: waiting the timeout again helps nobody), is retried; once the reply has started nothing is sent
again (the text already yielded would be repeated).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any, Literal

import httpx
from pydantic import ConfigDict, Field, SecretStr, ValidationError

from memory_core.config import MemdashConfig
from memory_core.errors import ConfigError, StoreUnavailableError
from memory_core.http import GaveUp, RetrySettings, tries

DEFAULT_URLS = {"nim": "https://integrate.api.nvidia.com/v1", "openai": "https://api.openai.com/v1"}


class LlmConfig(RetrySettings):
    """One ``llms:`` entry (unknown keys ignored, as the toolkit's own configs do for memdash)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: Literal["nim", "openai"] = Field(alias="_type")
    model_name: str
    base_url: str | None = None
    api_key: SecretStr | None = None
    temperature: float | None = None
    timeout: float = 60.0
    # RetrySettings' field; someone is waiting for the reply (the Playground falls back to its offline agent)
    num_retries: int = Field(default=2, ge=0, le=20, description="Retries after a retryable status or network "
                                                                 "error, before the reply starts.")

    @property
    def url(self) -> str:
        return (self.base_url or DEFAULT_URLS[self.type]).rstrip("/") + "/chat/completions"


def llm_config(config: MemdashConfig, name: str) -> LlmConfig:
    """The ``llms.<name>`` entry of a loaded config; ``ConfigError`` names the field."""
    raw = config.llms.get(name)
    if not isinstance(raw, dict):
        raise ConfigError(f"no llm '{name}' in the config's llms: section", field=f"llms.{name}")
    try:
        return LlmConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(first["msg"], field=".".join(["llms", name, *map(str, first["loc"])])) from None


def _body(config: LlmConfig, messages: Sequence[dict[str, str]]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": config.model_name, "messages": list(messages), "stream": True}
    if config.temperature is not None:
        body["temperature"] = config.temperature
    return body


def _headers(config: LlmConfig) -> dict[str, str]:
    headers = {"Accept": "text/event-stream"}
    if config.api_key is not None:
        headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
    return headers


def sse_delta(line: str) -> str | None:
    """The text delta of one SSE line ('' for events without text, ``None`` at ``[DONE]``)."""
    if not line.startswith("data:"):
        return ""
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    choices = json.loads(data).get("choices") or [{}]
    return (choices[0].get("delta") or {}).get("content") or ""


async def stream_chat(config: LlmConfig, messages: Sequence[dict[str, str]], *,
                      client: httpx.AsyncClient | None = None) -> AsyncIterator[str]:
    """Stream the model's reply as text chunks; ``StoreUnavailableError`` when the endpoint fails."""
    own = client is None
    client = client or httpx.AsyncClient(timeout=config.timeout)
    key = config.api_key.get_secret_value() if config.api_key is not None else ""
    body, headers = _body(config, messages), _headers(config)

    def start() -> Awaitable[httpx.Response]:
        return client.send(client.build_request("POST", config.url, json=body, headers=headers), stream=True)

    try:
        try:
            reply, attempts = await config.retry_policy().send(start)
        except GaveUp as failure:
            raise StoreUnavailableError(f"llm endpoint {config.url} unreachable{tries(failure.attempts)}: "
                                        f"{_masked(str(failure.error), key)}") from None
        try:
            if reply.status_code >= 400:
                await reply.aread()
                raise StoreUnavailableError(f"llm endpoint answered {reply.status_code}{tries(attempts)}: "
                                            f"{_masked(reply.text[:200], key)}")
            async for line in reply.aiter_lines():
                delta = sse_delta(line)
                if delta is None:
                    return
                if delta:
                    yield delta
        finally:
            await reply.aclose()
    except httpx.HTTPError as exc:
        raise StoreUnavailableError(f"llm endpoint {config.url} unreachable: {_masked(str(exc), key)}") from None
    finally:
        if own:
            await client.aclose()


def _masked(text: str, key: str) -> str:
    return text.replace(key, "***") if key else text


async def chat(config: LlmConfig, messages: Sequence[dict[str, str]], **kwargs: Any) -> str:
    """The whole streamed reply."""
    return "".join([chunk async for chunk in stream_chat(config, messages, **kwargs)])
