"""HTTP to hosted services with one retry policy: the stores (JSON over :class:`JsonHttp`), the
OpenAI-compatible embedders and the LLM client all take :class:`RetrySettings` in their config and send through
:meth:`RetryPolicy.send`, the one retry loop (backoff doubling from ``retry_backoff``, a server's
``Retry-After`` honoured, no wait longer than ``max_retry_wait``). Errors name the service and the operation,
never the API key."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email.utils
import functools
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic import BaseModel, Field

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


class GaveUp(Exception):
    """A network error ended the retries: the last ``error`` and how many ``attempts`` were made."""

    def __init__(self, error: httpx.TransportError, attempts: int) -> None:
        super().__init__(f"{type(error).__name__} after {attempts} attempt(s)")
        self.error, self.attempts = error, attempts


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

    async def send(self, request: Callable[[], Awaitable[httpx.Response]], *, resend: bool = True,
                   retry_timeouts: bool = False) -> tuple[httpx.Response, int]:
        """The first answer whose status is not retried (or the last one), and the number of attempts.

        A network error is retried when the request surely never left (:data:`NOT_SENT`); one that may have
        reached the server only when ``resend`` (the request does no harm twice) and, for a timeout, only when
        ``retry_timeouts``. A network error that is not retried raises :class:`GaveUp`. An answer that is
        retried is closed first, so ``request`` may open a stream: the answer returned has not been read."""
        for attempt in itertools.count():
            final = attempt >= self.num_retries
            response = None
            try:
                response = await request()
            except httpx.TransportError as exc:
                sent = not isinstance(exc, NOT_SENT)
                timeout = isinstance(exc, httpx.TimeoutException)
                if final or (sent and (not resend or (timeout and not retry_timeouts))):
                    raise GaveUp(exc, attempt + 1) from None
            if response is not None:
                if final or response.status_code not in self.retry_on:
                    return response, attempt + 1
                await response.aclose()
            await asyncio.sleep(self.wait(attempt, response))
        raise AssertionError("unreachable")


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds a server asked us to wait: ``retry-after-ms`` (OpenAI's), or ``Retry-After`` as seconds or an
    HTTP date."""
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            value = headers["retry-after"]
            try:
                return float(value)
            except ValueError:
                when = email.utils.parsedate_to_datetime(value)
                return (when - dt.datetime.now(dt.UTC)).total_seconds()
    except (ValueError, TypeError):
        return None
    return None


def tries(attempts: int) -> str:
    """`` after N attempts`` for a message, when there was more than one."""
    return f" after {attempts} attempts" if attempts > 1 else ""


class RetrySettings(BaseModel):
    """The retry fields of every config of an HTTP client: hosted stores, OpenAI-compatible embedders, ``llms:``
    entries (the toolkit's ``RetryMixin`` names, plus memdash's waits). A client whose calls are cheaper to
    fail than to wait for redeclares a field with its own default (the embedders, the LLM client)."""

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
    """One hosted store's API root. Network errors are retried too, except a timeout (reported at once:
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
        try:
            response, attempts = await self._policy.send(
                lambda: self._client.request(method, path.lstrip("/"), json=json, params=params), resend=not write)
        except GaveUp as failure:
            raise self._transport_error(operation, failure.error, failure.attempts, write) from None
        return Answer(self._checked(operation, response, attempts), response.headers)

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
            raise self.unavailable(operation, f"HTTP {status}{tries(attempts)}: {self._detail(response)}")
        try:
            return response.json() if response.content else None
        except ValueError:
            raise self.unavailable(operation, f"HTTP {status} with a body that is not JSON") from None

    def _transport_error(self, operation: str, exc: httpx.TransportError, attempts: int,
                         write: bool) -> StoreUnavailableError:
        maybe = "; it may have been applied, check before retrying" if write else ""
        if isinstance(exc, NOT_SENT):
            return self.unavailable(operation, f"host unreachable ({type(exc).__name__}: {exc}){tries(attempts)}")
        if isinstance(exc, httpx.TimeoutException):
            return self.unavailable(operation, f"no answer within the {self._timeout:g} s timeout"
                                               f"{tries(attempts)}{maybe}")
        return self.unavailable(operation, f"connection lost ({type(exc).__name__}: {exc}){tries(attempts)}{maybe}")

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

