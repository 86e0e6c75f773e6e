"""``SqliteAuditLog``: the audit log in its own SQLite file, append-only enforced by triggers.

Triggers abort any ``UPDATE`` or ``DELETE`` of an entry, and an ``INSERT`` that reuses an entry's number
(``INSERT OR REPLACE`` would otherwise delete the old row without firing the delete trigger), whichever
program opens the file. Dropping the table or deleting the file is outside SQL's reach: protect the file
with its permissions and back it up.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from memory_core.audit.log import AuditEntry, AuditLog, AuditPage, AuditQuery
from memory_core.errors import AuditLogError, InvalidInputError, NotFoundError
from memory_core.records import decode_cursor, encode_cursor

SCHEMA_VERSION = 1
COLUMNS = "seq, at_us, actor, operation, store, user_id, memory_id, before, after, batch, reverts, note"
SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_entries (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us     INTEGER NOT NULL,  -- microseconds since the epoch, UTC
    actor     TEXT NOT NULL,
    operation TEXT NOT NULL,
    store     TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    memory_id TEXT,
    before    TEXT,              -- lossless record JSON, NULL when the memory did not exist
    after     TEXT,
    batch     TEXT,
    reverts   INTEGER REFERENCES audit_entries (seq),
    note      TEXT
);
CREATE INDEX IF NOT EXISTS audit_store_seq ON audit_entries (store, seq);
CREATE INDEX IF NOT EXISTS audit_memory ON audit_entries (store, memory_id, seq);
CREATE INDEX IF NOT EXISTS audit_user ON audit_entries (store, user_id, seq);
CREATE INDEX IF NOT EXISTS audit_batch ON audit_entries (batch, seq) WHERE batch IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_reverts ON audit_entries (reverts) WHERE reverts IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_actor ON audit_entries (actor, seq);
CREATE INDEX IF NOT EXISTS audit_operation ON audit_entries (store, operation, seq);
CREATE INDEX IF NOT EXISTS audit_removals ON audit_entries (store, seq) WHERE before IS NOT NULL AND after IS NULL;
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be updated'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_replace BEFORE INSERT ON audit_entries
WHEN EXISTS (SELECT 1 FROM audit_entries WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be replaced'); END;
"""
_FILTERS = (("store", "store = ?"), ("user_id", "user_id = ?"), ("memory_id", "memory_id = ?"),
            ("operation", "operation = ?"), ("actor", "actor = ?"), ("batch", "batch = ?"),
            ("reverts", "reverts = ?"))
_TRASH = """
SELECT {columns} FROM audit_entries e
WHERE e.store = ? AND e.before IS NOT NULL AND e.after IS NULL AND e.at_us >= ? {user} AND e.seq < ?
  AND NOT EXISTS (SELECT 1 FROM audit_entries r WHERE r.reverts = e.seq)
  AND NOT EXISTS (SELECT 1 FROM audit_entries l WHERE l.store = e.store AND l.memory_id = e.memory_id
                  AND l.seq > e.seq)
ORDER BY e.seq DESC LIMIT ?
"""
_NO_CURSOR = 2**63 - 1
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class SqliteAuditLog(AuditLog):
    """One connection shared by the process's threads (a lock orders them); WAL, full fsync per append."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout_ms / 1000, isolation_level=None,
                                         check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise AuditLogError(f"cannot open the audit log {self.path}: {exc}") from exc
        try:
            self._setup()
        except sqlite3.Error as exc:
            self._conn.close()
            raise AuditLogError(f"cannot open the audit log {self.path}: {exc}") from exc

    def _setup(self) -> None:
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(SCHEMA):
                self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def append(self, entries: Sequence[AuditEntry]) -> list[int]:
        rows = [_row(entry) for entry in entries]
        if not rows:
            return []
        with self._locked("write to"):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(f"INSERT INTO audit_entries ({COLUMNS}) VALUES "
                                       "(NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                last = self._conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        return list(range(last - len(rows) + 1, last + 1))  # the write lock was held: the numbers are consecutive

    def get(self, seq: int) -> AuditEntry:
        if not 0 < seq < _NO_CURSOR:  # beyond SQLite's integers: no such entry, not an OverflowError
            raise NotFoundError(f"no audit entry number {seq}")
        with self._locked("read"):
            row = self._conn.execute(f"SELECT {COLUMNS} FROM audit_entries WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise NotFoundError(f"no audit entry number {seq}")
        return _entry(row)

    def page(self, query: AuditQuery, *, limit: int = 50, cursor: str | None = None) -> AuditPage:
        where, params = _where(query)
        sql = f"SELECT {COLUMNS} FROM audit_entries WHERE {where} AND seq < ? ORDER BY seq DESC LIMIT ?"
        with self._locked("read"):
            rows = self._conn.execute(sql, (*params, _after(cursor), _limit(limit) + 1)).fetchall()
        return _paged([_entry(row) for row in rows], limit)

    def count(self, query: AuditQuery) -> int:
        where, params = _where(query)
        with self._locked("read"):
            return self._conn.execute(f"SELECT count(*) FROM audit_entries WHERE {where}", params).fetchone()[0]

    def entries(self, query: AuditQuery) -> Iterator[AuditEntry]:
        where, params = _where(query)
        after = 0
        while True:
            sql = f"SELECT {COLUMNS} FROM audit_entries WHERE {where} AND seq > ? ORDER BY seq LIMIT 500"
            with self._locked("read"):
                rows = self._conn.execute(sql, (*params, after)).fetchall()
            yield from (_entry(row) for row in rows)
            if len(rows) < 500:
                return
            after = rows[-1][0]

    def reverted_by(self, seqs: Sequence[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        for start in range(0, len(seqs), 500):
            chunk = list(seqs[start:start + 500])
            sql = (f"SELECT reverts, max(seq) FROM audit_entries WHERE reverts IN ({', '.join('?' * len(chunk))}) "
                   "GROUP BY reverts")
            with self._locked("read"):
                found.update(self._conn.execute(sql, chunk).fetchall())
        return found

    def trash(self, store: str, *, since: dt.datetime, user_id: str | None = None, limit: int = 50,
              cursor: str | None = None) -> AuditPage:
        sql = _TRASH.format(columns=", ".join(f"e.{c.strip()}" for c in COLUMNS.split(",")),
                            user="AND e.user_id = ?" if user_id is not None else "")
        params = (store, _micros(since), *([user_id] if user_id is not None else []), _after(cursor),
                  _limit(limit) + 1)
        with self._locked("read"):
            rows = self._conn.execute(sql, params).fetchall()
        return _paged([_entry(row) for row in rows], limit)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _locked(self, action: str) -> _Guard:
        return _Guard(self._lock, f"cannot {action} the audit log {self.path}")


class _Guard:
    """Hold the connection lock; turn sqlite errors into ``AuditLogError``."""

    def __init__(self, lock: threading.Lock, message: str) -> None:
        self._lock, self._message = lock, message

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self._lock.release()
        if isinstance(exc, sqlite3.Error):
            raise AuditLogError(f"{self._message}: {exc}") from exc


def _statements(script: str) -> list[str]:
    """The schema's statements (a trigger body holds a ``;`` of its own, so split on ``;`` + newline)."""
    return [part.strip() for part in script.split(";\n") if part.strip()]


def _where(query: AuditQuery) -> tuple[str, list[Any]]:
    clauses, params = ["1"], []
    for field, clause in _FILTERS:
        value = getattr(query, field)
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if query.since is not None:
        clauses.append("at_us >= ?")
        params.append(_micros(query.since))
    if query.until is not None:
        clauses.append("at_us <= ?")
        params.append(_micros(query.until))
    return " AND ".join(clauses), params


def _paged(entries: list[AuditEntry], limit: int) -> AuditPage:
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(entries=entries, next_cursor=encode_cursor(entries[-1].seq) if more else None)


def _after(cursor: str | None) -> int:
    """The ``seq`` a page continues below (``seq < value``)."""
    if cursor is None:
        return _NO_CURSOR
    values = decode_cursor(cursor)
    if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool):
        raise InvalidInputError(f"invalid page cursor {cursor!r}")
    return values[0]


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(f"limit must be a positive integer, got {limit!r}")
    return limit


def _micros(when: dt.datetime) -> int:
    if when.tzinfo is None:
        raise InvalidInputError("audit times need a timezone")
    return (when - _EPOCH) // dt.timedelta(microseconds=1)


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _row(entry: AuditEntry) -> tuple[Any, ...]:
    return (_micros(entry.at), entry.actor, entry.operation, entry.store, entry.user_id, entry.memory_id,
            _json(entry.before), _json(entry.after), entry.batch, entry.reverts, entry.note)


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    seq, at_us, actor, operation, store, user_id, memory_id, before, after, batch, reverts, note = row
    return AuditEntry(operation=operation, actor=actor, store=store, user_id=user_id, memory_id=memory_id,
                      before=json.loads(before) if before is not None else None,
                      after=json.loads(after) if after is not None else None, batch=batch, reverts=reverts,
                      note=note, at=_EPOCH + dt.timedelta(microseconds=at_us), seq=seq)
