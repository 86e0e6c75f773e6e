"""How the store talks to Zep: one ``httpx.AsyncClient``, retries with backoff, and errors that name the store
and the operation but never the API key."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
from typing import Any
from urllib.parse import quote

import httpx

from memory_core.embedders.openai import retry_after
from memory_core.errors import InvalidInputError, NotFoundError, StoreUnavailableError

# One TLS context per process: building one costs ~0.1 s, and every store opens a client.
tls_context = functools.cache(httpx.create_ssl_context)

# Failures after which the request surely never reached the server: safe to retry even a write.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
NEXT_CURSOR = "Zep-Next-Cursor"  # the header carrying the opaque cursor of the next page of a listing


class ConflictError(InvalidInputError):
    """Zep answered 409: what was to be created exists already."""


@dataclasses.dataclass(frozen=True)
class Answer:
    """A decoded JSON answer and the cursor of the next page, when Zep sent one."""

    data: Any
    next_cursor: str | None = None


def seg(value: str) -> str:
    """One path segment, percent-encoded: user and thread ids may hold ``/``, ``?``, spaces..."""
    return quote(str(value), safe="")


class ZepHttp:
    """JSON over HTTP to Zep's v3 API root (``<host>/api/v2``) with ``Authorization: Api-Key <key>``, as the
    official ``zep-cloud`` SDK sends it.

    Statuses in ``retry_on`` (429 and 5xx by default) are retried ``num_retries`` times, waiting
    ``backoff * 2**n`` seconds or the server's ``Retry-After``, never more than ``max_wait``. Network errors are
    retried too, except a timeout (reported at once: waiting ``timeout`` again and again helps nobody) and a
    failure of a write whose request may have reached the server (messages would be added twice).
    """

    def __init__(self, *, api_root: str, api_key: str, timeout: float, follow_redirects: bool, num_retries: int,
                 retry_on: frozenset[int], backoff: float, max_wait: float) -> None:
        self.api_root = api_root
        self._key = api_key
        self._timeout = timeout
        self._retries, self._retry_on, self._backoff, self._max_wait = num_retries, retry_on, backoff, max_wait
        headers = {"Authorization": f"Api-Key {api_key}", "Accept": "application/json"}
        self._client = httpx.AsyncClient(base_url=api_root + "/", headers=headers, verify=tls_context(),
                                         follow_redirects=follow_redirects,
                                         timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, operation: str, method: str, path: str, *, json: Any = None,
                   params: dict[str, Any] | None = None, write: bool = False) -> Any:
        """The decoded JSON answer of one request; ``write`` marks a request that must not be sent twice."""
        return (await self.answer(operation, method, path, json=json, params=params, write=write)).data

    async def answer(self, operation: str, method: str, path: str, *, json: Any = None,
                     params: dict[str, Any] | None = None, write: bool = False) -> Answer:
        """Like :meth:`call`, with the ``Zep-Next-Cursor`` header of a paged listing."""
        params = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in itertools.count():
            final = attempt >= self._retries
            response = None
            try:
                response = await self._client.request(method, path.lstrip("/"), json=json, params=params)
            except httpx.TransportError as exc:
                sent = not isinstance(exc, NOT_SENT)
                if final or (sent and (write or isinstance(exc, httpx.TimeoutException))):
                    raise self._transport_error(operation, exc, attempt + 1, write) from None
            if response is not None and (final or response.status_code not in self._retry_on):
                return Answer(self._checked(operation, response, attempt + 1), response.headers.get(NEXT_CURSOR))
            await asyncio.sleep(self._wait(attempt, response))
        raise AssertionError("unreachable")

    def unavailable(self, operation: str, reason: str) -> StoreUnavailableError:
        return StoreUnavailableError(f"zep store at {self.api_root}: {operation} failed: {self._mask(reason)}")

    def _checked(self, operation: str, response: httpx.Response, attempts: int) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise self.unavailable(operation, f"the API key was rejected (HTTP {status}); check api_key or "
                                              f"ZEP_API_KEY")
        if status == 404:
            raise NotFoundError(f"zep store at {self.api_root}: {operation}: {self._detail(response)}")
        if status == 409:
            raise ConflictError(f"zep store at {self.api_root}: {operation}: {self._detail(response)}")
        if status in (400, 413, 422):
            raise InvalidInputError(f"zep store at {self.api_root}: {operation} was refused (HTTP {status}): "
                                    f"{self._detail(response)}")
        if status >= 300:
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            raise self.unavailable(operation, f"HTTP {status}{tries}: {self._detail(response)}")
        try:
            return response.json() if response.content else None
        except ValueError:
            raise self.unavailable(operation, f"HTTP {status} with a body that is not JSON") from None

    def _transport_error(self, operation: str, exc: httpx.TransportError, attempts: int,
                         write: bool) -> StoreUnavailableError:
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        maybe = "; it may have been applied, check before retrying" if write else ""
        if isinstance(exc, NOT_SENT):
            return self.unavailable(operation, f"host unreachable ({type(exc).__name__}: {exc}){tries}")
        if isinstance(exc, httpx.TimeoutException):
            return self.unavailable(operation, f"no answer within the {self._timeout:g} s timeout{tries}{maybe}")
        return self.unavailable(operation, f"connection lost ({type(exc).__name__}: {exc}){tries}{maybe}")

    def _wait(self, attempt: int, response: httpx.Response | None) -> float:
        wait = retry_after(response.headers) if response is not None else None
        if wait is None:
            wait = self._backoff * 2 ** attempt
        return min(max(wait, 0.0), self._max_wait)

    def _detail(self, response: httpx.Response) -> str:
        """Zep's error message (``{"message": ...}``) or the body, one line, at most 300 characters."""
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if isinstance(body, dict):
            body = body.get("message") or body
        text = " ".join(str(body).split())[:300]
        return self._mask(text) or f"HTTP {response.status_code}"

    def _mask(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text
