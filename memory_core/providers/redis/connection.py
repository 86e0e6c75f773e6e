"""The Redis client of the store: RESP3, one retry on a lost connection, errors that say what went wrong."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis import exceptions as rx
from redis.backoff import NoBackoff
from redis.retry import Retry

from memory_core.errors import StoreUnavailableError

T = TypeVar("T")

TIMEOUT_S = 5.0  # socket timeouts, as the toolkit's client
QUERY_TIMEOUT_MS = 30_000  # FT.SEARCH / FT.AGGREGATE; the server default (500 ms) silently truncates results


class Link:
    """A client plus the rule every call follows: a dropped connection is retried once on a fresh one, then
    reported as :class:`StoreUnavailableError`; a rejected password is reported without echoing it."""

    def __init__(self, client: aioredis.Redis, where: str, password: str | None) -> None:
        self.client = client
        self.where = where
        self._password = password

    @classmethod
    def connect(cls, host: str, port: int, db: int, password: str | None) -> Link:
        client = aioredis.Redis(host=host, port=port, db=db, password=password, decode_responses=True, protocol=3,
                                socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S,
                                retry=Retry(NoBackoff(), 0))
        return cls(client, f"{host}:{port}/{db}", password)

    async def run(self, op: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """``op(client)``, retried once when the connection drops (every write is atomic, so a retry never
        leaves half a write behind)."""
        for attempt in (1, 2):
            try:
                return await op(self.client)
            except rx.AuthenticationError as exc:
                raise self._auth_error(exc) from None
            except rx.ResponseError as exc:
                if _is_auth(exc):
                    raise self._auth_error(exc) from None
                raise
            except (rx.ConnectionError, rx.TimeoutError, OSError) as exc:
                if attempt == 2:
                    raise StoreUnavailableError(f"redis at {self.where}: {self._scrub(exc)} (retried once)") from None
        raise AssertionError("unreachable")

    async def execute(self, *args: Any) -> Any:
        return await self.run(lambda client: client.execute_command(*args))

    async def query(self, command: str, index: str, *args: Any, dialect: int = 2) -> dict[str, Any]:
        """``FT.SEARCH``/``FT.AGGREGATE`` with a generous timeout; a truncated answer is an error, not data."""
        reply = await self.execute(command, index, *args, "TIMEOUT", QUERY_TIMEOUT_MS, "DIALECT", dialect)
        body = reply[0] if isinstance(reply, list) else reply
        for warning in body.get("warning") or []:
            if "timeout" in str(warning).lower():
                raise StoreUnavailableError(f"redis at {self.where}: query on {index} timed out: {warning}")
        return reply

    async def aclose(self) -> None:
        await self.client.aclose()

    def _auth_error(self, exc: Exception) -> StoreUnavailableError:
        reason = "rejected the password" if self._password else "needs a password (none configured)"
        return StoreUnavailableError(f"redis at {self.where} {reason}: {self._scrub(exc)}")

    def _scrub(self, exc: Exception) -> str:
        text = str(exc) or type(exc).__name__
        return text.replace(self._password, "***") if self._password else text


def _is_auth(exc: rx.ResponseError) -> bool:
    text = str(exc)
    return text.startswith(("NOAUTH", "WRONGPASS")) or "AUTH" in text.split(" ", 2)[:2] or "authenticated" in text
