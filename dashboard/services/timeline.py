"""One user's memory history for the Playground's timeline: added, edited, deleted.

The audit log says what memdash did (each entry's before/after states). Memories it has no "created" entry for
(added before the log existed, or by an agent outside the dashboard) are placed by their own ``created_at``,
and by ``updated_at`` as an edit when it is later.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

from dashboard.services import memories
from dashboard.services.hub import StoreHub
from memory_core.audit import AuditEntry, AuditQuery, Change
from memory_core.errors import MemdashError
from memory_core.interfaces import Capability
from memory_core.records import MemoryFilter, MemoryRecord

KINDS = {Change.CREATED: "added", Change.CHANGED: "edited", Change.REMOVED: "deleted"}
LIMIT = 1000


@dataclasses.dataclass(frozen=True)
class TimelineEvent:
    at: dt.datetime
    kind: str  # added | edited | deleted
    memory_id: str | None
    memory: str
    source: str  # audit log | timestamps


def _from_entry(entry: AuditEntry) -> TimelineEvent | None:
    kind = KINDS.get(entry.change)
    state = entry.after or entry.before or {}
    if kind is None:
        return None
    return TimelineEvent(entry.at, kind, entry.memory_id, str(state.get("memory") or ""), "audit log")


def _from_record(record: MemoryRecord) -> list[TimelineEvent]:
    text = record.item.memory or ""
    events = [TimelineEvent(record.created_at, "added", record.id, text, "timestamps")]
    if record.updated_at > record.created_at:
        events.append(TimelineEvent(record.updated_at, "edited", record.id, text, "timestamps"))
    return events


def audit_events(hub: StoreHub, store: str, user_id: str) -> list[TimelineEvent]:
    """The user's changes in the audit log (none when the log cannot be read)."""
    try:
        entries = hub.audit.entries(AuditQuery(store=store, user_id=user_id))
        return [e for e in map(_from_entry, itertools.islice(entries, LIMIT)) if e is not None]
    except MemdashError:
        return []


def user_timeline(hub: StoreHub, store: str, user_id: str) -> list[TimelineEvent]:
    """Every known change to the user's memories, oldest first."""
    events = audit_events(hub, store, user_id)
    logged = {e.memory_id for e in events if e.kind == "added"}
    if hub.can(store, Capability.LIST):
        records = itertools.islice(memories.export_records(hub, store, MemoryFilter(user_id=user_id)), LIMIT)
        events += [e for r in records if r.id not in logged for e in _from_record(r)]
    return sorted(events, key=lambda e: e.at)
