"""``RedisMemory``: the toolkit's MemoryEditor and memdash's MemoryBrowser over toolkit-layout documents."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np

from memory_core import retrieval
from memory_core.embedders.base import Embedder
from memory_core.errors import InvalidInputError, NotFoundError, UnsupportedError, VersionConflictError
from memory_core.interfaces import BROWSE_ALL, Capability, MemoryBrowser, MemoryEditor
from memory_core.items import validate_items, validate_records
from memory_core.life import HidesFromAgent
from memory_core.models import MemoryItem
from memory_core.providers.common import (
    RecordSearch,
    check_limit,
    checked_vectors,
    kept,
    patched_item,
    remove_target,
    search_args,
)
from memory_core.providers.redis import documents, query, stats, usage, users
from memory_core.providers.redis import reach as agent_reach
from memory_core.providers.redis.access import CHUNK, Documents
from memory_core.providers.redis.connection import Link
from memory_core.providers.redis.schema import (
    SEPARATOR,
    KeySpace,
    VectorIndex,
    ensure_browse_index,
    existing_vector_index,
    vector_index,
)
from memory_core.reach import AgentReach, Reach
from memory_core.records import (
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    RecordPage,
    ScoredRecord,
    Sort,
    UserPage,
    decode_cursor,
    encode_cursor,
    require_time_sort,
    to_micros,
    utcnow,
)
from memory_core.stats import (
    Bucket,
    GrowthPoint,
    HistogramBin,
    MemoryStats,
    SizedMemory,
    TagCount,
    check_positive,
)
from memory_core.usage import NO_LOG, Deferred, LogSettings, Retrieval, RetrievalLog, Usage, UsedMemory

_SCAN_BATCH = 256  # rows read per round when a filter is checked in Python


@dataclasses.dataclass(frozen=True)
class InvalidKey:
    """A key under the memory prefix that does not hold a memory document."""

    id: str
    key: str
    reason: str


class RedisMemory(RecordSearch, HidesFromAgent, MemoryEditor, MemoryBrowser, MemoryStats, AgentReach, RetrievalLog):
    """Memories as ``{prefix}:memory:<id>`` RedisJSON documents, readable and writable by the toolkit's
    ``redis_memory`` store. Open with ``await RedisMemory.open(...)``, close with ``await store.aclose()``."""

    def __init__(self, docs: Documents, embedder: Embedder | None, vectors: VectorIndex | None, *,
                 track_retrievals: bool = True, retrieval_log: LogSettings = NO_LOG) -> None:
        self._docs = docs
        self._space = docs.space
        self._embedder = embedder
        self._vectors = vectors
        self._track, self._log, self._counting = track_retrievals, retrieval_log, Deferred()

    @classmethod
    async def open(cls, *, host: str = "localhost", port: int = 6379, db: int = 0, password: str | None = None,
                   key_prefix: str = "nat", embedder: Embedder | None = None,
                   track_retrievals: bool = True, retrieval_log: LogSettings = NO_LOG) -> RedisMemory:
        """Connect, create missing indexes and wait until they cover every existing document."""
        if not key_prefix:
            raise InvalidInputError("key_prefix must not be empty")
        link = Link.connect(host, port, db, password)
        try:
            await link.execute("PING")
            space = KeySpace(key_prefix)
            await ensure_browse_index(link, space)
            docs = Documents(link, space)
            await docs.measure()
            await users.build(docs)
            vectors = await vector_index(link, space, embedder.dimension) if embedder else None
        except BaseException:
            await link.aclose()
            raise
        return cls(docs, embedder, vectors, track_retrievals=track_retrievals, retrieval_log=retrieval_log)

    async def aclose(self) -> None:
        await self._counting.settled()
        await self._docs.link.aclose()

    @property
    def vector_index(self) -> str | None:
        """The toolkit-shaped index KNN queries run on (``None`` without an embedder)."""
        return self._vectors.name if self._vectors else None

    @property
    def invalid_seen(self) -> dict[str, str]:
        """Keys met while reading that are not valid memory documents, with the reason (they were skipped)."""
        return dict(self._docs.invalid_seen)

    @property
    def capabilities(self) -> frozenset[Capability]:
        return BROWSE_ALL - (set() if self._embedder else {Capability.VECTOR_SEARCH})

    async def ping(self) -> None:
        await self._docs.link.execute("PING")

    # --- toolkit interface -------------------------------------------------------------------------------
    async def add_items(self, items: list[MemoryItem], **kwargs) -> None:
        valid = validate_items(items)
        if not valid:
            return
        now = to_micros(utcnow())
        vectors = await self._embed(valid)
        docs = [documents.dumps(documents.encode(item, created_us=now, updated_us=now, version=1, vector=vector),
                                f"item {position}")
                for position, (item, vector) in enumerate(zip(valid, vectors, strict=True))]
        await self._docs.insert_new(docs, [item.user_id for item in valid], now)

    async def remove_items(self, **kwargs) -> None:
        """Delete by ``memory_id``/``memory_ids``, else every memory of ``user_id`` (only that user's)."""
        kind, target = remove_target(kwargs)
        if kind == "ids":
            await self.delete_records(target)
            return
        await self._docs.adopt()
        keys = [row["__key"] async for row in self._docs.rows(query.user_match(str(target)), "@__key")]
        for start in range(0, len(keys), CHUNK):
            await self._docs.delete(keys[start:start + CHUNK])

    # --- search --------------------------------------------------------------------------------------------
    async def search_records(self, query: str, *, user_id: str | None, top_k: int = 5,
                             similarity_threshold: float | None = None) -> list[ScoredRecord]:
        """Full text (and, with an embedder, KNN) candidates of the user, ranked by :func:`retrieval.rank`.

        A blank query matches nothing."""
        text, top_k, user_id, threshold = search_args(query, top_k, {"user_id": user_id,
                                                                     "similarity_threshold": similarity_threshold})
        if not text.strip():
            return []
        pool = retrieval.candidate_pool(top_k)
        await self._docs.adopt()
        text_scores = await self._text_hits(user_id, text, pool)
        vector_scores = await self._vector_hits(user_id, text, pool)
        loaded = await self._docs.load(list(dict.fromkeys([*text_scores, *vector_scores])))
        records = {r.id: r for r in loaded.values() if r.user_id == user_id}
        candidates = [retrieval.Candidate(id=r.id, item=r.item, text_score=text_scores.get(key),
                                          vector_score=vector_scores.get(key))
                      for key, r in loaded.items() if r.id in records]
        ranked = retrieval.rank(text, candidates, top_k)
        return kept((ScoredRecord(record=records[rid], score=score, parts=parts) for rid, score, parts in ranked),
                    threshold)

    async def _text_hits(self, user_id: str, text: str, pool: int) -> dict[str, float]:
        """``{key: BM25}`` over the memory and its conversation, in memdash's index."""
        terms = query.words(text)
        if not terms:
            return {}
        reply = await self._docs.link.query(
            "FT.SEARCH", self._space.browse_index, query.text_query(query.user_match(user_id), terms),
            "NOCONTENT", "WITHSCORES", "SCORER", "BM25STD", "LIMIT", 0, pool)
        return {hit["id"]: float(hit["score"]) for hit in reply.get("results", [])}

    async def _vector_hits(self, user_id: str, text: str, pool: int) -> dict[str, float]:
        """``{key: cosine}`` of the user's nearest vectors, from the toolkit's L2 index.

        RediSearch's L2 distance is the squared Euclidean distance ``d``; for unit vectors the cosine
        similarity is ``1 - d / 2``, clamped to ``[0, 1]``."""
        if self._embedder is None or self._vectors is None:
            return {}
        vector = (await self._embed_texts([text]))[0]
        if not np.any(vector):
            return {}
        user = query.tag_match("user_id", user_id, self._vectors.separator)
        reply = await self._docs.link.query(
            "FT.SEARCH", self._vectors.name, query.knn_query(user, pool), "PARAMS", 2, "vec", vector.tobytes(),
            "RETURN", 1, "vector_distance", "SORTBY", "vector_distance", "ASC", "LIMIT", 0, pool)
        hits = {}
        for hit in reply.get("results", []):
            if hit["id"].startswith(self._space.doc_prefix):
                distance = float(hit.get("extra_attributes", {}).get("vector_distance", 2.0))
                hits[hit["id"]] = min(max(1.0 - distance / 2.0, 0.0), 1.0)
        return hits

    # --- browsing ------------------------------------------------------------------------------------------
    async def list_users(self, *, prefix: str = "", limit: int = 50, cursor: str | None = None) -> UserPage:
        """A ``ZRANGE ... BYLEX`` of the users' sorted set, then each listed user's count and last activity from
        the index: the cost follows the page, not the store."""
        check_limit(limit)
        await self._docs.adopt()
        found, more = await users.page(self._docs, prefix, _user_cursor(cursor) if cursor else "", limit)
        return UserPage(users=found, next_cursor=encode_cursor(found[-1].user_id) if more else None)

    async def list_records(self, filter: MemoryFilter, *, sort: Sort = Sort(), limit: int = 50,
                           cursor: str | None = None) -> RecordPage:
        """Keyset pages over ``(sort field, seq)`` from memdash's index; filters the index cannot express
        exactly are checked in Python on batches, so deep pages cost the same as the first."""
        check_limit(limit)
        require_time_sort(sort)
        await self._docs.adopt()
        base, exact = query.filter_query(filter, SEPARATOR)
        if base is None:
            return RecordPage(records=[])
        after = _keyset_cursor(cursor)
        batch = limit + 1 if exact else max(limit + 1, _SCAN_BATCH)
        found: list[tuple[MemoryRecord, int, int]] = []
        while len(found) <= limit:
            rows, last = await self._docs.page_rows(base, sort, after, batch)
            records = await self._docs.load([key for key, _, _ in rows])
            found += [(records[key], value, seq) for key, value, seq in rows
                      if key in records and filter.matches(records[key])]
            if last or not rows:
                break
            after = rows[-1][1:]
        page = found[:limit]
        more = len(found) > limit
        return RecordPage(records=[r for r, _, _ in page], next_cursor=encode_cursor(*page[-1][1:]) if more else None)

    async def count_records(self, filter: MemoryFilter) -> int:
        await self._docs.adopt()
        base, exact = query.filter_query(filter, SEPARATOR)
        if base is None:
            return 0
        if exact:
            return await self._docs.total(base)
        keys = [row["__key"] async for row in self._docs.rows(base, "@__key")]
        count = 0
        for start in range(0, len(keys), CHUNK):
            records = await self._docs.load(keys[start:start + CHUNK])
            count += sum(1 for r in records.values() if filter.matches(r))
        return count

    async def get_record(self, record_id: str) -> MemoryRecord:
        key = self._space.key(str(record_id))
        record = (await self._docs.load([key])).get(key) if record_id else None
        if record is None:
            reason = self._docs.invalid_seen.get(key)
            raise NotFoundError(f"memory {record_id} is not a valid memory document: {reason}" if reason
                                else f"no memory with id {record_id}")
        return record

    async def update_record(self, record_id: str, patch: MemoryPatch, *, expected_version: int) -> MemoryRecord:
        key = self._space.key(str(record_id))
        before = await self.get_record(record_id)
        if before.version != expected_version:
            raise VersionConflictError(record_id, expected_version, before)
        item = patched_item(before, patch)
        doc = await self._docs.raw(key)
        if not isinstance(doc, dict):  # deleted (or replaced by something else) since it was read
            raise VersionConflictError(record_id, expected_version, None)
        now = max(to_micros(utcnow()), to_micros(before.updated_at) + 1)
        doc = {**doc, **documents.encode(item, created_us=doc["created_at"], updated_us=now,
                                         version=expected_version + 1, vector=None)}
        if retrieval.embedding_text(item) != retrieval.embedding_text(before.item):
            self._check_findable(record_id, doc)
            doc.pop("embedding", None)
            vector = (await self._embed([item]))[0]
            if vector is not None:
                doc["embedding"] = [float(x) for x in vector]
        doc["write"] = token = secrets.token_hex(16)  # tells this call's save from any other of the same version
        outcome = await self._docs.scripts.update(key, expected_version, documents.dumps(doc, f"memory {record_id}"),
                                                  token)
        if outcome != "ok":
            current = (await self._docs.load([key])).get(key)
            raise VersionConflictError(record_id, expected_version, current)
        return documents.decode(record_id, doc)

    def _check_findable(self, record_id: str, doc: dict[str, Any]) -> None:
        """A new text without a new vector would leave the agent's KNN search (the toolkit's ``memory_idx``) unable
        to find the memory: refused, before anything is written, when this store has no embedder to make one."""
        if self._embedder is None and doc.get("embedding"):
            raise InvalidInputError(
                f"memory {record_id} has a {len(doc['embedding'])}-dimensional vector from the agent's embedder, and "
                "this store has no embedder configured: a new text would be saved without a vector and the agent's "
                "search could no longer find it. Give the store the agent's embedder (embedder: in its config) to "
                "edit the text; tags and metadata can be edited as they are.")

    # --- statistics (computed by the server, memory_core.stats) -----------------------------------------------
    async def user_histogram(self, bins: int = 10) -> list[HistogramBin]:
        check_positive(bins, "bins")
        await self._docs.adopt()
        return await stats.user_histogram(self._docs, bins)

    async def top_tags(self, n: int = 10) -> list[TagCount]:
        check_positive(n, "n")
        await self._docs.adopt()
        return await stats.top_tags(self._docs, n)

    async def growth(self, bucket: Bucket = Bucket.DAY) -> list[GrowthPoint]:
        bucket = Bucket(bucket)
        await self._docs.adopt()
        return await stats.growth(self._docs, bucket)

    async def largest(self, n: int = 10) -> list[SizedMemory]:
        check_positive(n, "n")
        await self._docs.adopt()
        return await stats.largest(self._docs, n)

    async def never_retrieved(self, n: int = 10) -> list[SizedMemory]:
        if not self._track:
            return await super().never_retrieved(n)
        check_positive(n, "n")
        await self._counting.settled()
        await self._docs.adopt()
        return await stats.never_retrieved(self._docs, n)

    # --- retrievals (memory_core.usage) ------------------------------------------------------------------------
    @property
    def tracks_retrievals(self) -> bool:
        return self._track

    @property
    def retrieval_log(self) -> LogSettings:
        return self._log

    async def note_retrieved(self, ids: Sequence[str], at: dt.datetime, query: str = "") -> None:
        self._counting.start(usage.note(self._docs, list(ids), to_micros(at), query, self._log))

    async def retrievals(self, memory_id: str, n: int = 20) -> list[Retrieval]:
        await self._counting.settled()
        return await usage.retrievals(self._docs, memory_id, check_positive(n, "n"))

    async def usage(self, ids: Sequence[str]) -> dict[str, Usage]:
        await self._counting.settled()
        return await usage.usage(self._docs, list(ids))

    async def most_used(self, n: int = 10) -> list[UsedMemory]:
        await self._counting.settled()
        return await usage.most_used(self._docs, check_positive(n, "n"))

    async def delete_records(self, record_ids: Sequence[str]) -> int:
        if isinstance(record_ids, str):
            raise InvalidInputError("delete_records expects a list of ids, not one string")
        return await self._docs.delete(list(dict.fromkeys(self._space.key(str(rid)) for rid in record_ids)))

    async def add_records(self, records: Sequence[MemoryRecord]) -> None:
        """Insert records as given (ids, timestamps, versions); a record whose id exists replaces it."""
        latest = validate_records(records)
        vectors = await self._embed([record.item for record in latest])
        docs = [documents.dumps(documents.encode(r.item, created_us=to_micros(r.created_at),
                                                 updated_us=to_micros(r.updated_at), version=r.version,
                                                 vector=vector), f"record {r.id}")
                for r, vector in zip(latest, vectors, strict=True)]
        if docs:
            await self._docs.replace([self._space.key(r.id) for r in latest], docs, [r.user_id for r in latest])

    async def invalid_keys(self, limit: int = 1000) -> list[InvalidKey]:
        """Keys under the memory prefix that hold no valid memory document (found by ``SCAN``, not the index:
        keys of another type are invisible to the index)."""
        found: list[InvalidKey] = []
        async for keys in self._docs.scan():
            types = await self._docs.types(keys)
            json_keys = [key for key, kind in zip(keys, types, strict=True) if kind == "ReJSON-RL"]
            found += [InvalidKey(self._space.id_of(key) or key, key, f"a {kind} value, not a JSON document")
                      for key, kind in zip(keys, types, strict=True) if kind not in ("ReJSON-RL", "none")]
            valid = await self._docs.load(json_keys)
            found += [InvalidKey(self._space.id_of(key) or key, key, self._docs.invalid_seen.get(key, "invalid"))
                      for key in json_keys if key not in valid and key in self._docs.invalid_seen]
            if len(found) >= limit:
                break
        return found[:limit]

    # --- what the agent can find (memory_core.reach) ---------------------------------------------------------
    async def unfindable_reason(self, record_id: str) -> str | None:
        index = self._vectors or await existing_vector_index(self._docs.link, self._space)
        return await agent_reach.unfindable_reason(self._docs, index, self._space.key(str(record_id)))

    async def reach(self, examples: int = 20) -> Reach:
        return await agent_reach.reach(self._docs, self._vectors, examples, repairable=self._embedder is not None)

    async def give_vectors(self, record_ids: Sequence[str]) -> list[str]:
        """Embed (with this store's embedder, whose dimension matches the agent's index) the memories among
        ``record_ids`` without a vector of the index's dimension; a memory edited meanwhile is left alone."""
        if self._vectors is None:
            raise UnsupportedError("this store has no embedder to compute the agent's vectors: configure the "
                                   "embedder the agent uses (embedder: in the store's config)")
        keys = [self._space.key(str(rid)) for rid in dict.fromkeys(record_ids)]
        dims = await agent_reach.vector_dims(self._docs, keys)
        records = await self._docs.load([key for key in keys if key in dims and dims[key] != self._vectors.dim])
        given = []
        for (key, record), vector in zip(records.items(), await self._embed([r.item for r in records.values()]),
                                         strict=True):
            if vector is not None and await self._docs.scripts.set_vector(
                    key, record.version, agent_reach.vector_json(vector)) == "ok":
                given.append(record.id)
        return given

    # --- helpers -------------------------------------------------------------------------------------------
    async def _embed(self, items: Sequence[MemoryItem]) -> list[np.ndarray | None]:
        """Each item's vector (``None`` without an embedder or text to embed)."""
        if self._embedder is None:
            return [None] * len(items)
        texts = [retrieval.embedding_text(item) for item in items]
        wanted = [i for i, text in enumerate(texts) if text.strip()]
        vectors: list[np.ndarray | None] = [None] * len(items)
        if wanted:
            for i, vector in zip(wanted, await self._embed_texts([texts[i] for i in wanted]), strict=True):
                vectors[i] = vector
        return vectors

    async def _embed_texts(self, texts: list[str]) -> np.ndarray:
        assert self._embedder is not None
        return checked_vectors(await self._embedder.embed(texts), len(texts), self._embedder)





def _user_cursor(cursor: str) -> str:
    values = decode_cursor(cursor)
    if len(values) != 1 or not isinstance(values[0], str):
        raise InvalidInputError(f"invalid page cursor {cursor!r}")
    return values[0]


def _keyset_cursor(cursor: str | None) -> tuple[int, int] | None:
    if cursor is None:
        return None
    values = decode_cursor(cursor)
    if len(values) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise InvalidInputError(f"invalid page cursor {cursor!r}")
    return values[0], values[1]
