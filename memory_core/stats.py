"""Optional statistics interface: aggregates a store computes itself (SQL ``GROUP BY``), never by handing
every memory to the caller.

A store offers it by subclassing :class:`MemoryStats`; :func:`memory_core.interfaces.capabilities_of` then
reports ``Capability.STATS`` (and drops it for stores that do not implement this class, whatever they
declare). Sizes are characters of the memory text plus the ``content`` of every conversation message.
Retrieval counts are only available where a store records them: ``never_retrieved`` raises
``UnsupportedError`` otherwise.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable

from pydantic import BaseModel

from memory_core.errors import InvalidInputError, UnsupportedError
from memory_core.models import MemoryItem


class Bucket(enum.StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, starting on Monday


class HistogramBin(BaseModel):
    """Users having between ``low`` and ``high`` memories (both inclusive)."""

    low: int
    high: int
    users: int


class TagCount(BaseModel):
    tag: str
    memories: int


class GrowthPoint(BaseModel):
    """Memories created in the day or week starting at ``start`` (UTC)."""

    start: dt.date
    created: int


class SizedMemory(BaseModel):
    id: str
    user_id: str
    size: int
    preview: str


PREVIEW_CHARS = 120


class MemoryStats(ABC):
    """Aggregates over the whole store."""

    @abstractmethod
    async def user_histogram(self, bins: int = 10) -> list[HistogramBin]:
        """How many users have how many memories, in at most ``bins`` equal-width bins (empty bins kept)."""

    @abstractmethod
    async def top_tags(self, n: int = 10) -> list[TagCount]:
        """The ``n`` most used tags, most used first, ties by tag."""

    @abstractmethod
    async def growth(self, bucket: Bucket = Bucket.DAY) -> list[GrowthPoint]:
        """Memories created per day or week, oldest first (only buckets with memories)."""

    @abstractmethod
    async def largest(self, n: int = 10) -> list[SizedMemory]:
        """The ``n`` largest memories (see the module doc for size), largest first, ties by id."""

    async def never_retrieved(self, n: int = 10) -> list[SizedMemory]:
        """Memories no search has returned; only where the store counts retrievals (``Capability.RETRIEVALS``)."""
        raise UnsupportedError("this store does not record retrievals, so it cannot say which memories were "
                               "never retrieved")


def check_positive(value: int, name: str) -> int:
    if not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
    return value


def bin_width(low: int, high: int, bins: int) -> int:
    """Width of equal bins of whole numbers covering ``low..high`` in at most ``bins`` bins."""
    return max(1, math.ceil((high - low + 1) / check_positive(bins, "bins")))


def histogram(counted: Iterable[tuple[int, int]], low: int, high: int, bins: int) -> list[HistogramBin]:
    """Bins from ``(bin index, users)`` pairs, every bin from ``low`` to ``high`` present."""
    width = bin_width(low, high, bins)
    found = dict(counted)
    count = (high - low) // width + 1
    return [HistogramBin(low=low + i * width, high=low + (i + 1) * width - 1, users=found.get(i, 0))
            for i in range(count)]


def item_size(item: MemoryItem) -> int:
    return len(item.memory or "") + sum(len(m.get("content") or "") for m in item.conversation or [])


def preview(item: MemoryItem) -> str:
    """The start of the memory text (empty for a conversation-only memory)."""
    return (item.memory or "")[:PREVIEW_CHARS]


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())
