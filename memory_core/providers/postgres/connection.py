"""How the store reaches PostgreSQL: the conninfo (password merged in, never shown) and its error messages."""

from __future__ import annotations

import dataclasses

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from memory_core.errors import ConfigError, StoreUnavailableError

APPLICATION_NAME = "memdash"


def build_conninfo(dsn: str, password: str | None) -> str:
    """The DSN (URI or ``key=value``) with ``password`` merged in when given."""
    try:
        return make_conninfo(dsn, **({"password": password} if password else {}))
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"postgres dsn is not a valid connection string: {exc}", field="dsn") from None


@dataclasses.dataclass(frozen=True)
class Server:
    """One PostgreSQL database as the store sees it: where it is and how to talk to it."""

    conninfo: str = dataclasses.field(repr=False)
    connect_timeout: float
    options: str = ""

    @property
    def target(self) -> str:
        """``user@host:port/dbname``, for messages; never the password."""
        params = conninfo_to_dict(self.conninfo)
        host = params.get("host") or params.get("hostaddr") or "localhost"
        where = f"{host}:{params['port']}" if params.get("port") else str(host)
        user = f"{params['user']}@" if params.get("user") else ""
        return f"{user}{where}/{params.get('dbname') or params.get('user') or 'postgres'}"

    def scrub(self, text: str) -> str:
        """``text`` on one line, with the password (if any) masked."""
        secret = conninfo_to_dict(self.conninfo).get("password")
        text = " ".join(str(text).split())
        return text.replace(str(secret), "***") if secret else text

    def unavailable(self, doing: str, exc: BaseException) -> StoreUnavailableError:
        """A ``StoreUnavailableError`` naming the server and the cause, password-free."""
        reason = self.scrub(str(exc)) or type(exc).__name__
        hint = " (check the user name and password)" if "authentication failed" in reason else ""
        return StoreUnavailableError(f"postgres store at {self.target}: {doing} failed: {reason}{hint}")

    def _kwargs(self) -> dict[str, object]:
        return {"autocommit": True, "connect_timeout": max(1, round(self.connect_timeout)),
                "application_name": APPLICATION_NAME, "options": self.options}

    async def connect(self) -> psycopg.AsyncConnection:
        """One autocommit connection; ``StoreUnavailableError`` with the reason when it cannot be made."""
        try:
            return await psycopg.AsyncConnection.connect(self.conninfo, **self._kwargs())
        except psycopg.Error as exc:
            raise self.unavailable("connecting", exc) from None

    async def open_pool(self, min_size: int, max_size: int) -> AsyncConnectionPool:
        """An open pool whose connections are checked before each use (a restarted server is survived)."""
        pool = AsyncConnectionPool(self.conninfo, kwargs=self._kwargs(), min_size=min_size, max_size=max_size,
                                   open=False, check=AsyncConnectionPool.check_connection,
                                   timeout=self.connect_timeout, name="memdash-postgres")
        try:
            await pool.open(wait=True, timeout=self.connect_timeout)
        except psycopg.Error as exc:
            await pool.close()
            raise await self.diagnose(exc) from None
        return pool

    async def diagnose(self, exc: BaseException) -> StoreUnavailableError:
        """Why no pooled connection came: the error of a fresh connection attempt, else the pool's own."""
        try:
            conn = await psycopg.AsyncConnection.connect(self.conninfo, **self._kwargs())
        except psycopg.Error as direct:
            return self.unavailable("connecting", direct)
        await conn.close()
        return self.unavailable("getting a pooled connection", exc)
