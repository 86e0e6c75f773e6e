"""A memory's history, read from the audit log: every version with the change that made it, and restoring one
of them, which is an ordinary audited edit made against the version the operator saw."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from dashboard.services import memories
from memory_core.access import Actor
from memory_core.audit import AuditEntry, AuditQuery
from memory_core.errors import InvalidInputError
from memory_core.records import MemoryPatch, MemoryRecord
from memory_core.transfer import record_from_dict

if typing.TYPE_CHECKING:
    from dashboard.services.hub import StoreHub

CONTENT = ("memory", "tags", "metadata", "conversation")


@dataclasses.dataclass(frozen=True)
class Version:
    """The memory as one audited change left it (``state``), and as it was before (``previous``, None when the
    change created it)."""

    entry: AuditEntry
    state: dict[str, Any]
    previous: dict[str, Any] | None

    @property
    def number(self) -> int:
        return int(self.state.get("version") or 0)


@dataclasses.dataclass(frozen=True)
class History:
    versions: list[Version]  # oldest first
    complete: bool  # the log holds the memory's creation; else it was written before the log recorded it


def memory_history(hub: StoreHub, store: str, memory_id: str) -> History:
    """Every version of one memory the audit log recorded, oldest first (deletes and restores included in the
    order they happened; a delete leaves no version of its own)."""
    hub.require_read(store)
    entries = sorted(hub.audit.entries(AuditQuery(store=store, memory_id=memory_id)), key=lambda e: e.seq or 0)
    versions = [Version(entry=e, state=e.after, previous=e.before) for e in entries if e.after is not None]
    return History(versions=versions, complete=bool(entries) and entries[0].before is None)


def same_content(state: dict[str, Any], record: MemoryRecord) -> bool:
    """Whether a recorded state says what ``record`` says now (text, tags, metadata, conversation)."""
    item = record_from_dict(state).item
    return all(getattr(item, field) == getattr(record.item, field) for field in CONTENT)


def restore_version(hub: StoreHub, actor: Actor, store: str, record: MemoryRecord, version: Version) -> MemoryRecord:
    """Make ``record`` (as the operator saw it) say what ``version`` said: one audited update, refused with
    ``VersionConflictError`` when the memory changed since it was shown."""
    if same_content(version.state, record):
        raise InvalidInputError(f"the memory already says what version {version.number} said")
    item = record_from_dict(version.state).item
    patch = MemoryPatch(**{field: getattr(item, field) for field in CONTENT})
    return memories.update_memory(hub, actor, store, record.id, patch, expected_version=record.version)
