"""Services of the insight pages (analytics, retrieval evaluation, review queue, playground snapshots).

Same rules as :mod:`dashboard.services`: reads go through the hub's editors, every mutation goes through a
``services`` function (role check, audit event).
"""

from __future__ import annotations

import dataclasses

from dashboard.services import StoreHub
from memory_core.errors import UnsupportedError
from memory_core.interfaces import Capability, capabilities_of
from memory_core.stats import Bucket, GrowthPoint, HistogramBin, MemoryStats, SizedMemory, TagCount

NO_STATS = "store '{store}' cannot compute statistics"


def stats_of(hub: StoreHub, store: str) -> MemoryStats:
    """The store as a :class:`MemoryStats`, or ``UnsupportedError`` saying it cannot compute statistics."""
    editor = hub.editor(store)
    if Capability.STATS not in capabilities_of(editor):
        raise UnsupportedError(NO_STATS.format(store=store))
    return editor  # type: ignore[return-value]


@dataclasses.dataclass
class StoreStatistics:
    histogram: list[HistogramBin]
    tags: list[TagCount]
    growth: list[GrowthPoint]
    largest: list[SizedMemory]
    never_retrieved: list[SizedMemory] | None  # None: the store does not record retrievals


def store_statistics(hub: StoreHub, store: str, *, bins: int = 10, top: int = 10,
                     bucket: Bucket = Bucket.DAY) -> StoreStatistics:
    """Every aggregate the Analytics page shows, each computed by the store."""
    stats = stats_of(hub, store)
    run = hub.runner.run
    never = run(stats.never_retrieved(top)) if stats.records_retrieval else None
    return StoreStatistics(histogram=run(stats.user_histogram(bins)), tags=run(stats.top_tags(top)),
                           growth=run(stats.growth(bucket)), largest=run(stats.largest(top)), never_retrieved=never)
