"""What the SQL audit logs (SQLite, PostgreSQL) share: the columns, the query clauses, and the conversion of rows to
entries, paging cursors and times. The SQL is written once with ``?`` marks; PostgreSQL's driver gets ``%s``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from memory_core.audit.log import READ, AuditEntry, AuditPage, AuditQuery, Erasure
from memory_core.errors import InvalidInputError
from memory_core.records import decode_cursor, encode_cursor

COLUMNS = "seq, at_us, actor, operation, store, user_id, memory_id, before, after, batch, reverts, note"
ENTRY_COLUMNS = "at_us, actor, operation, store, user_id, memory_id, batch, reverts"
ERASURE_COLUMNS = "id, store, user_key, actor, started_us, finished_us, receipt, counts"
TRASH = """
SELECT {columns} FROM audit_log e
WHERE e.store = ? AND e.before IS NOT NULL AND e.after IS NULL AND e.at_us >= ? {user} AND e.seq < ?
  AND NOT EXISTS (SELECT 1 FROM audit_entries r WHERE r.reverts = e.seq)
  AND NOT EXISTS (SELECT 1 FROM audit_entries l WHERE l.store = e.store AND l.memory_id = e.memory_id
                  AND l.seq > e.seq)
ORDER BY e.seq DESC LIMIT ?
"""
USER_CONTENT = "FROM audit_entries e JOIN audit_content c ON c.seq = e.seq WHERE e.store = ? AND e.user_id = ?"
NO_CURSOR = 2**63 - 1
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_FILTERS = (("store", "store = ?"), ("user_id", "user_id = ?"), ("memory_id", "memory_id = ?"),
            ("operation", "operation = ?"), ("actor", "actor = ?"), ("batch", "batch = ?"),
            ("reverts", "reverts = ?"))


def trash_sql(user_id: str | None) -> str:
    """The trash query (params: store, since, [user], below seq, limit)."""
    return TRASH.format(columns=", ".join(f"e.{c.strip()}" for c in COLUMNS.split(",")),
                        user="AND e.user_id = ?" if user_id is not None else "")


def where_clause(query: AuditQuery) -> tuple[str, list[Any]]:
    """``query`` as a WHERE clause over ``audit_entries``/``audit_log`` and its parameters."""
    clauses: list[str] = ["operation = ?" if query.reads else "operation != ?"]
    params: list[Any] = [READ]
    if query.stores is not None:
        clauses.append(f"store IN ({', '.join('?' * len(query.stores))})" if query.stores else "FALSE")
        params.extend(query.stores)
    for field, clause in _FILTERS:
        value = getattr(query, field)
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if query.since is not None:
        clauses.append("at_us >= ?")
        params.append(micros(query.since))
    if query.until is not None:
        clauses.append("at_us <= ?")
        params.append(micros(query.until))
    return " AND ".join(clauses), params


def paged(entries: list[AuditEntry], limit: int) -> AuditPage:
    """A page of ``limit`` entries out of ``limit + 1`` fetched (the extra one says there is more)."""
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(entries=entries, next_cursor=encode_cursor(entries[-1].seq) if more else None)


def below(cursor: str | None) -> int:
    """The ``seq`` a page continues below (``seq < value``)."""
    if cursor is None:
        return NO_CURSOR
    values = decode_cursor(cursor)
    if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool):
        raise InvalidInputError(f"invalid page cursor {cursor!r}")
    return values[0]


def checked_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(f"limit must be a positive integer, got {limit!r}")
    return limit


def micros(when: dt.datetime) -> int:
    if when.tzinfo is None:
        raise InvalidInputError("audit times need a timezone")
    return (when - EPOCH) // dt.timedelta(microseconds=1)


def from_micros(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=value)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def entry_row(entry: AuditEntry) -> tuple[Any, ...]:
    """The ``ENTRY_COLUMNS`` values of an entry."""
    return (micros(entry.at), entry.actor, entry.operation, entry.store, entry.user_id, entry.memory_id,
            entry.batch, entry.reverts)


def content_row(entry: AuditEntry) -> tuple[str | None, str | None, str | None]:
    """``before, after, note`` of an entry (states as sorted JSON text)."""
    return _json(entry.before), _json(entry.after), entry.note


def to_entry(row: tuple[Any, ...]) -> AuditEntry:
    """An entry from a ``COLUMNS`` row."""
    seq, at_us, actor, operation, store, user_id, memory_id, before, after, batch, reverts, note = row
    return AuditEntry(operation=operation, actor=actor, store=store, user_id=user_id, memory_id=memory_id,
                      before=json.loads(before) if before is not None else None,
                      after=json.loads(after) if after is not None else None, batch=batch, reverts=reverts,
                      note=note, at=from_micros(at_us), seq=seq)


def to_erasure(row: tuple[Any, ...]) -> Erasure:
    """An erasure from an ``ERASURE_COLUMNS`` row."""
    erasure_id, store, user_key, actor, started_us, finished_us, receipt, counts = row
    return Erasure(id=erasure_id, store=store, user_key=user_key, actor=actor, started=from_micros(started_us),
                   finished=from_micros(finished_us) if finished_us is not None else None, receipt=receipt,
                   counts=json.loads(counts))


def added_counts(raw: str, counts: dict[str, int]) -> str:
    """An erasure's stored counts (JSON) with ``counts`` added."""
    total = json.loads(raw)
    for place, n in counts.items():
        total[place] = total.get(place, 0) + n
    return json.dumps(total, sort_keys=True)


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
