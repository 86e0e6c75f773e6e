"""The audit log's model and interface: one append-only entry per change made through memdash.

An entry says who changed which memory of which store, when, how (``operation``), and holds the lossless
record dicts (:func:`memory_core.transfer.record_to_dict`) from before and after the change. The shape of
``before``/``after`` says what happened, whatever the operation's name: only ``after`` = the memory was
created, only ``before`` = it was removed, both = it was changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

from memory_core.records import MemoryRecord, utcnow
from memory_core.transfer import record_from_dict

OPERATIONS = ("add", "update", "delete", "revert", "export", "review", "label", "vector", "erase")
READ = "read"  # who looked at a person's memories (memory_core.audit.reads); listed apart from changes


class Change(enum.StrEnum):
    """What an entry did to its memory, read from its before/after states."""

    CREATED = "created"
    CHANGED = "changed"
    REMOVED = "removed"
    NONE = "none"  # no memory state recorded (an export, a removal the store could not list)


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    """One audited change. ``seq`` is assigned by the log (increasing); ``reverts`` names the entry a revert undid."""

    operation: str
    actor: str
    store: str
    user_id: str
    memory_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    batch: str | None = None
    reverts: int | None = None
    note: str | None = None
    at: dt.datetime = dataclasses.field(default_factory=utcnow)
    seq: int | None = None

    @property
    def change(self) -> Change:
        if self.before is None:
            return Change.NONE if self.after is None else Change.CREATED
        return Change.REMOVED if self.after is None else Change.CHANGED

    def before_record(self) -> MemoryRecord | None:
        return record_from_dict(self.before) if self.before is not None else None

    def after_record(self) -> MemoryRecord | None:
        return record_from_dict(self.after) if self.after is not None else None


@dataclasses.dataclass(frozen=True)
class AuditQuery:
    """Which entries to list; every field left ``None`` matches everything. ``since``/``until`` are inclusive.
    Changes and reads are listed apart: ``reads=True`` lists the read records only, else the changes only."""

    store: str | None = None
    stores: tuple[str, ...] | None = None  # any of these (the stores a reader may see)
    user_id: str | None = None
    memory_id: str | None = None
    operation: str | None = None
    actor: str | None = None
    batch: str | None = None
    reverts: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    reads: bool = False


@dataclasses.dataclass(frozen=True)
class Erasure:
    """An erasure of one user's content from one store's entries (:mod:`memory_core.audit.erasure`): started,
    and finished once its receipt is written. ``user_key`` names the user without the id (a keyed hash);
    ``counts`` is what it removed so far, per place."""

    id: int
    store: str
    user_key: str
    actor: str
    started: dt.datetime
    finished: dt.datetime | None = None
    receipt: int | None = None
    counts: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class AuditPage:
    """Entries newest first; ``next_cursor`` is ``None`` on the last page."""

    entries: list[AuditEntry]
    next_cursor: str | None = None


class AuditLog(ABC):
    """Append-only storage of :class:`AuditEntry`. Implementations refuse updates and deletes of entries."""

    @abstractmethod
    def append(self, entries: Sequence[AuditEntry]) -> list[int]:
        """Store ``entries`` atomically (all or none); returns their ``seq`` numbers."""

    @abstractmethod
    def get(self, seq: int) -> AuditEntry:
        """One entry; ``NotFoundError`` when there is none with this number."""

    @abstractmethod
    def page(self, query: AuditQuery, *, limit: int = 50, cursor: str | None = None) -> AuditPage:
        """One page of matching entries, newest first, keyset-paged on ``seq``."""

    @abstractmethod
    def count(self, query: AuditQuery) -> int:
        """How many entries match."""

    @abstractmethod
    def entries(self, query: AuditQuery) -> Iterator[AuditEntry]:
        """Every matching entry, oldest first (e.g. all the changes of one batch)."""

    @abstractmethod
    def reverted_by(self, seqs: Sequence[int]) -> dict[int, int]:
        """``{entry seq: seq of the revert that undid it}`` for those of ``seqs`` that were reverted."""

    @abstractmethod
    def trash(self, store: str, *, since: dt.datetime, user_id: str | None = None, limit: int = 50,
              cursor: str | None = None) -> AuditPage:
        """Removals in ``store`` at or after ``since`` that nothing undid since: not reverted, and no later entry
        for the same memory id (it was not re-created). Newest first."""

    @abstractmethod
    def close(self) -> None:
        """Release the log's resources; closing twice is harmless."""

    # --- erasure: the only way content leaves the log (docs/security.md "Erasure") ---------------------------
    @abstractmethod
    def user_key(self, store: str, user_id: str) -> str:
        """The user's name in erasure receipts: a hash of store and id keyed by this log's own secret."""

    @abstractmethod
    def content_counts(self, store: str, user_id: str) -> dict[str, int]:
        """How many of the user's entries in ``store`` still hold content (states or a note), per operation;
        ``"removal"`` counts the removals among them (the trash's before-images)."""

    @abstractmethod
    def erasures(self, store: str, user_id: str) -> list[Erasure]:
        """The erasures of this user in ``store``, oldest first: finished ones (found by ``user_key``) and the one
        still running, if any."""

    @abstractmethod
    def start_erasure(self, store: str, user_id: str, actor: str) -> Erasure:
        """Record that an erasure of the user began; an unfinished one is returned instead (it resumes)."""

    @abstractmethod
    def erase_content(self, erasure: Erasure, user_id: str) -> dict[str, int]:
        """Remove the content (states and notes) of every entry of the running erasure's user and store, in one
        transaction that also adds the counts to the erasure; returns them (per operation, and ``"removal"``)."""

    @abstractmethod
    def add_erasure_counts(self, erasure: Erasure, counts: dict[str, int]) -> None:
        """Add what another step of the running erasure removed (store, snapshots) to its counts."""

    @abstractmethod
    def finish_erasure(self, erasure: Erasure, receipt: AuditEntry) -> int:
        """Append the receipt and mark the erasure finished, in one transaction (its user id is dropped from the
        erasure record); returns the receipt's entry number."""

    @abstractmethod
    def compact(self) -> None:
        """Leave no removed content in the log's files (for SQLite: checkpoint and truncate the WAL)."""
