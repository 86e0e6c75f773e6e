"""``SqliteMemory``: the toolkit's MemoryEditor and memdash's MemoryBrowser over one SQLite file."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from memory_core import retrieval
from memory_core.embedders.base import Embedder
from memory_core.errors import InvalidInputError, NotFoundError, StoreUnavailableError, VersionConflictError
from memory_core.interfaces import BROWSE_ALL, Capability, MemoryBrowser, MemoryEditor, Scrubbing
from memory_core.items import new_id, validate_items, validate_records
from memory_core.life import HidesFromAgent
from memory_core.models import MemoryItem
from memory_core.providers.common import (
    RecordSearch,
    check_limit,
    checked_vectors,
    kept,
    patched_item,
    ready_for_use,
    remove_target,
    search_args,
)
from memory_core.providers.sqlite import index, queries, schema, stats, vectors
from memory_core.providers.sqlite.codec import row_record
from memory_core.providers.sqlite.pool import Pool
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
    from_micros,
    to_micros,
    utcnow,
)
from memory_core.stats import Bucket, GrowthPoint, HistogramBin, MemoryStats, SizedMemory, TagCount, check_positive
from memory_core.usage import NO_LOG, Deferred, LogSettings, Retrieval, RetrievalLog, Usage, UsedMemory

log = logging.getLogger(__name__)

DEFAULT_TOKENIZER = "porter unicode61 remove_diacritics 2"
_EMBED_BATCH = 256


class SqliteMemory(RecordSearch, HidesFromAgent, MemoryEditor, MemoryBrowser, MemoryStats, RetrievalLog, Scrubbing):
    """Memories in one SQLite file (WAL): FTS5 BM25 scoped per user, optional vectors, every browsing call.

    Open with ``await SqliteMemory.open(path, embedder=...)`` and close with ``await store.aclose()`` (or use
    ``async with``). Opening migrates the schema and, in the same transaction, rebuilds the text index when
    ``retrieval``'s columns or ``document_fields``, or the tokenizer, changed, and embeds every memory that
    has no vector from the configured embedder's model and the current ``retrieval.embedding_text``.
    """

    def __init__(self, pool: Pool, embedder: Embedder | None, *, track_retrievals: bool = True,
                 retrieval_log: LogSettings = NO_LOG) -> None:
        self._pool = pool
        self._embedder = embedder
        self._track, self._log = track_retrievals, retrieval_log
        self._counting = Deferred()  # retrieval counts being written after a search returned

    @classmethod
    async def open(cls, path: str | os.PathLike[str], *, embedder: Embedder | None = None,
                   fts_tokenizer: str = DEFAULT_TOKENIZER, busy_timeout_ms: int = 5000,
                   track_retrievals: bool = True, retrieval_log: LogSettings = NO_LOG) -> SqliteMemory:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(Pool(path, busy_timeout_ms=busy_timeout_ms), embedder, track_retrievals=track_retrievals,
                    retrieval_log=retrieval_log)
        try:
            await store._prepare(fts_tokenizer)
        except BaseException:
            await store._pool.close()
            raise
        return store

    async def _prepare(self, tokenizer: str) -> None:
        await self._pool.on_writer(_execute, "PRAGMA journal_mode = WAL")
        async with self._pool.write_session():
            await self._pool.on_writer(schema.migrate, str(self._pool.path))
            await self._pool.on_writer(index.ensure, tokenizer)
            if self._embedder is not None:
                await self._fill_vectors(self._embedder)

    async def _fill_vectors(self, embedder: Embedder) -> None:
        await self._pool.on_writer(vectors.reset_if_changed, embedder.model_id)
        after = 0
        while batch := await self._pool.on_writer(queries.fill_vectors, after, _EMBED_BATCH):
            embedded = await self._vectors([item for _, item in batch])
            await self._pool.on_writer(vectors.put, [(rid, item.user_id, vector)
                                                     for (rid, item), vector in zip(batch, embedded, strict=True)])
            after = batch[-1][0]

    async def aclose(self) -> None:
        """Close every connection (the embedder belongs to whoever passed it in); closing twice is harmless."""
        if self._pool.closed:
            return
        await self._counting.settled()
        try:
            await self._pool.on_writer(_execute, "PRAGMA optimize")
        except StoreUnavailableError as exc:  # opportunistic: another process may hold the write lock
            log.debug("PRAGMA optimize skipped at close: %s", exc)
        finally:
            await self._pool.close()

    async def __aenter__(self) -> SqliteMemory:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def path(self) -> Path:
        return self._pool.path

    @property
    def capabilities(self) -> frozenset[Capability]:
        return BROWSE_ALL - (set() if self._embedder else {Capability.VECTOR_SEARCH})

    async def ping(self) -> None:
        await self._pool.read(_execute, "SELECT 1")

    # --- toolkit interface -------------------------------------------------------------------------------
    async def add_items(self, items: list[MemoryItem], **kwargs) -> None:
        valid = validate_items(items)
        now = to_micros(utcnow())
        embedded = await self._vectors(valid)
        rows = [queries.NewRow(new_id(), item, now, now, vector=vector)
                for item, vector in zip(valid, embedded, strict=True)]
        if rows:
            await self._pool.write(queries.insert, rows)

    async def remove_items(self, **kwargs) -> None:
        kind, target = remove_target(kwargs)
        if kind == "ids":
            await self._pool.write(queries.delete, target)
        else:
            await self._pool.write(queries.delete_user, target)

    # --- browsing ------------------------------------------------------------------------------------------
    async def search_records(self, query: str, *, user_id: str | None, top_k: int = 5,
                             similarity_threshold: float | None = None) -> list[ScoredRecord]:
        """Text (and vector) candidates of the user, ranked by :func:`memory_core.retrieval.rank`.

        A blank query matches nothing.
        """
        query, top_k, user_id, threshold = search_args(query, top_k, {"user_id": user_id,
                                                                      "similarity_threshold": similarity_threshold})
        if not query.strip():
            return []
        query_vector = None
        if self._embedder is not None:
            query_vector = checked_vectors(await self._embedder.embed([query]), 1, self._embedder)[0]
        found = await self._pool.read(queries.candidates, user_id, query, retrieval.candidate_pool(top_k),
                                      query_vector)
        rows = {candidate.id: row for candidate, row in found}
        ranked = retrieval.rank(query, [candidate for candidate, _ in found], top_k)
        return kept((ScoredRecord(record=row_record(rows[rid]), score=score, parts=parts)
                     for rid, score, parts in ranked), threshold)

    async def list_users(self, *, prefix: str = "", limit: int = 50, cursor: str | None = None) -> UserPage:
        check_limit(limit)
        after = None
        if cursor:
            values = decode_cursor(cursor)
            if len(values) != 1 or not isinstance(values[0], str):
                raise InvalidInputError(f"invalid page cursor {cursor!r}")
            after = values[0]
        rows = await self._pool.read(queries.users, prefix, limit + 1, after)
        users = [UserSummary(user_id=uid, memory_count=n, last_activity=from_micros(last)) for uid, n, last in rows]
        more = len(users) > limit
        return UserPage(users=users[:limit], next_cursor=encode_cursor(users[limit - 1].user_id) if more else None)

    async def list_records(self, filter: MemoryFilter, *, sort: Sort = Sort(), limit: int = 50,
                           cursor: str | None = None) -> RecordPage:
        check_limit(limit)
        await ready_for_use(filter, sort, self._track, self._counting)
        records, next_cursor = await self._pool.read(queries.page, filter, sort, limit, cursor)
        return RecordPage(records=records, next_cursor=next_cursor)

    async def count_records(self, filter: MemoryFilter) -> int:
        await ready_for_use(filter, Sort(), self._track, self._counting)
        return await self._pool.read(queries.count, filter)

    async def get_record(self, record_id: str) -> MemoryRecord:
        record = await self._pool.read(queries.get, record_id)
        if record is None:
            raise NotFoundError(f"no memory with id {record_id}")
        return record

    async def get_records(self, record_ids: Sequence[str]) -> dict[str, MemoryRecord]:
        return await self._pool.read(queries.get_many, list(record_ids))

    async def update_record(self, record_id: str, patch: MemoryPatch, *, expected_version: int) -> MemoryRecord:
        before = await self._pool.read(queries.get, record_id)
        if before is None or before.version != expected_version:
            raise VersionConflictError(record_id, expected_version, before)
        item = patched_item(before, patch)
        vector = None
        if retrieval.embedding_text(item) != retrieval.embedding_text(before.item):
            vector = (await self._vectors([item]))[0]
        return await self._pool.write(queries.update, before, item, vector, to_micros(utcnow()))

    async def delete_records(self, record_ids: Sequence[str]) -> int:
        if isinstance(record_ids, str):
            raise InvalidInputError("delete_records expects a list of ids, not one string")
        return await self._pool.write(queries.delete, [str(rid) for rid in record_ids])

    async def add_records(self, records: Sequence[MemoryRecord]) -> None:
        """Insert records as given (ids, timestamps, versions); a record whose id exists replaces it."""
        latest = validate_records(records)
        embedded = await self._vectors([record.item for record in latest])
        rows = [queries.NewRow(r.id, r.item, to_micros(r.created_at), to_micros(r.updated_at), r.version, vector)
                for r, vector in zip(latest, embedded, strict=True)]
        if rows:
            await self._pool.write(queries.upsert, rows)

    # --- statistics (SQL aggregates, memory_core.stats) ---------------------------------------------------
    async def user_histogram(self, bins: int = 10) -> list[HistogramBin]:
        return await self._pool.read(stats.user_histogram, check_positive(bins, "bins"))

    async def top_tags(self, n: int = 10) -> list[TagCount]:
        return await self._pool.read(stats.top_tags, check_positive(n, "n"))

    async def growth(self, bucket: Bucket = Bucket.DAY) -> list[GrowthPoint]:
        return await self._pool.read(stats.growth, Bucket(bucket))

    async def largest(self, n: int = 10) -> list[SizedMemory]:
        return await self._pool.read(stats.largest, check_positive(n, "n"))

    # --- retrievals -----------------------------------------------------------------------------------------
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
        self._counting.start(self._pool.write(stats.note_retrieved, list(ids), to_micros(at), query, self._log))

    async def retrievals(self, memory_id: str, n: int = 20) -> list[Retrieval]:
        await self._counting.settled()
        return await self._pool.read(stats.retrievals, memory_id, check_positive(n, "n"))

    async def usage(self, ids: Sequence[str]) -> dict[str, Usage]:
        await self._counting.settled()
        return await self._pool.read(stats.usage, list(ids))

    async def most_used(self, n: int = 10) -> list[UsedMemory]:
        await self._counting.settled()
        return await self._pool.read(stats.most_used, check_positive(n, "n"))

    async def never_retrieved(self, n: int = 10) -> list[SizedMemory]:
        await self._counting.settled()
        return await self._pool.read(stats.never_retrieved, check_positive(n, "n"))

    # --- erasure --------------------------------------------------------------------------------------------
    async def scrub(self) -> None:
        """Leave no deleted memory's text in the file: the full-text index merged into one segment (the terms
        of deleted rows go; this SQLite's FTS5 has no 'secure-delete' option), every page rewritten from the
        live rows (``VACUUM``: free space left before ``secure_delete`` was on goes too), and the WAL
        checkpointed and truncated. ``StoreUnavailableError`` when another connection's read keeps the WAL."""
        await self._pool.write(index.optimize)
        await self._pool.on_writer(_execute, "VACUUM")
        busy = await self._pool.on_writer(_truncate_wal)
        if busy:
            raise StoreUnavailableError(f"sqlite store {self.path}: another process is reading it, so its "
                                        "write-ahead log still holds deleted pages; run the erasure again")

    # --- helpers -------------------------------------------------------------------------------------------
    async def _vectors(self, items: list[MemoryItem]) -> list[np.ndarray | None]:
        """Embeddings of the items, or ``None`` each when no embedder is configured."""
        if self._embedder is None or not items:
            return [None] * len(items)
        embedded = await self._embedder.embed([retrieval.embedding_text(item) for item in items])
        return list(checked_vectors(embedded, len(items), self._embedder))






def _execute(conn: sqlite3.Connection, sql: str) -> None:
    conn.execute(sql)


def _truncate_wal(conn: sqlite3.Connection) -> bool:
    """Checkpoint the WAL into the file and truncate it to zero bytes; whether a reader kept it from finishing."""
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return bool(busy)
