"""What a user's memories said at a moment: the records as they are now, with every audited change made after
that moment undone (each memory as its first later change found it). Exact when every change since went
through the audit log. What changed outside it (the agent's own toolkit writing straight to the store): a memory
created after the moment is dropped, one changed after it is kept as known and named in ``unknown``; one deleted
leaves nothing to show. ``log_starts``, the store's first audited change: before it only timestamps speak."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from memory_core.audit.log import AuditEntry, AuditLog, AuditQuery, Change
from memory_core.records import MemoryRecord

_AFTER = dt.timedelta(microseconds=1)  # AuditQuery.since is inclusive; a change at the moment itself counts


@dataclasses.dataclass(frozen=True)
class AsOf:
    when: dt.datetime
    records: list[MemoryRecord]  # as they were at ``when``, oldest first
    undone: int  # audited changes made after ``when``
    unknown: list[str]  # ids of memories changed after ``when`` outside the audit log, shown as they are now
    log_starts: dt.datetime | None  # the store's first audited change (None: none yet)


def as_of(log: AuditLog, store: str, user_id: str, when: dt.datetime, current: Iterable[MemoryRecord]) -> AsOf:
    """``user_id``'s memories in ``store`` at ``when``, from their ``current`` records and ``log``."""
    state = {record.id: record for record in current}
    later = [e for e in log.entries(AuditQuery(store=store, user_id=user_id, since=when + _AFTER))
             if e.memory_id is not None and e.change is not Change.NONE]
    first_after: dict[str, AuditEntry] = {}
    for entry in later:  # oldest first: a memory was, at ``when``, what its first later change found
        first_after.setdefault(entry.memory_id or "", entry)
    for memory_id, entry in first_after.items():
        before = entry.before_record()
        if before is None:
            state.pop(memory_id, None)
        else:
            state[memory_id] = before
    unknown = []
    for record in list(state.values()):  # what the log cannot have undone: changes outside it
        if record.created_at > when:
            del state[record.id]
        elif record.updated_at > when:
            unknown.append(record.id)
    records = sorted(state.values(), key=lambda r: (r.created_at, r.id))
    first = next(iter(log.entries(AuditQuery(store=store))), None)
    return AsOf(when=when, records=records, undone=len(later), unknown=unknown,
                log_starts=first.at if first else None)
