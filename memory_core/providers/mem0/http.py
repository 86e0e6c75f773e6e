"""How the store talks to Mem0: one ``httpx.AsyncClient``, retries with backoff, and errors that name the store
and the operation but never the API key."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from typing import Any

import httpx

from memory_core.embedders.openai import retry_after
from memory_core.errors import InvalidInputError, NotFoundError, StoreUnavailableError

# One TLS context per process: building one costs ~0.1 s, and every store opens a client.
tls_context = functools.cache(httpx.create_ssl_context)

# Failures after which the request surely never reached the server: safe to retry even a write.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Mem0Http:
    """JSON over HTTP to one Mem0 host with ``Authorization: Token <key>``, as the official SDK sends it.

    429 and the configured 5xx answers are retried ``num_retries`` times, waiting ``retry_backoff * 2**n``
    seconds or the server's ``Retry-After``, never more than ``max_retry_wait``. Network errors are retried
    too, except for a write whose request may have reached the server (an add could be stored twice).
    A timeout is not retried: it is reported at once.
    """

    def __init__(self, *, host: str, api_key: str, timeout: float, num_retries: int, retry_on: frozenset[int],
                 backoff: float, max_wait: float, scope: dict[str, str]) -> None:
        self.host = host
        self._key = api_key
        self._timeout = timeout
        self._retries, self._retry_on, self._backoff, self._max_wait = num_retries, retry_on, backoff, max_wait
        self._scope = scope
        headers = {"Authorization": f"Token {api_key}", "Mem0-User-ID": hashlib.md5(api_key.encode()).hexdigest(),
                   "Accept": "application/json"}
        self._client = httpx.AsyncClient(base_url=host, headers=headers, verify=tls_context(),
                                         timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, operation: str, method: str, path: str, *, json: Any = None,
                   params: dict[str, Any] | None = None, write: bool = False) -> Any:
        """The decoded JSON answer of one request; ``write`` marks a request that must not be sent twice."""
        params = {**self._scope, **(params or {})}
        attempt = 0
        while True:
            attempt += 1
            final = attempt > self._retries
            response = None
            try:
                response = await self._client.request(method, path, json=json, params=params)
            except httpx.TimeoutException as exc:  # waiting again would only multiply the wait
                raise self._timed_out(operation, exc, write) from None
            except httpx.TransportError as exc:
                if final or (write and not isinstance(exc, NOT_SENT)):
                    reason = f"host unreachable ({type(exc).__name__}: {exc}){_tries(attempt)}"
                    raise self.unavailable(operation, reason) from None
            if response is not None and (final or response.status_code not in self._retry_on):
                return self._checked(operation, response, attempt)
            await asyncio.sleep(self._wait(attempt - 1, response))

    def unavailable(self, operation: str, reason: str) -> StoreUnavailableError:
        return StoreUnavailableError(f"mem0 store at {self.host}: {operation} failed: {self._mask(reason)}")

    def _checked(self, operation: str, response: httpx.Response, attempts: int) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise self.unavailable(operation, f"the API key was rejected (HTTP {status}); check api_key or "
                                              f"MEM0_API_KEY")
        if status == 404:
            raise NotFoundError(f"mem0 store at {self.host}: {operation}: {self._detail(response)}")
        if status in (400, 422):
            raise InvalidInputError(f"mem0 store at {self.host}: {operation} was refused (HTTP {status}): "
                                    f"{self._detail(response)}")
        if status >= 300:
            raise self.unavailable(operation, f"HTTP {status}{_tries(attempts)}: {self._detail(response)}")
        try:
            return response.json()
        except ValueError:
            raise self.unavailable(operation, f"HTTP {status} with a body that is not JSON") from None

    def _timed_out(self, operation: str, exc: httpx.TimeoutException, write: bool) -> StoreUnavailableError:
        maybe = "; it may have been applied, check before retrying" if write and not isinstance(exc, NOT_SENT) else ""
        return self.unavailable(operation, f"no answer within the {self._timeout:g} s timeout{maybe}")

    def _wait(self, attempt: int, response: httpx.Response | None) -> float:
        wait = retry_after(response.headers) if response is not None else None
        if wait is None:
            wait = self._backoff * 2 ** attempt
        return min(max(wait, 0.0), self._max_wait)

    def _detail(self, response: httpx.Response) -> str:
        """Mem0's error message (``detail``, ``error``, ``message`` or the body), one line, at most 300 chars."""
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if isinstance(body, dict):
            nested = body.get("details") if isinstance(body.get("details"), dict) else {}
            body = body.get("detail") or nested.get("message") or body.get("message") or body.get("error") or body
        text = " ".join(str(body).split())[:300]
        return self._mask(text) or f"HTTP {response.status_code}"

    def _mask(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


def _tries(attempts: int) -> str:
    return f" after {attempts} attempts" if attempts > 1 else ""
