"""The toolkit's memory interfaces (``nat.memory.interfaces``) and memdash's optional browsing interface.

``MemoryEditor``, ``MemoryReader``, ``MemoryWriter`` and ``MemoryManager`` keep the toolkit's signatures.
Working implementations of the last three over any editor live in :mod:`memory_core.io` and
:mod:`memory_core.manager`. ``MemoryBrowser`` is memdash's extension; a store declares what it
supports through ``capabilities`` and the dashboard degrades visibly for the rest.
"""

from __future__ import annotations

import contextlib
import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from memory_core.errors import NotFoundError
from memory_core.life import ExpiresForAgent, HidesFromAgent
from memory_core.models import MemoryItem
from memory_core.reach import AgentReach
from memory_core.records import (
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    RecordPage,
    ScoredRecord,
    Sort,
    UserPage,
)
from memory_core.stats import MemoryStats
from memory_core.usage import RetrievalLog


class MemoryEditor(ABC):
    """Low-level add/search/remove, as agents use it.

    Conventions every memdash store follows: ``search`` takes ``user_id`` in kwargs (required) and an
    optional ``similarity_threshold``, and sets ``similarity_score`` with higher = more similar;
    ``remove_items`` honours ``memory_id`` first, then ``user_id``.
    """

    @abstractmethod
    async def add_items(self, items: list[MemoryItem], **kwargs) -> None:
        """Insert multiple MemoryItems into the memory."""

    @abstractmethod
    async def search(self, query: str, top_k: int = 5, **kwargs) -> list[MemoryItem]:
        """Retrieve items relevant to the given query. Relevance criteria depend on implementation."""

    @abstractmethod
    async def remove_items(self, **kwargs) -> None:
        """Remove items. Additional parameters needed for deletion can be specified in keyword arguments."""


class MemoryIOBase(ABC):
    """Base for readers and writers that work through an editor."""

    def __init__(self, editor: MemoryEditor) -> None:
        self._editor = editor


class MemoryReader(MemoryIOBase):
    @abstractmethod
    async def retrieve(self, context: str, top_k: int = 5) -> list[MemoryItem]:
        """Retrieve memories relevant to the provided context."""


class MemoryWriter(MemoryIOBase):
    @abstractmethod
    async def write(self, observation: str, context: str | None = None) -> list[MemoryItem]:
        """Process an observation and store the memories it yields."""


class MemoryManager(ABC):
    @abstractmethod
    async def summarize(self) -> None:
        """Summarize long histories into condensed memories."""

    @abstractmethod
    async def reflect(self) -> None:
        """Derive higher-level insights from stored memories."""

    @abstractmethod
    async def forget(self, criteria: Callable[[MemoryItem], bool]) -> None:
        """Remove memories that match the criteria."""

    @abstractmethod
    async def merge(self, criteria: Callable[[MemoryItem, MemoryItem], bool]) -> None:
        """Merge pairs of memories that match the criteria."""


class Capability(enum.StrEnum):
    """What a store can do beyond the toolkit's three methods."""

    LIST_USERS = "list_users"
    LIST = "list"
    LIST_ALL_USERS = "list_all_users"  # list records across users in one page
    COUNT = "count"
    GET = "get"
    UPDATE = "update"
    DELETE_BY_IDS = "delete_by_ids"
    IMPORT = "import"  # add_records keeps ids, timestamps and versions (lossless import)
    SEARCH_RECORDS = "search_records"  # search returning ids and score parts
    TEXT_SEARCH = "text_search"
    VECTOR_SEARCH = "vector_search"
    PING = "ping"
    STATS = "stats"  # aggregates computed by the store (memory_core.stats.MemoryStats)
    REACH = "reach"  # which memories the agent's own search can find (memory_core.reach.AgentReach)
    RETRIEVALS = "retrievals"  # per-memory counts of the agent's retrievals (memory_core.usage.RetrievalLog)
    PAUSE = "pause"  # pause and resume memories for the agent (memory_core.life.HidesFromAgent + UPDATE)
    EXPIRE = "expire"  # an expiry time after which no agent gets a memory (memory_core.life.ExpiresForAgent + UPDATE)
    # list and count by the agent's use: MemoryFilter.retrieved, SortField.RETRIEVALS (RetrievalLog.browses_by_use)
    BROWSE_BY_USE = "browse_by_use"


# Everything a store can declare in ``capabilities``; STATS, REACH, RETRIEVALS, PAUSE, EXPIRE and BROWSE_BY_USE
# follow from implementing MemoryStats, AgentReach, RetrievalLog, HidesFromAgent and ExpiresForAgent instead.
BROWSE_ALL = frozenset(Capability) - {Capability.STATS, Capability.REACH, Capability.RETRIEVALS, Capability.PAUSE,
                                      Capability.EXPIRE, Capability.BROWSE_BY_USE}


class MemoryBrowser(ABC):
    """Optional browsing interface. Unsupported methods raise ``UnsupportedError``."""

    @property
    @abstractmethod
    def capabilities(self) -> frozenset[Capability]:
        """The capabilities this store really offers (its configuration included)."""

    @property
    def notes(self) -> list[str]:
        """Things an operator should know about this store's state, e.g. why a feature is off."""
        return []

    @abstractmethod
    async def ping(self) -> None:
        """Raise ``StoreUnavailableError`` when the backend cannot serve requests."""

    @abstractmethod
    async def list_users(self, *, prefix: str = "", limit: int = 50, cursor: str | None = None) -> UserPage:
        """Users with memory counts and last activity, ordered by user id."""

    @abstractmethod
    async def list_records(self, filter: MemoryFilter, *, sort: Sort = Sort(), limit: int = 50,
                           cursor: str | None = None) -> RecordPage:
        """One page of records, keyset-paged: stable while rows are added."""

    @abstractmethod
    async def count_records(self, filter: MemoryFilter) -> int:
        """How many records match."""

    @abstractmethod
    async def get_record(self, record_id: str) -> MemoryRecord:
        """One record; ``NotFoundError`` when it does not exist."""

    async def get_records(self, record_ids: Sequence[str]) -> dict[str, MemoryRecord]:
        """The records among ``record_ids`` that exist, by id. A store may answer in one query; this default
        asks :meth:`get_record` for each."""
        found = {}
        for record_id in dict.fromkeys(record_ids):
            try:
                found[record_id] = await self.get_record(record_id)
            except NotFoundError:
                continue
        return found

    @abstractmethod
    async def update_record(self, record_id: str, patch: MemoryPatch, *, expected_version: int) -> MemoryRecord:
        """Apply a patch atomically; ``VersionConflictError`` when the stored version differs."""

    @abstractmethod
    async def delete_records(self, record_ids: Sequence[str]) -> int:
        """Delete these records atomically; returns how many existed."""

    @abstractmethod
    async def add_records(self, records: Sequence[MemoryRecord]) -> None:
        """Insert records with their ids and timestamps (lossless import); atomic for the batch."""

    @abstractmethod
    async def search_records(self, query: str, *, user_id: str, top_k: int = 5,
                             similarity_threshold: float | None = None) -> list[ScoredRecord]:
        """Search like ``MemoryEditor.search`` but return records with ids and score parts."""


class BulkLoading(ABC):
    """A store that writes a large import faster when an index is built once at the end instead of row by row
    (PostgreSQL's HNSW graph); searches keep working meanwhile."""

    @abstractmethod
    def bulk_loading(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Inside it, writes skip the deferred index; leaving it builds the index."""


class Scrubbing(ABC):
    """A store that can make deleted memories unrecoverable from its own files, the last step of an erasure
    (docs/security.md "Erasure"): what deleting rows leaves behind (free pages, an index's old segments, a
    write-ahead log) is rewritten or truncated."""

    @abstractmethod
    async def scrub(self) -> None:
        """Rewrite what deleted memories left behind; ``StoreUnavailableError`` when it cannot finish now."""


def capabilities_of(editor: MemoryEditor) -> frozenset[Capability]:
    """What a store declares; an editor that is not a browser can only add, search and remove.

    ``STATS``, ``REACH``, ``RETRIEVALS`` (``BROWSE_BY_USE``), ``PAUSE`` and ``EXPIRE`` are declared by implementing
    :class:`memory_core.stats.MemoryStats`, :class:`memory_core.reach.AgentReach`,
    :class:`memory_core.usage.RetrievalLog` (tracking on; its ``browses_by_use``),
    :class:`memory_core.life.HidesFromAgent` and :class:`~memory_core.life.ExpiresForAgent` (with ``UPDATE``),
    not in ``capabilities``."""
    if not isinstance(editor, MemoryBrowser):
        return frozenset()
    implemented = {Capability.STATS: isinstance(editor, MemoryStats), Capability.REACH: isinstance(editor, AgentReach),
                   Capability.RETRIEVALS: isinstance(editor, RetrievalLog) and editor.tracks_retrievals,
                   Capability.BROWSE_BY_USE: isinstance(editor, RetrievalLog) and editor.tracks_retrievals
                   and editor.browses_by_use,
                   Capability.PAUSE: isinstance(editor, HidesFromAgent) and Capability.UPDATE in editor.capabilities,
                   Capability.EXPIRE: isinstance(editor, ExpiresForAgent) and Capability.UPDATE in editor.capabilities}
    return (editor.capabilities - set(implemented)) | {c for c, offered in implemented.items() if offered}
