"""A memory's history, read from the audit log: every version with the change that made it, and restoring one
of them, which is an ordinary audited edit made against the version the operator saw; and a user's memories as
they were at a moment."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from typing import Any

from dashboard.services import memories
from memory_core.access import Actor
from memory_core.audit import AuditEntry, AuditQuery
from memory_core.audit.as_of import AsOf, as_of
from memory_core.errors import InvalidInputError
from memory_core.interfaces import Capability
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord
from memory_core.transfer import iter_records, record_from_dict

if typing.TYPE_CHECKING:
    from dashboard.services.hub import StoreHub

CONTENT = ("memory", "tags", "metadata", "conversation")


@dataclasses.dataclass(frozen=True)
class Version:
    """The memory as one audited change left it (``state``), and as it was before (``previous``, None when the
    change created it). ``entry`` is None for the version the log first found, written before it recorded."""

    entry: AuditEntry | None
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
    order they happened; a delete leaves no version of its own). A memory written before the log recorded it
    starts with the version its first audited change found."""
    hub.require_read(store)
    entries = sorted(hub.audit.entries(AuditQuery(store=store, memory_id=memory_id)), key=lambda e: e.seq or 0)
    versions = [Version(entry=e, state=e.after, previous=e.before) for e in entries if e.after is not None]
    complete = bool(entries) and entries[0].before is None
    if entries and not complete and entries[0].before is not None:
        versions.insert(0, Version(entry=None, state=entries[0].before, previous=None))
    return History(versions=versions, complete=complete)


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


def user_as_of(hub: StoreHub, store: str, user_id: str, when: dt.datetime) -> AsOf:
    """``user_id``'s memories as they were at ``when`` (:func:`memory_core.audit.as_of.as_of`); a read of them."""
    if not user_id:
        raise InvalidInputError("a user id is needed")
    if when > dt.datetime.now(dt.UTC):
        raise InvalidInputError(f"{when.isoformat()} is in the future: the memories as of now are on Browse")
    browser = hub.browser(store, Capability.LIST)

    async def read() -> list[MemoryRecord]:
        return [record async for record in iter_records(browser, MemoryFilter(user_id=user_id))]

    found = as_of(hub.audit, store, user_id, when, hub.runner.run(read()))
    hub.note_read(store, {user_id: len(found.records)}, "browse")
    return found
