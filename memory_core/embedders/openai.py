"""``openai`` and ``nim``: any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, NVIDIA NIM, vLLM...).

Config fields follow the toolkit's embedder configs (``model_name`` or ``model``, ``base_url``, ``api_key``,
its ``RetryMixin``'s ``num_retries``, ``retry_on_status_codes`` and ``do_auto_retry``; ``max_retries``, the
older name, is accepted for ``num_retries``). The key falls back to ``OPENAI_API_KEY`` / ``NVIDIA_API_KEY``
and is never written to a message. One ``httpx.AsyncClient`` per embedder, closed when the builder exits.
Retries follow :mod:`memory_core.http`'s policy, the stores' own: the statuses in ``retry_on_status_codes``
(408, 429 and 5xx here) and network errors, timeouts included (an embedding request is safe to send twice),
with exponential backoff, honouring ``Retry-After`` (and OpenAI's ``retry-after-ms``) up to
``max_retry_wait`` seconds.

Unless ``dimensions`` is set, building the embedder sends one probe request so ``dimension`` and
``model_id`` (``"{base_url}|{model_name}|{dimension}"``) are known before a store needs them. NIM retrieval
models need ``input_type``: ``nim`` sends ``"query"`` by default (what the toolkit's stores get from
LangChain's ``embed_query`` for both memories and queries), ``openai`` sends none.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal

import httpx
import numpy as np
from pydantic import AliasChoices, ConfigDict, Field, SecretStr

from memory_core.embedders.base import Embedder, normalise
from memory_core.errors import ConfigError, InvalidInputError, StoreUnavailableError
from memory_core.http import GaveUp, RetrySettings, tries
from memory_core.registry import register_embedder
from memory_core.typed import EmbedderBaseConfig

OPENAI_URL = "https://api.openai.com/v1"
NIM_URL = "https://integrate.api.nvidia.com/v1"
BAD_REQUEST_STATUS = frozenset({400, 413, 422})
PROBE_TEXT = "dimension probe"


class OpenAICompatibleConfig(EmbedderBaseConfig, RetrySettings):
    """Fields shared by every OpenAI-compatible embeddings endpoint."""

    model_config = ConfigDict(protected_namespaces=())
    api_key_env: ClassVar[str] = "OPENAI_API_KEY"
    hosted_url: ClassVar[str] = OPENAI_URL

    model_name: str = Field(validation_alias=AliasChoices("model_name", "model"), description="Embedding model.")
    base_url: str = Field(default=OPENAI_URL, description="API root, up to and including /v1.")
    api_key: SecretStr | None = Field(default=None, description="API key; else read from the environment.")
    timeout: float = Field(default=30.0, gt=0, description="Seconds per request (read, write and pool).")
    # RetrySettings' fields with the embedder's own defaults (as before the mixin): a search waits for its
    # embedding, so fewer and shorter retries than a store's; 408 is retried too
    num_retries: int = Field(default=3, ge=0, le=20, validation_alias=AliasChoices("num_retries", "max_retries"),
                             description="Retries after a retryable status or network error.")
    retry_on_status_codes: list[int] = Field(default_factory=lambda: [408, 429, 500, 502, 503, 504],
                                             description="HTTP statuses that are retried.")
    max_retry_wait: float = Field(default=20.0, ge=0, description="Longest single wait, Retry-After included.")
    dimensions: int | None = Field(default=None, ge=1, description="Requested vector length (OpenAI v3 models).")
    batch_size: int = Field(default=64, ge=1, le=2048, description="Texts per request.")
    input_type: str | None = Field(default=None, description="Sent as input_type when set (NIM: query/passage).")

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/")

    def resolved_api_key(self) -> str | None:
        if self.api_key is not None:
            return self.api_key.get_secret_value() or None
        return os.environ.get(self.api_key_env) or None

    def request_fields(self) -> dict[str, Any]:
        """Body fields besides ``model`` and ``input``."""
        fields: dict[str, Any] = {}
        if self.dimensions is not None:
            fields["dimensions"] = self.dimensions
        if self.input_type is not None:
            fields["input_type"] = self.input_type
        return fields


class OpenAIEmbedderConfig(OpenAICompatibleConfig, name="openai"):
    """OpenAI's embeddings API or any server that speaks it (vLLM, llama.cpp, LiteLLM...)."""


class NIMEmbedderConfig(OpenAICompatibleConfig, name="nim"):
    """An NVIDIA NIM embedding model, hosted (build.nvidia.com) or self-hosted."""

    api_key_env: ClassVar[str] = "NVIDIA_API_KEY"
    hosted_url: ClassVar[str] = NIM_URL

    base_url: str = Field(default=NIM_URL, description="API root, up to and including /v1.")
    input_type: str | None = Field(default="query", description="NIM retrieval models need query or passage.")
    truncate: Literal["NONE", "START", "END"] = Field(default="NONE", description="Server-side truncation.")

    def request_fields(self) -> dict[str, Any]:
        return {**super().request_fields(), "truncate": self.truncate}


class OpenAICompatibleEmbedder(Embedder):
    """Embeds through ``POST {base_url}/embeddings``; vectors come back L2-normalised, empty texts as zeros."""

    def __init__(self, config: OpenAICompatibleConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._key = config.resolved_api_key()
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        timeout = httpx.Timeout(config.timeout, connect=min(config.timeout, 10.0))
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout, transport=transport)
        self._policy = config.retry_policy()
        self._dimension = config.dimensions

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            raise RuntimeError("the embedding dimension is known after the first embed() call")
        return self._dimension

    @property
    def model_id(self) -> str:
        return f"{self.config.url}|{self.config.model_name}|{self.dimension}"

    async def embed(self, texts: list[str]) -> np.ndarray:
        sent = [i for i, text in enumerate(texts) if text.strip()]
        size = self.config.batch_size
        batches = [await self._embed_batch([texts[i] for i in sent[start:start + size]])
                   for start in range(0, len(sent), size)]
        if self._dimension is None:
            await self._embed_batch([PROBE_TEXT])
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if sent:
            vectors[sent] = np.concatenate(batches)
        return vectors

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _embed_batch(self, texts: list[str]) -> np.ndarray:
        body = {"model": self.config.model_name, "input": texts, **self.config.request_fields()}
        payload = await self._post(body)
        try:
            rows = sorted(payload["data"], key=lambda row: row["index"])
            vectors = np.array([row["embedding"] for row in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise self._unavailable(f"answered with an unexpected body ({type(exc).__name__}: {exc})") from None
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise self._unavailable(f"returned {len(vectors)} vectors for {len(texts)} texts")
        if self._dimension is not None and vectors.shape[1] != self._dimension:
            raise self._unavailable(f"returned {vectors.shape[1]}-d vectors, expected {self._dimension}")
        self._dimension = vectors.shape[1]
        return normalise(vectors)

    async def _post(self, body: dict[str, Any]) -> Any:
        url = f"{self.config.url}/embeddings"
        try:
            response, attempts = await self._policy.send(lambda: self._client.post(url, json=body),
                                                         retry_timeouts=True)
        except GaveUp as failure:
            exc = failure.error
            raise self._unavailable(f"is unreachable ({type(exc).__name__}: {exc}){tries(failure.attempts)}"
                                    ) from None
        return self._checked(response, attempts=attempts)

    def _checked(self, response: httpx.Response, *, attempts: int) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise self._unavailable(f"rejected the API key (HTTP {status}); check api_key or "
                                    f"{self.config.api_key_env}")
        if status in BAD_REQUEST_STATUS:
            raise InvalidInputError(f"embedder at {self.config.url} refused the request (HTTP {status}): "
                                    f"{self._detail(response)}")
        if status >= 400:
            raise self._unavailable(f"answered HTTP {status}{tries(attempts)}: {self._detail(response)}")
        try:
            return response.json()
        except ValueError:
            raise self._unavailable("answered with a body that is not JSON") from None

    def _detail(self, response: httpx.Response) -> str:
        """The server's error message, shortened, with the API key masked should the server echo it."""
        try:
            error = response.json().get("error", response.text)
            text = str(error.get("message", error) if isinstance(error, dict) else error)
        except (ValueError, AttributeError):
            text = response.text
        text = text[:300]
        return text.replace(self._key, "***") if self._key else text

    def _unavailable(self, what: str) -> StoreUnavailableError:
        return StoreUnavailableError(f"embedder at {self.config.url} {what}")


async def _openai_compatible(config: OpenAICompatibleConfig, builder: object
                             ) -> AsyncIterator[OpenAICompatibleEmbedder]:
    if config.url == config.hosted_url and config.resolved_api_key() is None:
        raise ConfigError(f"{config.url} needs an API key: set api_key or the {config.api_key_env} variable")
    embedder = OpenAICompatibleEmbedder(config)
    try:
        if config.dimensions is None:
            await embedder.embed([PROBE_TEXT])
        yield embedder
    finally:
        await embedder.aclose()


openai_embedder = register_embedder(OpenAIEmbedderConfig)(_openai_compatible)
nim_embedder = register_embedder(NIMEmbedderConfig)(_openai_compatible)
