"""``PostgresMemory``: the toolkit's editor and memdash's browser over one PostgreSQL schema."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from memory_core.embedders.base import Embedder
from memory_core.errors import InvalidInputError, NotFoundError, VersionConflictError
from memory_core.interfaces import BROWSE_ALL, BulkLoading, Capability, MemoryBrowser, MemoryEditor, Scrubbing
from memory_core.items import new_id, validate_items, validate_records
from memory_core.life import HidesFromAgent
from memory_core.models import MemoryItem
from memory_core.providers.common import RecordSearch, check_limit, ready_for_use, remove_target, search_args
from memory_core.providers.postgres import filters, rows, stats
from memory_core.providers.postgres.connection import Server
from memory_core.providers.postgres.schema import (
    HNSW_INDEX,
    HNSW_MAX_DIMENSION,
    SchemaState,
    hnsw_statement,
    hnsw_valid,
    migrate,
)
from memory_core.providers.postgres.search import FUZZY_THRESHOLD, SearchPlan, ranked
from memory_core.records import (
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    RecordPage,
    ScoredRecord,
    Sort,
    UserPage,
    UserSummary,
    decode_cursor,
    encode_cursor,
    utcnow,
)
from memory_core.retrieval import embedding_text
from memory_core.stats import (
    PREVIEW_CHARS,
    Bucket,
    GrowthPoint,
    HistogramBin,
    MemoryStats,
    SizedMemory,
    TagCount,
    check_positive,
)
from memory_core.usage import NO_LOG, Deferred, LogSettings, Retrieval, RetrievalLog, Usage, UsedMemory

log = logging.getLogger(__name__)
T = TypeVar("T")
Conn = psycopg.AsyncConnection
_BACKFILL_BATCH = 256
# maintenance_work_mem of a bulk load's index build, on its own connection: pgvector builds the graph in memory
# while it fits (about 300,000 vectors of 384 dimensions), then goes on much slower on disk
BUILD_MEMORY = "512MB"


def session_options(state: SchemaState) -> str:
    """Startup options of every pooled connection (no round trip needed to set them)."""
    # psycopg prepares repeated statements, and a generic plan of a prepared search cannot see that one
    # user's rows are few: it intersects the whole full-text index (50 ms at 1M rows instead of 1 ms)
    options = [f"search_path={state.search_path}", "TimeZone=UTC", "plan_cache_mode=force_custom_plan",
               f"pg_trgm.word_similarity_threshold={FUZZY_THRESHOLD}"]
    if state.vectors and state.hnsw_iterative_scan:
        options.append("hnsw.iterative_scan=relaxed_order")  # filtered HNSW scans keep going until top-k
    return " ".join(f"-c {o}" for o in options)


class PostgresMemory(RecordSearch, HidesFromAgent, MemoryEditor, MemoryBrowser, MemoryStats, RetrievalLog, Scrubbing,
                     BulkLoading):
    """Build with :meth:`open`, release with :meth:`aclose` (the registered factory does both)."""

    def __init__(self, server: Server, pool: AsyncConnectionPool, state: SchemaState, language: str,
                 embedder: Embedder | None, *, track_retrievals: bool = True,
                 retrieval_log: LogSettings = NO_LOG) -> None:
        self._server, self._pool, self._state = server, pool, state
        self._track, self._log, self._counting = track_retrievals, retrieval_log, Deferred()
        self._in_use = 0  # pooled connections handed out and not yet returned
        self._language = language
        self._embedder = embedder if state.vectors else None
        #: Why vector search is off although an embedder is configured (for the dashboard), else ``None``.
        self.vector_unavailable_reason = state.vector_unavailable_reason
        #: The ``search_path`` of the store's connections, for tools running SQL next to it.
        self.search_path = state.search_path

    @classmethod
    async def open(cls, server: Server, *, schema: str, language: str, embedder: Embedder | None,
                   pool_min: int, pool_max: int, track_retrievals: bool = True,
                   retrieval_log: LogSettings = NO_LOG) -> PostgresMemory:
        """Connect, migrate ``schema``, open the pool and embed rows that have no vector yet."""
        conn = await server.connect()
        try:
            state = await migrate(conn, schema, language, embedder)
        except psycopg.Error as exc:
            raise server.unavailable("migrating the schema", exc) from None
        finally:
            await conn.close()
        if state.vector_unavailable_reason:
            log.warning("postgres store at %s: %s", server.target, state.vector_unavailable_reason)
        pooled = Server(server.conninfo, server.connect_timeout, session_options(state))
        store = cls(pooled, await pooled.open_pool(pool_min, pool_max), state, language, embedder,
                    track_retrievals=track_retrievals, retrieval_log=retrieval_log)
        try:
            await store.backfill_vectors()
        except BaseException:
            await store.aclose()
            raise
        return store

    async def aclose(self) -> None:
        await self._counting.settled()
        await self._pool.close()

    @property
    def capabilities(self) -> frozenset[Capability]:
        vector = {Capability.VECTOR_SEARCH} if self._embedder else set()
        return BROWSE_ALL - {Capability.VECTOR_SEARCH} | vector

    # --- running statements ----------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Conn]:
        """A pooled connection, or a direct one while the pool is still reconnecting to a restarted server
        (its backoff between attempts can outlast the wait). A pool that is only busy is never bypassed:
        ``pool_max`` bounds the connections under load."""
        try:
            conn = await self._pool.getconn()
        except PoolTimeout as exc:
            if self._in_use >= self._pool.max_size:
                raise await self._server.diagnose(exc) from None
            conn = None
        if conn is None:
            async with await self._server.connect() as direct:  # closed on the way out
                yield direct
            return
        self._in_use += 1
        try:
            yield conn
        finally:
            self._in_use -= 1
            await self._pool.putconn(conn)

    async def _read(self, doing: str, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run a read; a connection lost on the way is retried once on a fresh connection."""
        for attempt in (1, 2):
            try:
                async with self._connection() as conn:
                    return await fn(conn)
            except psycopg.OperationalError as exc:
                if attempt == 2 or isinstance(exc, psycopg.errors.QueryCanceled):
                    raise self._server.unavailable(doing, exc) from None
                log.warning("postgres %s: connection lost (%s); retrying once", doing, self._server.scrub(str(exc)))
        raise AssertionError("unreachable")

    async def _write(self, doing: str, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run a change in one transaction: it is saved whole or not at all, and never retried."""
        try:
            async with self._connection() as conn, conn.transaction():
                return await fn(conn)
        except psycopg.OperationalError as exc:
            raise self._server.unavailable(f"{doing} (one transaction: nothing of it was saved unless the "
                                           "commit itself was cut off)", exc) from None
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            raise InvalidInputError(f"{doing}: PostgreSQL refused it, nothing was written: "
                                    f"{self._server.scrub(str(exc))}") from None

    async def _fetch(self, conn: Conn, query: str, params: Sequence[Any] | dict[str, Any]) -> list[tuple]:
        cur = await conn.execute(query, params)
        return await cur.fetchall()

    async def _vectors(self, texts: Sequence[str]) -> list[str | None] | None:
        """Text-form vectors (``None`` for a text that embeds to zero), or ``None`` without vector search."""
        found = await self._embeddings(texts)
        return None if found is None else [None if v is None else rows.vector_literal(v) for v in found]

    async def _embeddings(self, texts: Sequence[str]) -> list[np.ndarray | None] | None:
        """Vectors (``None`` for a text that embeds to zero), or ``None`` without vector search."""
        if self._embedder is None or not texts:
            return None
        return [v if np.any(v) else None for v in await self._embedder.embed(list(texts))]

    async def backfill_vectors(self) -> None:
        """Embed rows stored without a vector (written without an embedder, or before a model change)."""
        total = 0
        while self._embedder is not None:
            missing = await self._read("reading rows to embed", lambda c: self._fetch(
                c, f"SELECT {rows.RECORD_COLUMNS} FROM memories WHERE embedding IS NULL LIMIT %s", (_BACKFILL_BATCH,)))
            if not missing:
                break
            records = [rows.to_record(r) for r in missing]
            vectors = await self._vectors([embedding_text(r.item) for r in records]) or []
            # a text without features gets a zero vector: stored, so it is not embedded again, never matched
            params = [(v or rows.vector_literal(np.zeros(self._embedder.dimension)), r.id, r.version)
                      for v, r in zip(vectors, records, strict=True)]
            await self._write("storing vectors", lambda c, p=params: _executemany(
                c, "UPDATE memories SET embedding = %s::vector WHERE id = %s AND version = %s", p))
            total += len(records)
        if total:
            log.info("postgres store at %s: embedded %d stored memories", self._server.target, total)

    # --- toolkit interface ------------------------------------------------------------------------------
    async def add_items(self, items: list[MemoryItem], **kwargs: Any) -> None:
        now = utcnow()
        records = [MemoryRecord(id=new_id(), item=item, created_at=now, updated_at=now)
                   for item in validate_items(items)]
        await self._insert("adding memories", records, replace=False)

    async def remove_items(self, **kwargs: Any) -> None:
        kind, target = remove_target(kwargs)
        if kind == "ids":
            await self.delete_records(target)
        else:
            await self._write("removing a user's memories",
                              lambda c: c.execute("DELETE FROM memories WHERE user_id = %s", (target,)))

    # --- browsing ---------------------------------------------------------------------------------------
    @property
    def notes(self) -> list[str]:
        return [f"vector search is off: {self.vector_unavailable_reason}"] if self.vector_unavailable_reason else []

    async def ping(self) -> None:
        await self._read("ping", lambda c: c.execute("SELECT 1"))

    async def scrub(self) -> None:
        """``VACUUM`` of the memories table (pooled connections are in autocommit, as VACUUM needs): deleted rows'
        space and index entries are freed. Their bytes may stay in the table's files until PostgreSQL reuses the
        space; ``VACUUM FULL`` rewrites the files under an exclusive lock (docs/security.md "Erasure")."""
        await self._read("vacuuming the memories table", lambda c: c.execute("VACUUM memories"))

    async def search_records(self, query: str, *, user_id: str | None, top_k: int = 5,
                             similarity_threshold: float | None = None) -> list[ScoredRecord]:
        query, top_k, user_id, threshold = search_args(query, top_k, {"user_id": user_id,
                                                                      "similarity_threshold": similarity_threshold})
        vectors = await self._vectors([query]) if query.strip() else None
        plan = SearchPlan.of(query, vectors[0] if vectors else None)
        if plan.empty:
            return []
        found = await self._read("search", lambda c: self._fetch(
            c, plan.statement(), plan.params(user_id, top_k, self._language)))
        return ranked(query, found, top_k, threshold)

    async def list_users(self, *, prefix: str = "", limit: int = 50, cursor: str | None = None) -> UserPage:
        check_limit(limit)
        after = decode_cursor(cursor)[0] if cursor else None
        query = ("SELECT user_id, count(*), max(updated_at) FROM memories WHERE user_id LIKE %s "
                 f"{'AND user_id > %s ' if after is not None else ''}GROUP BY user_id ORDER BY user_id LIMIT %s")
        params = [filters.like_escape(prefix) + "%", *([str(after)] if after is not None else []), limit + 1]
        found = await self._read("listing users", lambda c: self._fetch(c, query, params))
        users = [UserSummary(user_id=u, memory_count=n, last_activity=last) for u, n, last in found[:limit]]
        more = len(found) > limit
        return UserPage(users=users, next_cursor=encode_cursor(users[-1].user_id) if more else None)

    async def list_records(self, filter: MemoryFilter, *, sort: Sort = Sort(), limit: int = 50,
                           cursor: str | None = None) -> RecordPage:
        check_limit(limit)
        await ready_for_use(filter, sort, self._track, self._counting)
        query, params = filters.page_query(filter, sort, limit, cursor, rows.RECORD_COLUMNS)
        found = await self._read("listing memories", lambda c: self._fetch(c, query, params))
        more = len(found) > limit
        page = found[:limit]
        return RecordPage(records=[rows.to_record(r) for r in page],
                          next_cursor=filters.cursor_after(page[-1]) if more else None)

    async def count_records(self, filter: MemoryFilter) -> int:
        await ready_for_use(filter, Sort(), self._track, self._counting)
        clauses, params = filters.where(filter)
        query = f"SELECT count(*) FROM memories WHERE {' AND '.join(clauses) or 'TRUE'}"
        found = await self._read("counting memories", lambda c: self._fetch(c, query, params))
        return int(found[0][0])

    async def _get(self, record_id: str) -> MemoryRecord | None:
        found = await self._read("reading a memory", lambda c: self._fetch(
            c, f"SELECT {rows.RECORD_COLUMNS} FROM memories WHERE id = %s", (record_id,)))
        return rows.to_record(found[0]) if found else None

    async def get_record(self, record_id: str) -> MemoryRecord:
        record = await self._get(record_id)
        if record is None:
            raise NotFoundError(f"no memory with id {record_id}")
        return record

    async def update_record(self, record_id: str, patch: MemoryPatch, *, expected_version: int) -> MemoryRecord:
        current = await self._get(record_id)
        if current is None or current.version != expected_version:
            raise VersionConflictError(record_id, expected_version, current)
        item = validate_items([patch.apply(current.item)])[0]
        updated = current.model_copy(update={"item": item, "updated_at": utcnow(), "version": current.version + 1})
        assignments = [f"{column} = %s" for column in rows.WRITE_COLUMNS[1:]]
        params: list[Any] = list(rows.write_row(updated, None, False)[1:])
        text = embedding_text(item)
        if text != embedding_text(current.item) and self._state.embedding_column:
            # a new vector, or none (re-embedded later) when this process has no embedder
            assignments.append("embedding = %s::vector")
            params.append((await self._vectors([text]) or [None])[0])
        statement = f"UPDATE memories SET {', '.join(assignments)} WHERE id = %s AND version = %s"
        cur = await self._write("updating a memory", lambda c: c.execute(statement, [*params, record_id,
                                                                                     expected_version]))
        if cur.rowcount != 1:
            raise VersionConflictError(record_id, expected_version, await self._get(record_id))
        return updated

    # --- statistics (SQL aggregates, memory_core.stats) ---------------------------------------------------
    async def user_histogram(self, bins: int = 10) -> list[HistogramBin]:
        check_positive(bins, "bins")
        return await self._read("computing statistics", lambda c: stats.user_histogram(c, bins))

    async def top_tags(self, n: int = 10) -> list[TagCount]:
        check_positive(n, "n")
        return await self._read("computing statistics", lambda c: stats.top_tags(c, n))

    async def growth(self, bucket: Bucket = Bucket.DAY) -> list[GrowthPoint]:
        bucket = Bucket(bucket)
        return await self._read("computing statistics", lambda c: stats.growth(c, bucket))

    async def largest(self, n: int = 10) -> list[SizedMemory]:
        check_positive(n, "n")
        return await self._read("computing statistics", lambda c: stats.largest(c, n))

    async def never_retrieved(self, n: int = 10) -> list[SizedMemory]:
        if not self._track:
            return await super().never_retrieved(n)
        check_positive(n, "n")
        await self._counting.settled()
        return await self._read("computing statistics", lambda c: stats.never_retrieved(c, n))

    # --- retrievals (memory_core.usage) -----------------------------------------------------------------------
    @property
    def tracks_retrievals(self) -> bool:
        return self._track

    @property
    def browses_by_use(self) -> bool:
        return True

    @property
    def retrieval_log(self) -> LogSettings:
        return self._log

    async def note_retrieved(self, ids: Sequence[str], at: dt.datetime, query: str = "") -> None:
        """Written after the search answered; only for memories that still exist. A memory being deleted meanwhile
        is skipped, not waited for, and rows are locked in id order: an operator's delete never deadlocks with it."""
        events = self._log.events(ids, query) if self._log.keep else []

        async def write(c: Conn) -> None:
            cur = await c.execute("SELECT id FROM memories WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE SKIP LOCKED",
                                  (list(ids),))
            kept = [row[0] for row in await cur.fetchall()]
            if not kept:
                return
            await c.execute("INSERT INTO retrievals (id, count, last_at) SELECT unnest(%s::text[]), 1, %s "
                            "ON CONFLICT (id) DO UPDATE SET count = retrievals.count + 1, "
                            "last_at = greatest(retrievals.last_at, excluded.last_at)", (kept, at))
            locked = set(kept)
            logged = [event for event in events if event[0] in locked]
            if logged:
                await c.execute("INSERT INTO retrieval_events (id, at, rank, query_hash, query) SELECT e.id, %s, "
                                "e.rank, e.query_hash, e.query FROM unnest(%s::text[], %s::int[], %s::text[], "
                                "%s::text[]) AS e (id, rank, query_hash, query)",
                                (at, *map(list, zip(*logged, strict=True))))
                await c.execute("DELETE FROM retrieval_events d USING (SELECT seq, row_number() OVER (PARTITION BY "
                                "id ORDER BY at DESC, seq DESC) AS newest FROM retrieval_events WHERE id = ANY(%s)) "
                                "old WHERE d.seq = old.seq AND old.newest > %s", (kept, self._log.keep))

        self._counting.start(self._write("counting retrievals", write))

    async def retrievals(self, memory_id: str, n: int = 20) -> list[Retrieval]:
        await self._counting.settled()
        rows = await self._read("reading the retrieval log", lambda c: self._fetch(
            c, "SELECT at, rank, query_hash, query FROM retrieval_events WHERE id = %s ORDER BY at DESC, seq DESC "
               "LIMIT %s",
            (memory_id, check_positive(n, "n"))))
        return [Retrieval(at=at, rank=rank, query_hash=digest, query=text) for at, rank, digest, text in rows]

    async def usage(self, ids: Sequence[str]) -> dict[str, Usage]:
        await self._counting.settled()
        rows = await self._read("reading retrieval counts", lambda c: self._fetch(
            c, "SELECT id, count, last_at FROM retrievals WHERE id = ANY(%s)", ([str(i) for i in ids],)))
        return {rid: Usage(retrievals=count, last_retrieved=last) for rid, count, last in rows}

    async def most_used(self, n: int = 10) -> list[UsedMemory]:
        await self._counting.settled()
        rows = await self._read("reading retrieval counts", lambda c: self._fetch(
            c, "SELECT m.id, m.user_id, left(coalesce(m.memory, ''), %s), r.count, r.last_at FROM retrievals r "
               "JOIN memories m USING (id) ORDER BY r.count DESC, r.last_at DESC, m.id LIMIT %s",
            (PREVIEW_CHARS, check_positive(n, "n"))))
        return [UsedMemory(id=rid, user_id=uid, preview=text, retrievals=count, last_retrieved=last)
                for rid, uid, text, count, last in rows]

    async def delete_records(self, record_ids: Sequence[str]) -> int:
        ids = [str(i) for i in record_ids]
        if not ids:
            return 0
        cur = await self._write("deleting memories",
                                lambda c: c.execute("DELETE FROM memories WHERE id = ANY(%s)", (ids,)))
        return cur.rowcount

    async def add_records(self, records: Sequence[MemoryRecord]) -> None:
        await self._insert("importing memories", validate_records(records), replace=True)

    @contextlib.asynccontextmanager
    async def bulk_loading(self) -> AsyncIterator[None]:
        """Write many batches without the HNSW index: it is dropped on entry and built once on the way out
        (``CREATE INDEX CONCURRENTLY``, reads and writes go on meanwhile), instead of each row being inserted
        into the graph. Vector search stays exact in between; a process that dies inside leaves the index to
        the next :meth:`open`, which builds it."""
        if self._embedder is None or self._embedder.dimension > HNSW_MAX_DIMENSION:
            yield
            return
        await self._read("dropping the vector index for a bulk load",
                         lambda c: c.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}"))
        try:
            yield
        finally:
            await self._build_vector_index()

    async def _build_vector_index(self) -> None:
        """The HNSW index built at once, on a connection of its own with room to build the graph in memory."""
        try:
            async with await self._server.connect() as conn:
                if await hnsw_valid(conn):  # another process's bulk load built it meanwhile
                    return
                await conn.execute(f"SET maintenance_work_mem = '{BUILD_MEMORY}'")
                await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {HNSW_INDEX}")  # an invalid leftover
                await conn.execute(hnsw_statement(concurrently=True))
        except psycopg.Error as exc:
            raise self._server.unavailable("building the vector index (the next start builds it)", exc) from None

    async def _insert(self, doing: str, records: list[MemoryRecord], *, replace: bool) -> None:
        """Write ``records`` in one transaction (COPY); ``replace`` first drops rows with the same ids."""
        if not records:
            return
        vectors = await self._embeddings([embedding_text(r.item) for r in records])

        async def write(conn: Conn) -> None:
            if replace:
                await conn.execute("DELETE FROM memories WHERE id = ANY(%s)", ([r.id for r in records],))
            await rows.copy_records(conn, records, vectors)

        await self._write(doing, write)


async def _executemany(conn: Conn, statement: str, params: Sequence[Sequence[Any]]) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(statement, params)
