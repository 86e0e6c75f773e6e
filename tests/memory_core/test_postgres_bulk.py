"""PostgreSQL bulk loads: written without the HNSW index, which is built once at the end (concurrently), vector
search working all along; an index a cut-off load left missing is built on the next open; vectors written by
the binary COPY are exactly the embedder's."""

from __future__ import annotations

import uuid

import numpy as np
import psycopg

from memory_core.embedders.hashing import HashingEmbedder, HashingEmbedderConfig
from memory_core.models import MemoryItem
from memory_core.providers.postgres import PostgresMemory, PostgresMemoryConfig
from tests.helpers.servers_postgres import pgvector_server  # noqa: F401 - fixture

EMBEDDER = HashingEmbedder(HashingEmbedderConfig(dimension=64))
ITEMS = [MemoryItem(user_id=f"u{i % 3}", memory=f"note {i} about topic{i}") for i in range(300)]


async def _open(dsn: str, schema: str) -> PostgresMemory:
    config = PostgresMemoryConfig(dsn=dsn, schema=schema)
    return await PostgresMemory.open(config.server(), schema=schema, language="english", embedder=EMBEDDER,
                                     pool_min=1, pool_max=2)


def _index_state(dsn: str, schema: str) -> bool | None:
    """Whether the HNSW index is valid (None: there is none)."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
                             (f"{schema}.memories_embedding",)).fetchone()
    return found[0] if found else None


async def _vector_hit(store: PostgresMemory, text: str, user: str) -> str | None:
    hits = await store.search_records(text, user_id=user, top_k=1)
    return hits[0].record.item.memory if hits and "cosine" in hits[0].parts else None


async def test_postgres_bulk_load_builds_the_vector_index_once_at_the_end(pgvector_server: str) -> None:  # noqa: F811
    schema = f"b_{uuid.uuid4().hex[:10]}"
    store = await _open(pgvector_server, schema)
    try:
        assert _index_state(pgvector_server, schema) is True
        async with store.bulk_loading():
            for start in range(0, len(ITEMS), 100):
                await store.add_items(ITEMS[start:start + 100])
            assert _index_state(pgvector_server, schema) is None
            assert await _vector_hit(store, "note 7 about topic7", "u1") == "note 7 about topic7"
        assert _index_state(pgvector_server, schema) is True
        assert await _vector_hit(store, "note 8 about topic8", "u2") == "note 8 about topic8"
    finally:
        await store.aclose()


async def test_postgres_index_missing_after_a_cut_off_load_is_built_on_open(pgvector_server: str) -> None:  # noqa: F811
    schema = f"b_{uuid.uuid4().hex[:10]}"
    store = await _open(pgvector_server, schema)
    await store.add_items(ITEMS[:30])
    await store.aclose()
    with psycopg.connect(pgvector_server, autocommit=True) as conn:  # as a load cut off inside leaves it
        conn.execute(f"DROP INDEX {schema}.memories_embedding")
    store = await _open(pgvector_server, schema)
    try:
        assert _index_state(pgvector_server, schema) is True
    finally:
        await store.aclose()


async def test_postgres_vectors_are_stored_exactly_as_embedded(pgvector_server: str) -> None:  # noqa: F811
    schema = f"b_{uuid.uuid4().hex[:10]}"
    store = await _open(pgvector_server, schema)
    try:
        await store.add_items(ITEMS[:2])
    finally:
        await store.aclose()
    with psycopg.connect(pgvector_server) as conn:
        stored = conn.execute(f"SELECT memory, embedding::text FROM {schema}.memories ORDER BY memory").fetchall()
    for memory, text in stored:
        expected = EMBEDDER.embed_sync([memory])[0].astype(np.float32)
        assert np.array_equal(np.array(text.strip("[]").split(","), dtype=np.float32), expected)
