"""Which memories the agent uses: a store that records, per memory, how often the agent's search returned it and
when it last did (``Capability.RETRIEVALS``, reported by :func:`memory_core.interfaces.capabilities_of` for a
:class:`RetrievalLog` whose tracking is on).

Only the toolkit-facing ``search`` counts (:class:`memory_core.providers.common.RecordSearch` calls
:meth:`RetrievalLog.note_retrieved` once per search with the ids it returns); an operator's search, listing or
reading in the dashboard does not. Usage goes with the memory: deleting it deletes its counts.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence

from pydantic import BaseModel


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

    @abstractmethod
    async def note_retrieved(self, ids: Sequence[str], at: dt.datetime) -> None:
        """One more retrieval, at ``at``, of each memory in ``ids`` (one search's results)."""

    @abstractmethod
    async def usage(self, ids: Sequence[str]) -> dict[str, Usage]:
        """The usage of those of ``ids`` the agent's search ever returned."""

    @abstractmethod
    async def most_used(self, n: int = 10) -> list[UsedMemory]:
        """The ``n`` memories the agent's search returned most often, most first, ties by latest use."""
