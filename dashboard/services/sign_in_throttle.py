"""Failed local sign-ins, counted where every process of the dashboard sees them.

:class:`LoginThrottle` decides; its :class:`Failures` keep the times: in this process (:class:`InProcess`, the
users file's single process) or in the PostgreSQL state's ``sign_in_failures`` table (:class:`PostgresFailures`),
so N processes behind a load balancer allow the attempts of one, not N times as many. No Streamlit here."""

from __future__ import annotations

import collections
import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from dashboard.services.accounts import state_pool
from memory_core.audit.postgres import describe
from memory_core.audit.settings import PostgresState
from memory_core.errors import MemdashError

Key = tuple[str, ...]


class Failures(ABC):
    """When sign-ins failed, per key (a name and client, or a client)."""

    @abstractmethod
    def since(self, key: Key, start: float) -> list[float]:
        """The times of ``key``'s failures after ``start``, oldest first."""

    @abstractmethod
    def add(self, keys: Sequence[Key], at: float, *, forget_before: float) -> None:
        """One failure at ``at`` for each key; failures before ``forget_before`` may be dropped."""

    @abstractmethod
    def clear(self, key: Key) -> None:
        """Forget ``key``'s failures."""


class InProcess(Failures):
    """Failures in this process's memory (a restart clears them)."""

    def __init__(self) -> None:
        self._times: dict[Key, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def since(self, key: Key, start: float) -> list[float]:
        with self._lock:
            return [t for t in self._times.get(key, ()) if t > start]

    def add(self, keys: Sequence[Key], at: float, *, forget_before: float) -> None:
        with self._lock:
            self._times = {k: t for k, t in self._times.items() if t and t[-1] > forget_before}
            for key in keys:
                self._times.setdefault(key, collections.deque()).append(at)

    def clear(self, key: Key) -> None:
        with self._lock:
            self._times.pop(key, None)


class PostgresFailures(Failures):
    """The ``sign_in_failures`` table of the PostgreSQL state, shared by every process (the state's owner creates
    it: :class:`~memory_core.audit.postgres.PostgresAuditLog` on open, or ``memdash state init``)."""

    def __init__(self, state: PostgresState) -> None:
        self.where = describe(state.conninfo, state.schema)
        self._pool = state_pool(state, "memdash-sign-in")

    def since(self, key: Key, start: float) -> list[float]:
        rows = self._run("SELECT at FROM sign_in_failures WHERE key = %s AND at > %s ORDER BY at",
                         (_text(key), start))
        return [at for at, in rows]

    def add(self, keys: Sequence[Key], at: float, *, forget_before: float) -> None:
        self._run("WITH gone AS (DELETE FROM sign_in_failures WHERE at <= %s) "
                  "INSERT INTO sign_in_failures (key, at) SELECT unnest(%s::text[]), %s",
                  (forget_before, [_text(key) for key in keys], at))

    def clear(self, key: Key) -> None:
        self._run("DELETE FROM sign_in_failures WHERE key = %s", (_text(key),))

    def _run(self, sql: str, params: tuple[object, ...]) -> list[tuple[float]]:
        import psycopg

        try:
            with self._pool.connection() as conn:
                cursor = conn.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        except psycopg.errors.UndefinedTable:
            raise MemdashError(f"cannot count failed sign-ins at {self.where}: its table is missing; the state's owner "
                               "adds it with `memdash state init --config FILE --grant ROLE`") from None
        except (psycopg.Error, OSError) as exc:
            reason = " ".join(str(exc).split())
            raise MemdashError(f"cannot count failed sign-ins at {self.where}: {reason}") from None


def _text(key: Key) -> str:
    return json.dumps(key, ensure_ascii=False)


class LoginThrottle:
    """Failed sign-ins, counted per (name, client) and per client within ``window`` seconds.

    A name is locked only for the client that failed on it, so nobody can lock an admin out from elsewhere; a
    client that tries many names (password spraying) is slowed down across all of them. Waiting lasts until
    the oldest counted failure leaves the window."""

    def __init__(self, limit: int = 5, client_limit: int = 20, window: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, failures: Failures | None = None) -> None:
        self.limit, self.client_limit, self.window, self.clock = limit, client_limit, window, clock
        self.failures = failures or InProcess()

    def wait(self, name: str, client: str) -> float:
        """Seconds until ``client`` may try ``name`` again (0: now)."""
        now = self.clock()
        return max(self._wait(("name", name, client), self.limit, now),
                   self._wait(("client", client), self.client_limit, now))

    def failed(self, name: str, client: str) -> None:
        now = self.clock()
        self.failures.add([("name", name, client), ("client", client)], now, forget_before=now - self.window)

    def succeeded(self, name: str, client: str) -> None:
        self.failures.clear(("name", name, client))

    def _wait(self, key: Key, limit: int, now: float) -> float:
        recent = self.failures.since(key, now - self.window)
        return max(0.0, recent[0] + self.window - now) if len(recent) >= limit else 0.0


def shared_throttle(state: PostgresState) -> LoginThrottle:
    """The throttle of every process on this PostgreSQL state (wall-clock time: processes may be on other hosts)."""
    return LoginThrottle(clock=time.time, failures=PostgresFailures(state))
