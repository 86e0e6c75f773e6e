"""Which memories the agent uses: a store that records, per memory, how often the agent's search returned it and
when it last did (``Capability.RETRIEVALS``, reported by :func:`memory_core.interfaces.capabilities_of` for a
:class:`RetrievalLog` whose tracking is on).

Only the toolkit-facing ``search`` counts (:class:`memory_core.providers.common.RecordSearch` calls
:meth:`RetrievalLog.note_retrieved` once per search with the ids it returns); an operator's search, listing or
reading in the dashboard does not. Usage goes with the memory: deleting it deletes its counts.

Optionally (``retrieval_log: N`` in a store's config) a store also keeps each memory's last ``N`` retrievals:
when, the rank it was returned at, and a hash of the query (:func:`query_hash`; the query's text only with
``retrieval_log_queries: true``), deleted with the memory like its counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import datetime as dt
import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)
_COUNTING: contextvars.ContextVar[bool] = contextvars.ContextVar("memdash_count_retrievals", default=True)


@contextlib.contextmanager
def not_counted() -> Iterator[None]:
    """Searches made inside are not the agent using memories (an operator previewing what the agent gets)."""
    token = _COUNTING.set(False)
    try:
        yield
    finally:
        _COUNTING.reset(token)


def counting() -> bool:
    return _COUNTING.get()


class Deferred:
    """Writes started after the agent's search has its answer (counts are not worth its time): a store awaits
    :meth:`settled` before it reads counts, and at close. A write that fails is logged, never raised."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    def start(self, write: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(write)
        self._running.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("retrieval counts not written: %s", task.exception())

    async def settled(self) -> None:
        if self._running:
            await asyncio.wait(set(self._running))


MAX_LOG = 1000  # retrievals kept per memory, at most


def query_hash(query: str) -> str:
    """A short digest of a query (the same words, whatever their case and spacing, give the same hash), to tell
    retrievals by the same query apart from others without keeping what was asked."""
    return hashlib.sha256(" ".join(query.casefold().split()).encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class LogSettings:
    """The detailed retrieval log of a store: each memory's last ``keep`` retrievals (0: none), with the query's
    text when ``queries``."""

    keep: int = 0
    queries: bool = False

    def logged_query(self, query: str) -> tuple[str, str | None]:
        """What the log keeps of a query: its hash, and its text when ``queries`` (else None)."""
        return query_hash(query), query if self.queries else None

    def events(self, ids: Sequence[str], query: str) -> list[tuple[str, int, str, str | None]]:
        """``(memory id, rank from 1, query hash, query text or None)`` for one search's results."""
        digest, text = self.logged_query(query)
        return [(rid, rank, digest, text) for rank, rid in enumerate(ids, 1)]


NO_LOG = LogSettings()


class UsageConfig(BaseModel):
    """The usage settings every memdash store's config takes (mixed into it)."""

    track_retrievals: bool = Field(default=True, description="Count, per memory, how often the agent's search "
                                                             "returned it and when it last did.")
    retrieval_log: int = Field(default=0, ge=0, le=MAX_LOG, description="Also keep each memory's last N "
                               "retrievals: when, the rank it was returned at and a hash of the query (0: counts "
                               "only).")
    retrieval_log_queries: bool = Field(default=False, description="Keep the query's text in the retrieval log "
                                        "too (off: only its hash; queries may hold what users said).")

    def log_settings(self) -> LogSettings:
        return LogSettings(self.retrieval_log if self.track_retrievals else 0, self.retrieval_log_queries)


class Retrieval(BaseModel):
    """One retrieval of a memory, from the detailed log."""

    at: dt.datetime
    rank: int
    query_hash: str
    query: str | None = None


class Usage(BaseModel):
    retrievals: int
    last_retrieved: dt.datetime


class UsedMemory(BaseModel):
    id: str
    user_id: str
    preview: str
    retrievals: int
    last_retrieved: dt.datetime


class RetrievalLog(ABC):
    """Optional: per-memory retrieval counts, kept by the store."""

    @property
    def tracks_retrievals(self) -> bool:
        """Whether this store records retrievals (its configuration can turn it off)."""
        return True

    @property
    def browses_by_use(self) -> bool:
        """Whether ``list_records``/``count_records`` take ``MemoryFilter.retrieved`` and ``SortField.RETRIEVALS``
        (``Capability.BROWSE_BY_USE``); a store that cannot refuses them with ``UnsupportedError``."""
        return False

    @property
    def retrieval_log(self) -> LogSettings:
        """The detailed log this store keeps (``keep == 0``: none)."""
        return NO_LOG

    @abstractmethod
    async def note_retrieved(self, ids: Sequence[str], at: dt.datetime, query: str = "") -> None:
        """One more retrieval, at ``at``, of each memory in ``ids`` (one search's results, best first, for
        ``query``)."""

    async def retrievals(self, memory_id: str, n: int = 20) -> list[Retrieval]:
        """The memory's last ``n`` logged retrievals, newest first (none when the store keeps no log)."""
        return []

    @abstractmethod
    async def usage(self, ids: Sequence[str]) -> dict[str, Usage]:
        """The usage of those of ``ids`` the agent's search ever returned."""

    @abstractmethod
    async def most_used(self, n: int = 10) -> list[UsedMemory]:
        """The ``n`` memories the agent's search returned most often, most first, ties by latest use."""
