"""Each of memdash's own stores opened for a test: in_memory, sqlite (in the test's folder), postgres and redis
(on the session's real servers, each test in a fresh schema or key prefix)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from memory_core.providers.in_memory import InMemoryEditor
from memory_core.providers.postgres import PostgresMemoryConfig
from memory_core.providers.postgres.store import PostgresMemory
from memory_core.providers.redis.store import RedisMemory
from memory_core.providers.sqlite import SqliteMemory

KINDS = ("in_memory", "sqlite", "postgres", "redis")


@contextlib.asynccontextmanager
async def memdash_store(kind: str, request: pytest.FixtureRequest, folder: Path, **options: Any) -> AsyncIterator[Any]:
    """The store ``kind`` (one of :data:`KINDS`), empty, closed afterwards; ``options`` go to its constructor
    (``track_retrievals``, ``retrieval_log``)."""
    if kind == "in_memory":
        yield InMemoryEditor(**options)
    elif kind == "sqlite":
        async with await SqliteMemory.open(folder / "s.sqlite3", **options) as opened:
            yield opened
    elif kind == "postgres":
        config = PostgresMemoryConfig(dsn=request.getfixturevalue("pgvector_server"),
                                      schema=f"t_{uuid.uuid4().hex[:12]}")
        opened = await PostgresMemory.open(config.server(), schema=config.db_schema, language="english",
                                           embedder=None, pool_min=1, pool_max=2, **options)
        try:
            yield opened
        finally:
            await opened.aclose()
    else:
        server = request.getfixturevalue("redis_server")
        opened = await RedisMemory.open(port=server.port, key_prefix=f"t{uuid.uuid4().hex[:10]}", **options)
        try:
            yield opened
        finally:
            await opened.aclose()
