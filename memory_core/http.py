"""JSON over HTTP for hosted stores: one ``httpx.AsyncClient``, retries with backoff, and errors that name the
store and the operation but never the API key."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
from typing import Any

import httpx
from pydantic import BaseModel, Field

from memory_core.embedders.openai import retry_after
from memory_core.errors import InvalidInputError, NotFoundError, StoreUnavailableError

# One TLS context per process: building one costs ~0.1 s, and every store opens a client.
tls_context = functools.cache(httpx.create_ssl_context)

# Failures after which the request surely never reached the server: safe to retry even a write.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ConflictError(InvalidInputError):
    """The service answered 409: what was to be created exists already."""


@dataclasses.dataclass(frozen=True)
class Answer:
    """A decoded JSON answer (``None`` for an empty body) and the response headers."""

    data: Any
    headers: httpx.Headers


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Statuses in ``retry_on`` are retried ``num_retries`` times, waiting ``backoff * 2**n`` seconds or the
    server's ``Retry-After``, never more than ``max_wait``."""

    num_retries: int
    retry_on: frozenset[int]
    backoff: float
    max_wait: float

    def wait(self, attempt: int, response: httpx.Response | None) -> float:
        wait = retry_after(response.headers) if response is not None else None
        if wait is None:
            wait = self.backoff * 2 ** attempt
        return min(max(wait, 0.0), self.max_wait)


class RetrySettings(BaseModel):
    """The retry fields of every hosted store's config (the toolkit's ``RetryMixin`` names, plus memdash's waits)."""

    num_retries: int = Field(default=5, ge=0, le=20, description="Retries after a retryable status or network "
                                                                 "error.")
    retry_on_status_codes: list[int] = Field(default_factory=lambda: [429, 500, 502, 503, 504],
                                             description="HTTP statuses that are retried.")
    do_auto_retry: bool = Field(default=True, description="False turns every retry off.")
    retry_backoff: float = Field(default=0.5, ge=0, description="First wait between retries; doubles each time.")
    max_retry_wait: float = Field(default=30.0, ge=0, description="Longest single wait, Retry-After included.")

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(num_retries=self.num_retries if self.do_auto_retry else 0,
                           retry_on=frozenset(self.retry_on_status_codes), backoff=self.retry_backoff,
                           max_wait=self.max_retry_wait)


class JsonHttp:
    """One hosted service's API root. Network errors are retried too, except a timeout (reported at once:
    waiting the timeout again and again helps nobody) and a failure of a write whose request may have reached
    the server (an add could be stored twice). Subclasses set the service name and how errors read."""

    service = "hosted"
    key_env = "the API key"

    def __init__(self, *, root: str, api_key: str, headers: dict[str, str], timeout: float, policy: RetryPolicy,
                 follow_redirects: bool = False, scope: dict[str, str] | None = None) -> None:
        self.root = root.rstrip("/")
        self._key = api_key
        self._timeout = timeout
        self._policy = policy
        self._scope = scope or {}
        self._client = httpx.AsyncClient(base_url=self.root + "/", headers={"Accept": "application/json", **headers},
                                         verify=tls_context(), follow_redirects=follow_redirects,
                                         timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, operation: str, method: str, path: str, *, json: Any = None,
                   params: dict[str, Any] | None = None, write: bool = False) -> Any:
        """The decoded JSON answer of one request; ``write`` marks a request that must not be sent twice."""
        return (await self.answer(operation, method, path, json=json, params=params, write=write)).data

    async def find(self, operation: str, path: str) -> dict[str, Any] | None:
        """One object by ``GET``, or ``None`` when the service answers 404."""
        try:
            found = await self.call(operation, "GET", path)
        except NotFoundError:
            return None
        if not isinstance(found, dict):
            raise self.unavailable(operation, "unexpected answer (not an object)")
        return found

    async def answer(self, operation: str, method: str, path: str, *, json: Any = None,
                     params: dict[str, Any] | None = None, write: bool = False) -> Answer:
        """Like :meth:`call`, with the response headers (e.g. a paging cursor)."""
        params = {**self._scope, **{k: v for k, v in (params or {}).items() if v is not None}}
        for attempt in itertools.count():
            final = attempt >= self._policy.num_retries
            response = None
            try:
                response = await self._client.request(method, path.lstrip("/"), json=json, params=params)
            except httpx.TransportError as exc:
                sent = not isinstance(exc, NOT_SENT)
                if final or (sent and (write or isinstance(exc, httpx.TimeoutException))):
                    raise self._transport_error(operation, exc, attempt + 1, write) from None
            if response is not None and (final or response.status_code not in self._policy.retry_on):
                return Answer(self._checked(operation, response, attempt + 1), response.headers)
            await asyncio.sleep(self._policy.wait(attempt, response))
        raise AssertionError("unreachable")

    def unavailable(self, operation: str, reason: str) -> StoreUnavailableError:
        return StoreUnavailableError(f"{self._where}: {operation} failed: {self._mask(reason)}")

    @property
    def _where(self) -> str:
        return f"{self.service} store at {self.root}"

    def _checked(self, operation: str, response: httpx.Response, attempts: int) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise self.unavailable(operation, f"the API key was rejected (HTTP {status}); check api_key or "
                                              f"{self.key_env}")
        if status == 404:
            raise NotFoundError(f"{self._where}: {operation}: {self._detail(response)}")
        if status == 409:
            raise ConflictError(f"{self._where}: {operation}: {self._detail(response)}")
        if status in (400, 413, 422):
            raise InvalidInputError(f"{self._where}: {operation} was refused (HTTP {status}): "
                                    f"{self._detail(response)}")
        if status >= 300:
            raise self.unavailable(operation, f"HTTP {status}{_tries(attempts)}: {self._detail(response)}")
        try:
            return response.json() if response.content else None
        except ValueError:
            raise self.unavailable(operation, f"HTTP {status} with a body that is not JSON") from None

    def _transport_error(self, operation: str, exc: httpx.TransportError, attempts: int,
                         write: bool) -> StoreUnavailableError:
        maybe = "; it may have been applied, check before retrying" if write else ""
        if isinstance(exc, NOT_SENT):
            return self.unavailable(operation, f"host unreachable ({type(exc).__name__}: {exc}){_tries(attempts)}")
        if isinstance(exc, httpx.TimeoutException):
            return self.unavailable(operation, f"no answer within the {self._timeout:g} s timeout"
                                               f"{_tries(attempts)}{maybe}")
        return self.unavailable(operation, f"connection lost ({type(exc).__name__}: {exc}){_tries(attempts)}{maybe}")

    def error_message(self, body: dict[str, Any]) -> Any:
        """The service's message inside an error body (subclasses know where it is)."""
        return body.get("message") or body

    def _detail(self, response: httpx.Response) -> str:
        """The error message or the body, one line, at most 300 characters, key masked."""
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if isinstance(body, dict):
            body = self.error_message(body)
        text = " ".join(str(body).split())[:300]
        return self._mask(text) or f"HTTP {response.status_code}"

    def _mask(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


def _tries(attempts: int) -> str:
    return f" after {attempts} attempts" if attempts > 1 else ""
