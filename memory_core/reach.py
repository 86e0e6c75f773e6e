"""Optional interface: which memories the agent's own search can find, and repairing those it cannot.

A store whose agent searches by a path memdash does not run itself (the toolkit's ``redis_memory`` runs a KNN
query on its own index, so a document without a vector of the index's dimension is never returned) offers it
by subclassing :class:`AgentReach`; :func:`memory_core.interfaces.capabilities_of` then reports
``Capability.REACH``. Stores the agent searches through memdash itself (in_memory, sqlite, postgres) find every
memory with text and do not need it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Unfindable:
    """A memory the agent's search cannot return, and why, in words an operator reads."""

    record_id: str
    reason: str


@dataclass(frozen=True)
class Reach:
    """How much of a store the agent's search can find."""

    total: int
    unfindable: int
    reasons: dict[str, int] = field(default_factory=dict)  # reason -> memories
    examples: list[Unfindable] = field(default_factory=list)  # the first few, to open
    repairable: bool = False  # whether :meth:`AgentReach.give_vectors` can fix them here

    @property
    def findable(self) -> int:
        return self.total - self.unfindable


class AgentReach(ABC):
    """Implemented by a store whose agent searches by a path with its own conditions (see the module doc)."""

    @abstractmethod
    async def unfindable_reason(self, record_id: str) -> str | None:
        """Why the agent's search cannot return this memory, or ``None`` when it can."""

    @abstractmethod
    async def reach(self, examples: int = 20) -> Reach:
        """Counts over the whole store, with the first ``examples`` memories the agent cannot find."""

    @abstractmethod
    async def give_vectors(self, record_ids: Sequence[str]) -> list[str]:
        """Compute the agent's vector for those of ``record_ids`` that lack one (a mutation: only the audited
        writer calls it); the ids given one. ``UnsupportedError`` when this store has no embedder."""
