"""The store's schema: versioned migrations plus two parts that follow the configuration.

Everything runs in one transaction behind an advisory lock (one for the whole database, as extensions are
shared by every schema), so processes starting together migrate once.
The configuration-dependent parts are the full-text column (its language and :mod:`memory_core.retrieval`'s
fields: rebuilt when either changes) and the vector column (created for the embedder's model and dimension,
emptied when they change; the store re-embeds the missing rows).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging

import psycopg
from psycopg import sql

from memory_core.embedders.base import Embedder
from memory_core.errors import ConfigError, StoreUnavailableError
from memory_core.models import MemoryItem
from memory_core.providers.postgres import rows
from memory_core.retrieval import FTS_COLUMNS

log = logging.getLogger(__name__)

HNSW_MAX_DIMENSION = 2000  # pgvector's limit for an HNSW index on `vector`
HNSW_INDEX = "memories_embedding"

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "memories and settings tables with their indexes", (
        "CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL)",
        """CREATE TABLE memories (
            id text COLLATE "C" PRIMARY KEY,
            user_id text COLLATE "C" NOT NULL,
            memory text,
            conversation jsonb,
            tags text[] NOT NULL DEFAULT '{}',
            metadata jsonb NOT NULL DEFAULT '{}',
            search_fields text[] NOT NULL,
            memory_folded text NOT NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            version bigint NOT NULL)""",
        "CREATE INDEX memories_user_updated ON memories (user_id, updated_at, id)",
        "CREATE INDEX memories_user_created ON memories (user_id, created_at, id)",
        "CREATE INDEX memories_updated ON memories (updated_at, id)",
        "CREATE INDEX memories_created ON memories (created_at, id)",
        "CREATE INDEX memories_tags ON memories USING gin (tags)",
        "CREATE INDEX memories_metadata ON memories USING gin (metadata jsonb_path_ops)",
        "CREATE INDEX memories_trgm ON memories USING gin (memory_folded gin_trgm_ops)",
    )),
    (2, "retrieval counts of the agent's search", (
        """CREATE TABLE retrievals (
            id text COLLATE "C" PRIMARY KEY REFERENCES memories (id) ON DELETE CASCADE,
            count bigint NOT NULL,
            last_at timestamptz NOT NULL)""",
        "CREATE INDEX retrievals_most ON retrievals (count DESC, last_at DESC, id)",
    )),
    (3, "the detailed retrieval log", (
        """CREATE TABLE retrieval_events (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text COLLATE "C" NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
            at timestamptz NOT NULL,
            rank integer NOT NULL,
            query_hash text NOT NULL,
            query text)""",
        "CREATE INDEX retrieval_events_id ON retrieval_events (id, seq DESC)",
    )),
)

# An item whose analysed fields fingerprint memory_core.retrieval: when they change, every row is re-analysed.
_PROBE = MemoryItem(user_id="probe", memory="Running quickly to the stores, she's hiking",
                    conversation=[{"role": "user", "content": "Caroline: we met on the beaches"}],
                    metadata={"date": "2023-05-08T13:56"})


@dataclasses.dataclass(frozen=True)
class SchemaState:
    """What the connections and queries need to know after migrating."""

    search_path: str
    vectors: bool
    embedding_column: bool
    vector_unavailable_reason: str | None
    hnsw_iterative_scan: bool


async def migrate(conn: psycopg.AsyncConnection, schema: str, language: str,
                  embedder: Embedder | None) -> SchemaState:
    """Bring ``schema`` up to date for this configuration; safe to run from several processes at once."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('memdash-migrate'))")
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        await _create_extension(conn, "pg_trgm", schema)
        await _set_search_path(conn, schema)
        await _run_migrations(conn)
        await _ensure_search_column(conn, language)
        reason = await _ensure_vectors(conn, schema, embedder) if embedder else None
        path = await _set_search_path(conn, schema)
        return SchemaState(
            search_path=path,
            vectors=embedder is not None and reason is None,
            embedding_column=await _has_column(conn, "embedding"),
            vector_unavailable_reason=reason,
            hnsw_iterative_scan=await _vector_version(conn) >= (0, 8),
        )


async def _create_extension(conn: psycopg.AsyncConnection, name: str, schema: str) -> None:
    """Install an extension in ``public``, where other schemas expect it, else in the store's schema.

    Not in the store's schema first: dropping that schema would then drop the extension and, with it,
    the indexes and vector columns of every other store in the database.
    """
    cur = await conn.execute("SELECT 1 FROM pg_extension WHERE extname = %s", (name,))
    if await cur.fetchone():
        return
    statement = sql.SQL("CREATE EXTENSION {} WITH SCHEMA {}")
    try:
        async with conn.transaction():
            await conn.execute(statement.format(sql.Identifier(name), sql.Identifier("public")))
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.InvalidSchemaName):
        await conn.execute(statement.format(sql.Identifier(name), sql.Identifier(schema)))


async def _set_search_path(conn: psycopg.AsyncConnection, schema: str) -> str:
    """Our schema, then the schemas holding pg_trgm and pgvector; set for this transaction and returned."""
    cur = await conn.execute(
        "SELECT DISTINCT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname IN ('pg_trgm', 'vector') ORDER BY 1")
    names = [schema, *(name for (name,) in await cur.fetchall() if name != schema)]
    path = ",".join(sql.Identifier(n).as_string(conn) for n in names)
    await conn.execute("SELECT set_config('search_path', %s, true)", (path,))
    return path


async def _run_migrations(conn: psycopg.AsyncConnection) -> None:
    await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                       "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
    cur = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
    (current,) = await cur.fetchone()
    latest = MIGRATIONS[-1][0]
    if current > latest:
        raise StoreUnavailableError(f"postgres schema is at version {current}, newer than this memdash knows "
                                    f"({latest}): upgrade memdash")
    for version, description, statements in MIGRATIONS:
        if version > current:
            for statement in statements:
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                               (version, description))
            log.info("postgres schema migrated to version %s: %s", version, description)


async def _setting(conn: psycopg.AsyncConnection, key: str) -> str | None:
    cur = await conn.execute("SELECT value FROM settings WHERE key = %s", (key,))
    row = await cur.fetchone()
    return row[0] if row else None


async def _put_setting(conn: psycopg.AsyncConnection, key: str, value: str) -> None:
    await conn.execute("INSERT INTO settings (key, value) VALUES (%s, %s) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


async def _has_column(conn: psycopg.AsyncConnection, column: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM pg_attribute WHERE attrelid = 'memories'::regclass "
                             "AND attname = %s AND NOT attisdropped", (column,))
    return await cur.fetchone() is not None


def search_fingerprint(language: str) -> str:
    """Changes whenever the stored search text would: another language or another retrieval analysis."""
    probe = [language, list(FTS_COLUMNS), rows.search_fields(_PROBE)]
    return hashlib.sha256(json.dumps(probe, sort_keys=True).encode()).hexdigest()[:16]


def _search_expression(language: str) -> sql.Composable:
    """The weighted tsvector of ``search_fields``: one weight letter per FTS column, A first."""
    parts = [sql.SQL("setweight(to_tsvector({}::regconfig, coalesce(search_fields[{}], '')), {})").format(
        sql.Literal(language), sql.Literal(i + 1), sql.Literal("ABCD"[min(i, 3)])) for i in range(len(FTS_COLUMNS))]
    return sql.SQL(" || ").join(parts)


async def _ensure_search_column(conn: psycopg.AsyncConnection, language: str) -> None:
    """(Re)build the generated ``search_doc`` column when the language or the analysis changed."""
    try:
        await conn.execute("SELECT %s::regconfig", (language,))
    except psycopg.errors.UndefinedObject:
        raise ConfigError(f"postgres has no text search configuration '{language}' (see \\dF in psql)",
                          field="language") from None
    fingerprint = search_fingerprint(language)
    if await _setting(conn, "search") == fingerprint:
        return
    await conn.execute("ALTER TABLE memories DROP COLUMN IF EXISTS search_doc")
    await rows.reanalyse(conn)
    await conn.execute(sql.SQL("ALTER TABLE memories ADD COLUMN search_doc tsvector GENERATED ALWAYS AS ({}) STORED")
                       .format(_search_expression(language)))
    await conn.execute("CREATE INDEX memories_search ON memories USING gin (search_doc)")
    await _put_setting(conn, "search", fingerprint)
    log.info("postgres full-text column built (language %s)", language)


async def _vector_version(conn: psycopg.AsyncConnection) -> tuple[int, ...]:
    cur = await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    row = await cur.fetchone()
    return tuple(int(p) for p in row[0].split(".") if p.isdigit()) if row else ()


async def _ensure_vectors(conn: psycopg.AsyncConnection, schema: str, embedder: Embedder) -> str | None:
    """Set up the ``embedding`` column; the reason vector search is off when pgvector cannot be had."""
    cur = await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    if await cur.fetchone() is None:
        cur = await conn.execute("SHOW server_version")
        (version,) = await cur.fetchone()
        return (f"pgvector is not installed on this PostgreSQL server ({version}): vector search is off; "
                "full-text and fuzzy search still work")
    try:
        async with conn.transaction():
            await _create_extension(conn, "vector", schema)
    except psycopg.Error as exc:
        return f"pgvector could not be enabled ({' '.join(str(exc).split())}): vector search is off"
    await _set_search_path(conn, schema)
    space = f"{embedder.model_id}|{embedder.dimension}"
    if await _setting(conn, "embedding") != space:
        await conn.execute("ALTER TABLE memories DROP COLUMN IF EXISTS embedding")
        await conn.execute(sql.SQL("ALTER TABLE memories ADD COLUMN embedding vector({})").format(
            sql.Literal(embedder.dimension)))
        # finds the rows still to embed without scanning the table
        await conn.execute("CREATE INDEX memories_unembedded ON memories (id) WHERE embedding IS NULL")
        await _put_setting(conn, "embedding", space)
        log.info("postgres vector column made for %s (%d dimensions)", embedder.model_id, embedder.dimension)
    if embedder.dimension <= HNSW_MAX_DIMENSION:
        await _ensure_hnsw(conn)
    return None


def hnsw_statement(*, concurrently: bool) -> str:
    """The HNSW index over ``embedding`` (cosine); ``concurrently`` builds it without blocking reads or writes."""
    return (f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS {HNSW_INDEX} "
            "ON memories USING hnsw (embedding vector_cosine_ops)")


async def hnsw_valid(conn: psycopg.AsyncConnection) -> bool:
    """Whether the HNSW index is there and usable (a cut-off concurrent build leaves an invalid one)."""
    cur = await conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", (HNSW_INDEX,))
    found = await cur.fetchone()
    return bool(found and found[0])


async def _ensure_hnsw(conn: psycopg.AsyncConnection) -> None:
    """Build the HNSW index when it is missing or invalid (a bulk load cut off before building it again)."""
    if await hnsw_valid(conn):
        return
    await conn.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}")
    await conn.execute(hnsw_statement(concurrently=False))
