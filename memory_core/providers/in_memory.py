"""``in_memory``: the guide's "simple dictionary-based store", with every browsing capability.

For tests, demos and plugin authors reading a complete, small implementation. Nothing persists.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import math
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from memory_core.errors import NotFoundError, VersionConflictError
from memory_core.interfaces import BROWSE_ALL, Capability, MemoryBrowser, MemoryEditor
from memory_core.items import item_text, new_id, tokens, validate_items, validate_records
from memory_core.life import HidesFromAgent
from memory_core.models import MemoryItem
from memory_core.providers.common import RecordSearch, check_limit, kept, remove_target, search_args
from memory_core.records import (
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    RecordPage,
    ScoredRecord,
    Sort,
    SortField,
    UserPage,
    UserSummary,
    decode_cursor,
    encode_cursor,
    utcnow,
)
from memory_core.registry import register_memory
from memory_core.stats import (
    Bucket,
    GrowthPoint,
    HistogramBin,
    MemoryStats,
    SizedMemory,
    TagCount,
    bin_width,
    check_positive,
    histogram,
    item_size,
    preview,
    week_start,
)
from memory_core.typed import MemoryBaseConfig
from memory_core.usage import NO_LOG, LogSettings, Retrieval, RetrievalLog, Usage, UsageConfig, UsedMemory


class InMemoryConfig(MemoryBaseConfig, UsageConfig, name="in_memory"):
    """A process-local store; everything is lost when the process ends."""


class InMemoryEditor(RecordSearch, HidesFromAgent, MemoryEditor, MemoryBrowser, MemoryStats, RetrievalLog):
    """Dictionary-backed store. A lock makes each mutation atomic with respect to the others."""

    def __init__(self, *, track_retrievals: bool = True, retrieval_log: LogSettings = NO_LOG) -> None:
        self._records: dict[str, MemoryRecord] = {}
        self._usage: dict[str, Usage] = {}  # only memories in _records count (a deleted one's usage is gone)
        self._events: dict[str, collections.deque[Retrieval]] = {}  # the detailed log, goes with the memory too
        self._track, self._log = track_retrievals, retrieval_log
        self._lock = asyncio.Lock()

    @property
    def capabilities(self) -> frozenset[Capability]:
        return BROWSE_ALL - {Capability.VECTOR_SEARCH}

    async def ping(self) -> None:
        return None

    # --- toolkit interface -------------------------------------------------------------------------
    async def add_items(self, items: list[MemoryItem], **kwargs) -> None:
        valid = validate_items(items)
        now = utcnow()
        async with self._lock:
            for item in valid:
                rid = new_id()
                self._records[rid] = MemoryRecord(id=rid, item=item.model_copy(deep=True), created_at=now,
                                                  updated_at=now)

    async def remove_items(self, **kwargs) -> None:
        kind, target = remove_target(kwargs)
        async with self._lock:
            doomed = target if kind == "ids" else [r.id for r in self._records.values() if r.user_id == target]
            for rid in doomed:
                self._records.pop(rid, None)
                self._usage.pop(rid, None)
                self._events.pop(rid, None)

    # --- browsing ------------------------------------------------------------------------------------
    async def search_records(self, query: str, *, user_id: str | None, top_k: int = 5,
                             similarity_threshold: float | None = None) -> list[ScoredRecord]:
        query, top_k, user_id, threshold = search_args(query, top_k, {"user_id": user_id,
                                                                      "similarity_threshold": similarity_threshold})
        candidates = [r for r in self._records.values() if r.user_id == user_id]
        scored = _bm25(tokens(query), candidates)
        hits = kept((ScoredRecord(record=r.model_copy(deep=True), score=s, parts={"text": s}) for r, s in scored),
                    threshold)
        return hits[:top_k]

    async def list_users(self, *, prefix: str = "", limit: int = 50, cursor: str | None = None) -> UserPage:
        check_limit(limit)
        after = decode_cursor(cursor)[0] if cursor else None
        summaries: dict[str, UserSummary] = {}
        for r in self._records.values():
            if r.user_id.startswith(prefix) and (after is None or r.user_id > after):
                s = summaries.setdefault(r.user_id, UserSummary(user_id=r.user_id, memory_count=0))
                s.memory_count += 1
                s.last_activity = max(filter(None, (s.last_activity, r.updated_at)))
        users = sorted(summaries.values(), key=lambda s: s.user_id)
        page = users[:limit]
        more = len(users) > limit
        return UserPage(users=page, next_cursor=encode_cursor(page[-1].user_id) if more else None)

    async def list_records(self, filter: MemoryFilter, *, sort: Sort = Sort(), limit: int = 50,
                           cursor: str | None = None) -> RecordPage:
        check_limit(limit)
        key = self._sort_key(sort)
        rows = sorted((r for r in self._records.values() if self._matches(filter, r)), key=key,
                      reverse=sort.descending)
        if cursor:
            last = tuple(decode_cursor(cursor))
            rows = [r for r in rows if (key(r) < last if sort.descending else key(r) > last)]
        page = rows[:limit]
        nxt = encode_cursor(*key(page[-1])) if len(rows) > limit else None
        return RecordPage(records=[r.model_copy(deep=True) for r in page], next_cursor=nxt)

    async def count_records(self, filter: MemoryFilter) -> int:
        return sum(1 for r in self._records.values() if self._matches(filter, r))

    def _retrievals(self, record: MemoryRecord) -> int:
        used = self._usage.get(record.id)
        return used.retrievals if used else 0

    def _matches(self, flt: MemoryFilter, record: MemoryRecord) -> bool:
        return flt.matches(record, self._retrievals(record))

    def _sort_key(self, sort: Sort) -> Callable[[MemoryRecord], tuple[Any, str]]:
        if sort.field is SortField.RETRIEVALS:
            return lambda r: (self._retrievals(r), r.id)
        return lambda r: (_sort_time(getattr(r, sort.field.value)), r.id)

    async def get_record(self, record_id: str) -> MemoryRecord:
        if record_id not in self._records:
            raise NotFoundError(f"no memory with id {record_id}")
        return self._records[record_id].model_copy(deep=True)

    async def get_records(self, record_ids: Sequence[str]) -> dict[str, MemoryRecord]:
        return {i: self._records[i].model_copy(deep=True) for i in dict.fromkeys(record_ids) if i in self._records}

    async def update_record(self, record_id: str, patch: MemoryPatch, *, expected_version: int) -> MemoryRecord:
        async with self._lock:
            current = self._records.get(record_id)
            if current is None or current.version != expected_version:
                raise VersionConflictError(record_id, expected_version, current)
            item = validate_items([patch.apply(current.item)])[0]
            updated = current.model_copy(update={"item": item, "updated_at": utcnow(), "version": current.version + 1})
            self._records[record_id] = updated
            return updated.model_copy(deep=True)

    async def delete_records(self, record_ids: Sequence[str]) -> int:
        async with self._lock:
            for rid in record_ids:
                self._usage.pop(rid, None)
                self._events.pop(rid, None)
            return sum(self._records.pop(rid, None) is not None for rid in record_ids)

    async def add_records(self, records: Sequence[MemoryRecord]) -> None:
        records = validate_records(records)
        async with self._lock:
            for r in records:
                self._records[r.id] = r.model_copy(deep=True)

    # --- statistics (the reference semantics of memory_core.stats) -----------------------------------------
    async def user_histogram(self, bins: int = 10) -> list[HistogramBin]:
        per_user = Counter(r.user_id for r in self._records.values())
        if not per_user:
            return []
        low, high = min(per_user.values()), max(per_user.values())
        width = bin_width(low, high, bins)
        return histogram(Counter((n - low) // width for n in per_user.values()).items(), low, high, bins)

    async def top_tags(self, n: int = 10) -> list[TagCount]:
        counts = Counter(t for r in self._records.values() for t in set(r.item.tags))
        ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:check_positive(n, "n")]
        return [TagCount(tag=tag, memories=count) for tag, count in ranked]

    async def growth(self, bucket: Bucket = Bucket.DAY) -> list[GrowthPoint]:
        weekly = Bucket(bucket) is Bucket.WEEK
        days = (r.created_at.astimezone(dt.UTC).date() for r in self._records.values())
        counts = Counter(week_start(d) if weekly else d for d in days)
        return [GrowthPoint(start=day, created=n) for day, n in sorted(counts.items())]

    async def largest(self, n: int = 10) -> list[SizedMemory]:
        ranked = sorted(self._records.values(), key=lambda r: (-item_size(r.item), r.id))[:check_positive(n, "n")]
        return [SizedMemory(id=r.id, user_id=r.user_id, size=item_size(r.item), preview=preview(r.item))
                for r in ranked]


    # --- retrievals ------------------------------------------------------------------------------------------
    @property
    def browses_by_use(self) -> bool:
        return True

    @property
    def tracks_retrievals(self) -> bool:
        return self._track

    @property
    def retrieval_log(self) -> LogSettings:
        return self._log

    async def note_retrieved(self, ids: Sequence[str], at: dt.datetime, query: str = "") -> None:
        async with self._lock:
            for rid in ids:
                if rid in self._records:
                    seen = self._usage.get(rid)
                    self._usage[rid] = Usage(retrievals=(seen.retrievals if seen else 0) + 1,
                                             last_retrieved=max(at, seen.last_retrieved) if seen else at)
            for rid, rank, digest, text in self._log.events(ids, query) if self._log.keep else ():
                if rid in self._records:
                    log = self._events.setdefault(rid, collections.deque(maxlen=self._log.keep))
                    log.appendleft(Retrieval(at=at, rank=rank, query_hash=digest, query=text))

    async def retrievals(self, memory_id: str, n: int = 20) -> list[Retrieval]:
        return list(self._events.get(memory_id, ()))[:check_positive(n, "n")]

    async def usage(self, ids: Sequence[str]) -> dict[str, Usage]:
        return {rid: self._usage[rid] for rid in ids if rid in self._usage}

    async def most_used(self, n: int = 10) -> list[UsedMemory]:
        ranked = sorted(self._usage.items(), key=lambda pair: (-pair[1].retrievals, -pair[1].last_retrieved.timestamp(),
                                                               pair[0]))[:check_positive(n, "n")]
        return [UsedMemory(id=rid, user_id=self._records[rid].user_id, preview=preview(self._records[rid].item),
                           **used.model_dump()) for rid, used in ranked]

    async def never_retrieved(self, n: int = 10) -> list[SizedMemory]:
        unused = sorted((r for r in self._records.values() if r.id not in self._usage),
                        key=lambda r: (r.created_at, r.id))[:check_positive(n, "n")]
        return [SizedMemory(id=r.id, user_id=r.user_id, size=item_size(r.item), preview=preview(r.item))
                for r in unused]


def _sort_time(value: dt.datetime) -> str:
    """A timestamp as text that sorts like the instant it names, whatever its time zone."""
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _bm25(query: list[str], records: list[MemoryRecord], k1: float = 1.2, b: float = 0.75
          ) -> list[tuple[MemoryRecord, float]]:
    """Okapi BM25 over the candidates, squashed to ``[0, 1)`` with ``s / (s + 1)``."""
    docs = [Counter(tokens(f"{item_text(r.item)} {' '.join(r.item.tags)}")) for r in records]  # tags are words too
    if not query or not docs:
        return []
    avg = sum(sum(d.values()) for d in docs) / len(docs) or 1.0
    scores = []
    for record, doc in zip(records, docs, strict=True):
        length = sum(doc.values())
        score = 0.0
        for term in set(query):
            df = sum(1 for d in docs if term in d)
            if doc[term]:
                idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
                score += idf * doc[term] * (k1 + 1) / (doc[term] + k1 * (1 - b + b * length / avg))
        scores.append((record, score / (score + 1)))
    return sorted(scores, key=lambda pair: pair[1], reverse=True)


@register_memory(InMemoryConfig)
async def in_memory_store(config: InMemoryConfig, builder: object) -> AsyncIterator[InMemoryEditor]:
    yield InMemoryEditor(track_retrievals=config.track_retrievals, retrieval_log=config.log_settings())
