"""Which memories the agent uses: a store that records, per memory, how often the agent's search returned it and
when it last did (``Capability.RETRIEVALS``, reported by :func:`memory_core.interfaces.capabilities_of` for a
:class:`RetrievalLog` whose tracking is on).

Only the toolkit-facing ``search`` counts (:class:`memory_core.providers.common.RecordSearch` calls
:meth:`RetrievalLog.note_retrieved` once per search with the ids it returns); an operator's search, listing or
reading in the dashboard does not. Usage goes with the memory: deleting it deletes its counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import logging
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any

from pydantic import BaseModel

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

    @abstractmethod
    async def note_retrieved(self, ids: Sequence[str], at: dt.datetime) -> None:
        """One more retrieval, at ``at``, of each memory in ``ids`` (one search's results)."""

    @abstractmethod
    async def usage(self, ids: Sequence[str]) -> dict[str, Usage]:
        """The usage of those of ``ids`` the agent's search ever returned."""

    @abstractmethod
    async def most_used(self, n: int = 10) -> list[UsedMemory]:
        """The ``n`` memories the agent's search returned most often, most first, ties by latest use."""
