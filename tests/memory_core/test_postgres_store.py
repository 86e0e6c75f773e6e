"""The ``postgres`` store on real servers: the conformance suite on PostgreSQL 18 + pgvector and on Debian's
PostgreSQL 15 without it, then what is Postgres-specific (stemming, trigrams, hybrid search, migrations,
faults)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
import zlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
import pytest

from memory_core.builder import MemoryBuilder
from memory_core.config import MemdashConfig
from memory_core.embedders.base import Embedder, normalise
from memory_core.embedders.hashing import HashingEmbedderConfig
from memory_core.errors import InvalidInputError, StoreUnavailableError
from memory_core.interfaces import Capability, capabilities_of
from memory_core.items import tokens
from memory_core.models import MemoryItem
from memory_core.providers.postgres import PostgresMemory, PostgresMemoryConfig, rows
from memory_core.providers.postgres.schema import MIGRATIONS
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord
from memory_core.registry import register_embedder
from memory_core.testing import MemoryStoreConformance
from memory_core.typed import EmbedderBaseConfig

if TYPE_CHECKING:
    from tests.helpers.servers_postgres import LocalPostgres


SYNONYMS = {"automobile": "car", "vehicle": "car", "feline": "cat"}


class WordsConfig(EmbedderBaseConfig, name="pg_test_words"):
    """Bag of words with a few synonyms folded together (test only)."""

    model_id: str = "pg-test-words-v1"


class WordEmbedder(Embedder):
    dimension = 64

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    async def embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in tokens(text):
                vectors[row, zlib.crc32(SYNONYMS.get(word, word).encode()) % self.dimension] += 1
        return normalise(vectors)


@register_embedder(WordsConfig)
async def _words(config: WordsConfig, builder: object) -> AsyncIterator[WordEmbedder]:
    yield WordEmbedder(config.model_id)


@contextlib.asynccontextmanager
async def open_store(dsn: str, *, embedder: EmbedderBaseConfig | None = None, **fields: Any
                     ) -> AsyncIterator[PostgresMemory]:
    """A store built through the registry and builder, as a config file would build it."""
    fields.setdefault("schema", f"t_{uuid.uuid4().hex[:12]}")
    fields.setdefault("connect_timeout", 3)
    config = PostgresMemoryConfig(dsn=dsn, embedder="e" if embedder else None, **fields)
    setup = MemdashConfig(memory={"m": config}, embedders={"e": embedder} if embedder else {}, sections={})
    async with MemoryBuilder(setup) as builder:
        yield await builder.get_memory_client("m")


def _item(user: str, memory: str, **fields: Any) -> MemoryItem:
    return MemoryItem(user_id=user, memory=memory, **fields)


async def _count(dsn: str, schema: str, where: str = "TRUE", password: str | None = None) -> int:
    async with await psycopg.AsyncConnection.connect(dsn, password=password) as conn:
        cur = await conn.execute(f"SELECT count(*) FROM {schema}.memories WHERE {where}")
        return (await cur.fetchone())[0]


# --- the conformance suite ----------------------------------------------------------------------------
class TestPgvectorConformance(MemoryStoreConformance):
    capabilities = frozenset({Capability.BROWSE_BY_USE, Capability.COUNT, Capability.DELETE_BY_IDS, Capability.EXPIRE,
        Capability.GET, Capability.IMPORT, Capability.LIST, Capability.LIST_ALL_USERS, Capability.LIST_USERS,
        Capability.PAUSE, Capability.PING, Capability.RETRIEVALS, Capability.SEARCH_RECORDS, Capability.STATS,
        Capability.TEXT_SEARCH, Capability.UPDATE, Capability.VECTOR_SEARCH})
    """PostgreSQL 18 with pgvector: full text, trigrams and vectors (hashing embedder)."""

    @pytest.fixture
    async def editor(self, pgvector_server: str) -> AsyncIterator[PostgresMemory]:
        async with open_store(pgvector_server, schema="conformance",
                              embedder=HashingEmbedderConfig(dimension=64)) as store:
            assert Capability.VECTOR_SEARCH in store.capabilities
            yield store


class TestPlainConformance(MemoryStoreConformance):
    capabilities = frozenset({Capability.BROWSE_BY_USE, Capability.COUNT, Capability.DELETE_BY_IDS, Capability.EXPIRE,
        Capability.GET, Capability.IMPORT, Capability.LIST, Capability.LIST_ALL_USERS, Capability.LIST_USERS,
        Capability.PAUSE, Capability.PING, Capability.RETRIEVALS, Capability.SEARCH_RECORDS, Capability.STATS,
        Capability.TEXT_SEARCH, Capability.UPDATE})
    """PostgreSQL 15 without pgvector, an embedder configured all the same: vector search stays off."""

    @pytest.fixture
    async def editor(self, plain_server: LocalPostgres) -> AsyncIterator[PostgresMemory]:
        async with open_store(plain_server.dsn, password=plain_server.password, schema="conformance",
                              embedder=HashingEmbedderConfig(dimension=64)) as store:
            assert Capability.VECTOR_SEARCH not in store.capabilities
            yield store


# --- search -------------------------------------------------------------------------------------------
async def test_stemming_follows_the_language(pgvector_server: str) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    async with open_store(pgvector_server, schema=schema, language="simple") as store:
        await store.add_items([_item("u", "Her happiness matters most"), _item("u", "She went hiking in June")])
        assert [i.memory for i in await store.search("hikes", user_id="u")] == ["She went hiking in June"]
        assert [h.parts.get("fts") for h in await store.search_records("happy", user_id="u")] == [None]  # trigrams
    async with open_store(pgvector_server, schema=schema, language="english") as store:  # rebuilds the column
        hits = await store.search_records("happy", user_id="u")
        assert [h.record.item.memory for h in hits] == ["Her happiness matters most"] and hits[0].parts["fts"] > 0


async def test_trigrams_find_misspelt_words(pgvector_server: str) -> None:
    async with open_store(pgvector_server) as store:
        await store.add_items([_item("u", "User enjoys rock hiking"), _item("u", "User owns a red canoe")])
        hits = await store.search_records("hikng", user_id="u")
        assert [h.record.item.memory for h in hits] == ["User enjoys rock hiking"]
        assert hits[0].parts["trigram"] > 0 and "fts" not in hits[0].parts
        assert [i.memory for i in await store.search("canoo trip", user_id="u")] == ["User owns a red canoe"]


async def test_hybrid_search_uses_vectors(pgvector_server: str) -> None:
    async with open_store(pgvector_server, embedder=WordsConfig()) as store:
        await store.add_items([_item("u", "Alice drives a red car"), _item("u", "Alice has a cat named Miso"),
                               _item("v", "Bob drives a blue car")])
        hits = await store.search_records("automobile", user_id="u", top_k=1)
        assert [h.record.item.memory for h in hits] == ["Alice drives a red car"]
        assert hits[0].parts["cosine"] > 0.3 and "fts" not in hits[0].parts
        both = await store.search_records("Alice cat", user_id="u", top_k=2)
        assert both[0].record.item.memory == "Alice has a cat named Miso"
        assert {"text", "vector", "fts", "cosine"} <= set(both[0].parts)


async def test_vectors_follow_the_embedder(pgvector_server: str) -> None:
    """Rows written without an embedder are embedded on the next open; a new model re-embeds everything."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    async with open_store(pgvector_server, schema=schema) as store:
        await store.add_items([_item("u", f"Note {i} about the automobile") for i in range(5)])
    for model in ("pg-test-words-v1", "pg-test-words-v2"):
        async with open_store(pgvector_server, schema=schema, embedder=WordsConfig(model_id=model)) as store:
            assert await _count(pgvector_server, schema, "embedding IS NOT NULL") == 5
            assert len(await store.search("vehicle", user_id="u", top_k=10)) == 5
    async with open_store(pgvector_server, schema=schema) as store:  # no embedder: an edit drops the stale vector
        record = (await store.list_records(MemoryFilter(user_id="u"), limit=1)).records[0]
        await store.update_record(record.id, MemoryPatch(memory="A different text"), expected_version=record.version)
        assert await _count(pgvector_server, schema, "embedding IS NULL") == 1


# --- schema -------------------------------------------------------------------------------------------
async def test_migrations_are_concurrent_and_idempotent(pgvector_server: str) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    async with contextlib.AsyncExitStack() as stack:
        stores = await asyncio.gather(*(stack.enter_async_context(open_store(pgvector_server, schema=schema))
                                        for _ in range(4)))
        await stores[0].add_items([_item("u", "Written after four processes migrated at once")])
    async with open_store(pgvector_server, schema=schema) as store:
        assert len(await store.search("migrated", user_id="u")) == 1
    async with await psycopg.AsyncConnection.connect(pgvector_server) as conn:
        cur = await conn.execute(f"SELECT version FROM {schema}.schema_version ORDER BY version")
        assert [v for (v,) in await cur.fetchall()] == [m[0] for m in MIGRATIONS]


# --- faults -------------------------------------------------------------------------------------------
async def test_without_pgvector_vector_search_is_off_with_a_reason(plain_server: LocalPostgres) -> None:
    async with open_store(plain_server.dsn, password=plain_server.password, embedder=WordsConfig()) as store:
        assert Capability.VECTOR_SEARCH not in store.capabilities
        assert "pgvector is not installed" in (store.vector_unavailable_reason or "")
        await store.add_items([_item("u", "Alice drives a red car")])
        assert [i.memory for i in await store.search("red car", user_id="u")] == ["Alice drives a red car"]
        assert await store.search("automobile", user_id="u") == []


async def test_wrong_password_says_so_without_echoing_it(plain_server: LocalPostgres) -> None:
    wrong = "hunter2-" + uuid.uuid4().hex
    with pytest.raises(StoreUnavailableError) as failure:
        async with open_store(plain_server.dsn, password=wrong):
            pass
    message = str(failure.value)
    assert "authentication failed" in message and wrong not in message and plain_server.password not in message
    in_dsn = f"postgresql://postgres:{wrong}@127.0.0.1:{plain_server.port}/postgres"
    with pytest.raises(StoreUnavailableError) as failure:
        async with open_store(in_dsn):
            pass
    assert "authentication failed" in str(failure.value) and wrong not in str(failure.value)


async def test_server_down_at_startup(closed_port: int) -> None:
    with pytest.raises(StoreUnavailableError) as failure:
        async with open_store(f"host=127.0.0.1 port={closed_port} user=postgres dbname=postgres",
                              password="secret-pw"):
            pass
    message = str(failure.value)
    assert "127.0.0.1" in message and "refused" in message.lower() and "secret-pw" not in message


async def test_lost_connections_are_replaced(pgvector_server: str) -> None:
    async with open_store(pgvector_server, pool_min=2) as store:
        await store.add_items([_item("u", "Survives a dropped connection")])
        async with await psycopg.AsyncConnection.connect(pgvector_server, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE application_name = 'memdash' AND pid <> pg_backend_pid()")
        assert await store.count_records(MemoryFilter(user_id="u")) == 1
        assert len(await store.search("dropped connection", user_id="u")) == 1


async def test_server_stopping_mid_use(plain_server: LocalPostgres) -> None:
    """Calls fail with the reason while the server is down; the first call after its restart works, even
    while the pool is still backing off between reconnection attempts."""
    async with open_store(plain_server.dsn, password=plain_server.password, connect_timeout=1) as store:
        await store.add_items([_item("u", "Written before the server stopped")])
        plain_server.stop()
        try:
            with pytest.raises(StoreUnavailableError, match=r"127\.0\.0\.1"):
                await store.count_records(MemoryFilter(user_id="u"))
            with pytest.raises(StoreUnavailableError):
                await store.add_items([_item("u", "Never written")])
        finally:
            plain_server.start()
        assert [i.memory for i in await store.search("written", user_id="u")] == ["Written before the server stopped"]


async def test_a_busy_pool_is_never_bypassed(pgvector_server: str) -> None:
    """Only a pool that is reconnecting is bypassed (see above); a full one keeps ``pool_max`` the limit."""
    async with open_store(pgvector_server, pool_min=1, pool_max=1, connect_timeout=1) as store:
        await store.add_items([_item("u", "One memory")])
        holder = asyncio.create_task(store._read("sleeping", lambda c: c.execute("SELECT pg_sleep(2.5)")))
        await asyncio.sleep(0.3)
        with pytest.raises(StoreUnavailableError, match="getting a pooled connection"):
            await store.count_records(MemoryFilter(user_id="u"))
        await holder
        assert await store.count_records(MemoryFilter(user_id="u")) == 1


async def test_a_batch_with_a_record_the_server_would_refuse_writes_nothing(pgvector_server: str) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    now = dt.datetime.now(dt.UTC)
    good = MemoryRecord(id="good", item=_item("u", "A good memory"), created_at=now, updated_at=now)
    too_big = MemoryRecord(id="big", item=_item("u", "Version beyond bigint"), created_at=now, updated_at=now,
                           version=2**63)
    async with open_store(pgvector_server, schema=schema) as store:
        with pytest.raises(InvalidInputError, match="record 1: field 'version' must be a whole number"):
            await store.add_records([good, too_big])  # refused before the server, as by every store
        with pytest.raises(InvalidInputError, match="NUL"):
            await store.add_items([_item("u", "fine"), _item("u", "nul \x00 inside")])
        assert await _count(pgvector_server, schema) == 0


async def test_a_cut_read_is_retried_once_and_a_cut_write_saves_nothing(pgvector_server: str) -> None:
    """Fault injection: the statement's own connection is terminated by the server mid-operation."""
    async def kill(conn: psycopg.AsyncConnection) -> None:
        with contextlib.suppress(psycopg.OperationalError):
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    schema = f"t_{uuid.uuid4().hex[:12]}"
    async with open_store(pgvector_server, schema=schema) as store:
        attempts = []

        async def read(conn: psycopg.AsyncConnection) -> int:
            attempts.append(conn)
            if len(attempts) == 1:
                await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            return (await (await conn.execute("SELECT 42")).fetchone())[0]

        assert await store._read("reading", read) == 42 and len(attempts) == 2

        async def write(conn: psycopg.AsyncConnection) -> None:
            now = dt.datetime.now(dt.UTC)
            await rows.copy_records(conn, [MemoryRecord(id="cut", item=_item("u", "Half a write"), created_at=now,
                                                        updated_at=now)], None)
            await kill(conn)
            await conn.execute("SELECT 1")

        with pytest.raises(StoreUnavailableError, match="nothing of it was saved"):
            await store._write("importing", write)
        assert await _count(pgvector_server, schema) == 0
        await store.add_items([_item("u", "The pool recovered")])
        assert await _count(pgvector_server, schema) == 1


def test_config_from_yaml_keeps_the_password_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from memory_core.config import parse_config

    monkeypatch.setenv("PG_TEST_PASSWORD", "s3cret-value")
    loaded = parse_config("memory:\n  team:\n    _type: postgres\n    dsn: host=db.internal dbname=memdash user=app\n"
                          "    password: ${PG_TEST_PASSWORD}\n    schema: team_memories\n    language: simple\n")
    config = loaded.memory["team"]
    assert isinstance(config, PostgresMemoryConfig) and loaded.warnings == []
    assert (config.db_schema, config.language) == ("team_memories", "simple")
    assert "s3cret-value" not in repr(config) and "s3cret-value" not in str(config.model_dump())
    server = config.server()
    assert "password=s3cret-value" in server.conninfo and "s3cret-value" not in repr(server)
    assert server.target == "app@db.internal/memdash"
    assert "***" in server.scrub("FATAL: role app with s3cret-value")


async def test_an_ordinary_role_can_create_and_use_its_store(plain_server: LocalPostgres) -> None:
    """Least privilege: CREATE on the database only (PostgreSQL 15 gives no CREATE on ``public``)."""
    name = f"app_{uuid.uuid4().hex[:8]}"
    admin_dsn = plain_server.dsn
    async with await psycopg.AsyncConnection.connect(admin_dsn, password=plain_server.password,
                                                     autocommit=True) as admin:
        await admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'app-pw'")
        await admin.execute(f"CREATE DATABASE {name}")
        await admin.execute(f"GRANT CREATE ON DATABASE {name} TO {name}")
    dsn = f"host=127.0.0.1 port={plain_server.port} user={name} dbname={name}"
    async with open_store(dsn, password="app-pw", schema="mem") as store:
        await store.add_items([_item("u", "An ordinary role wrote this")])
        assert [i.memory for i in await store.search("ordinary role", user_id="u")] == ["An ordinary role wrote this"]
        assert await store.count_records(MemoryFilter(text_contains="ordinary")) == 1


# --- which memories the agent uses ------------------------------------------------------------------------
async def test_retrieval_counts_in_postgres_follow_the_agents_searches(pgvector_server: str) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    async with open_store(pgvector_server, schema=schema) as store:
        assert Capability.RETRIEVALS in capabilities_of(store)
        await store.add_items([_item("alice", "Alice drinks green tea"), _item("alice", "Alice plays chess")])
        ids = {r.item.memory: r.id for r in (await store.list_records(MemoryFilter(user_id="alice"))).records}
        tea, chess = ids["Alice drinks green tea"], ids["Alice plays chess"]
        await store.search("green tea", top_k=1, user_id="alice")
        await store.search("green tea", top_k=1, user_id="alice")
        await store.search_records("chess", user_id="alice")  # an operator's search: not counted
        used = await store.usage([tea, chess])
        assert list(used) == [tea] and used[tea].retrievals == 2
        assert [m.id for m in await store.most_used(3)] == [tea]
    async with open_store(pgvector_server, schema=schema) as store:  # kept across connections
        assert (await store.usage([tea]))[tea].retrievals == 2
        await store.delete_records([tea])
        assert await store.usage([tea]) == {}  # the counts go with the memory
    async with open_store(pgvector_server, schema=schema, track_retrievals=False) as store:
        assert Capability.RETRIEVALS not in capabilities_of(store)
