"""Threads and connections: one writer thread (its own connection) and a few reader threads (one each).

sqlite3 calls block, so every call runs off the event loop. Writes of this process queue on the single
writer thread; writers in other processes wait on SQLite's lock (``BEGIN IMMEDIATE`` + busy timeout). In WAL
mode readers never wait for the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from memory_core.errors import StoreUnavailableError
from memory_core.providers.sqlite.filters import contains
from memory_core.providers.sqlite.vectors import from_float32

T = TypeVar("T")


class Pool:
    """Runs functions ``fn(conn, *args)`` on a thread that owns a connection to ``path``."""

    def __init__(self, path: Path, *, busy_timeout_ms: int, readers: int = 4) -> None:
        self.path = path
        self._timeout = busy_timeout_ms / 1000
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="memdash-sqlite-write")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="memdash-sqlite-read")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._closed = False

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` in one read transaction (a consistent snapshot)."""
        return await self._submit(self._readers, _in_transaction, "BEGIN", fn, *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` in one write transaction: all of it is committed, or none of it."""
        return await self._submit(self._writer, _in_transaction, "BEGIN IMMEDIATE", fn, *args)

    async def on_writer(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the writer's connection, inside :meth:`write_session` (setup only)."""
        return await self._submit(self._writer, fn, *args)

    @contextlib.asynccontextmanager
    async def write_session(self) -> AsyncIterator[None]:
        """One write transaction spanning several :meth:`on_writer` calls and the awaits between them."""
        await self.on_writer(_execute, "BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await self.on_writer(_rollback)
            raise
        await self.on_writer(_execute, "COMMIT")

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await asyncio.to_thread(self._shutdown)

    async def _submit(self, executor: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreUnavailableError(f"sqlite store {self.path} is closed")
        return await asyncio.get_running_loop().run_in_executor(executor, self._call, fn, args)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(self._connection(), *args)
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"sqlite store {self.path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self._timeout)
            with self._guard:
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    def _shutdown(self) -> None:
        self._readers.shutdown(wait=True)
        self._writer.shutdown(wait=True)
        with self._guard:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


def connect(path: Path, timeout: float) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with this store's settings."""
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    for pragma in (
        "synchronous = NORMAL",  # WAL: atomic and consistent; the last commits may be lost on power failure
        "secure_delete = ON",  # deleted and overwritten text is zeroed in the file, not left in free space
        # 16 MB of page cache per connection and no mmap: the OS page cache, not this process, holds the file, so
        # the dashboard's memory does not grow with the store (bench.dashboard: RSS during a 1M-memory download)
        "temp_store = MEMORY", "cache_size = -16000",
        "wal_autocheckpoint = 10000",  # index pages rewritten by every batch are checkpointed once, not each time
        "journal_size_limit = 67108864",
        "analysis_limit = 1000",  # keeps PRAGMA optimize (on close) quick on big files
    ):
        conn.execute(f"PRAGMA {pragma}")
    conn.create_function("memdash_contains", 2, contains, deterministic=True)
    conn.create_function("memdash_int8", 1, from_float32, deterministic=True)  # schema 6's migration
    return conn


def _execute(conn: sqlite3.Connection, sql: str) -> None:
    conn.execute(sql)


def _in_transaction(conn: sqlite3.Connection, begin: str, fn: Callable[..., T], *args: Any) -> T:
    conn.execute(begin)
    try:
        result = fn(conn, *args)
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    return result


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:  # SQLite may have rolled back already (e.g. after SQLITE_FULL)
        conn.execute("ROLLBACK")
