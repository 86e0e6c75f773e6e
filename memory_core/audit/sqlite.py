"""``SqliteAuditLog``: the audit log in its own SQLite file, append-only enforced by triggers.

Two tables. ``audit_entries`` says who did what to which user's memory and when; triggers abort any ``UPDATE``
or ``DELETE`` of an entry, and an ``INSERT`` that reuses an entry's number (``INSERT OR REPLACE`` would otherwise
delete the old row without firing the delete trigger), whichever program opens the file. ``audit_content`` holds
what an entry says about the person (the memory's states before and after, the note): it is never updated, and a
row leaves it only while an erasure of its entry's (store, user) is recorded as running in ``audit_erasures``
(:mod:`memory_core.audit.erasure`), so the entry stays as a tombstone (who, when, what kind). The view
``audit_log`` joins the two back into the entries the log returns. ``secure_delete`` overwrites removed content
in the file; :meth:`SqliteAuditLog.compact` truncates the WAL. Dropping a table or deleting the file is outside
SQL's reach: protect the file with its permissions and back it up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from memory_core.audit.log import AuditEntry, AuditLog, AuditPage, AuditQuery, Erasure
from memory_core.audit.rows import (
    COLUMNS,
    ENTRY_COLUMNS,
    ERASURE_COLUMNS,
    NO_CURSOR,
    USER_CONTENT,
    added_counts,
    below,
    checked_limit,
    content_row,
    entry_row,
    micros,
    now,
    paged,
    to_entry,
    to_erasure,
    trash_sql,
    where_clause,
)
from memory_core.errors import AuditLogError, InvalidInputError, NotFoundError

SCHEMA_VERSION = 2
ENTRIES_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us     INTEGER NOT NULL,  -- microseconds since the epoch, UTC
    actor     TEXT NOT NULL,
    operation TEXT NOT NULL,
    store     TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    memory_id TEXT,
    batch     TEXT,
    reverts   INTEGER REFERENCES {name} (seq)
)"""
SCHEMA = ENTRIES_TABLE.format(name="audit_entries") + """;
CREATE TABLE IF NOT EXISTS audit_content (
    seq       INTEGER PRIMARY KEY REFERENCES audit_entries (seq),
    before    TEXT,              -- lossless record JSON, NULL when the memory did not exist
    after     TEXT,
    note      TEXT
);
CREATE TABLE IF NOT EXISTS audit_erasures (
    id          INTEGER PRIMARY KEY,
    store       TEXT NOT NULL,
    user_id     TEXT,            -- while it runs (the content trigger needs it); NULL once finished
    user_key    TEXT NOT NULL,   -- SqliteAuditLog.user_key: what the receipt and finished records keep
    actor       TEXT NOT NULL,
    started_us  INTEGER NOT NULL,
    finished_us INTEGER,
    receipt     INTEGER REFERENCES audit_entries (seq),
    counts      TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS audit_log AS
SELECT e.seq, e.at_us, e.actor, e.operation, e.store, e.user_id, e.memory_id, c.before, c.after, e.batch, e.reverts,
       c.note
FROM audit_entries e LEFT JOIN audit_content c ON c.seq = e.seq;
CREATE INDEX IF NOT EXISTS audit_store_seq ON audit_entries (store, seq);
CREATE INDEX IF NOT EXISTS audit_memory ON audit_entries (store, memory_id, seq);
CREATE INDEX IF NOT EXISTS audit_user ON audit_entries (store, user_id, seq);
CREATE INDEX IF NOT EXISTS audit_batch ON audit_entries (batch, seq) WHERE batch IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_reverts ON audit_entries (reverts) WHERE reverts IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_actor ON audit_entries (actor, seq);
CREATE INDEX IF NOT EXISTS audit_operation ON audit_entries (store, operation, seq);
CREATE INDEX IF NOT EXISTS audit_removals ON audit_content (seq) WHERE before IS NOT NULL AND after IS NULL;
CREATE INDEX IF NOT EXISTS audit_erasing ON audit_erasures (store, user_id) WHERE finished_us IS NULL;
CREATE INDEX IF NOT EXISTS audit_erased ON audit_erasures (store, user_key);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be updated'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_replace BEFORE INSERT ON audit_entries
WHEN EXISTS (SELECT 1 FROM audit_entries WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be replaced'); END;
CREATE TRIGGER IF NOT EXISTS audit_content_no_update BEFORE UPDATE ON audit_content
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: content cannot be updated'); END;
CREATE TRIGGER IF NOT EXISTS audit_content_no_replace BEFORE INSERT ON audit_content
WHEN EXISTS (SELECT 1 FROM audit_content WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: content cannot be replaced'); END;
CREATE TRIGGER IF NOT EXISTS audit_content_erased_only BEFORE DELETE ON audit_content
WHEN NOT EXISTS (SELECT 1 FROM audit_entries e JOIN audit_erasures x ON x.store = e.store AND x.user_id = e.user_id
                 WHERE e.seq = OLD.seq AND x.finished_us IS NULL)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: content is removed only by an erasure of its user'); END;
CREATE TRIGGER IF NOT EXISTS audit_erasures_kept BEFORE DELETE ON audit_erasures
BEGIN SELECT RAISE(ABORT, 'erasure records are kept'); END;
CREATE TRIGGER IF NOT EXISTS audit_erasures_finished BEFORE UPDATE ON audit_erasures WHEN OLD.finished_us IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a finished erasure cannot be changed'); END;
"""
# Schema 1 kept before/after/note in audit_entries: copy the content out, rebuild the entries without it.
_FROM_V1 = [
    "CREATE TABLE audit_content (seq INTEGER PRIMARY KEY REFERENCES audit_entries (seq), before TEXT, after TEXT, "
    "note TEXT)",
    "INSERT INTO audit_content (seq, before, after, note) SELECT seq, before, after, note FROM audit_entries "
    "WHERE before IS NOT NULL OR after IS NOT NULL OR note IS NOT NULL ORDER BY seq",
    ENTRIES_TABLE.format(name="audit_entries_v2"),
    f"INSERT INTO audit_entries_v2 (seq, {ENTRY_COLUMNS}) SELECT seq, {ENTRY_COLUMNS} FROM audit_entries ORDER BY seq",
    "DROP TABLE audit_entries",  # its triggers and indexes go with it; DROP fires no trigger
    "ALTER TABLE audit_entries_v2 RENAME TO audit_entries",
]


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
        except (sqlite3.Error, AuditLogError) as exc:
            self._conn.close()
            if isinstance(exc, AuditLogError):
                raise
            raise AuditLogError(f"cannot open the audit log {self.path}: {exc}") from exc

    def _setup(self) -> None:
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA secure_delete = ON")  # removed content is overwritten, not left in free pages
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            found = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if found > SCHEMA_VERSION:
                raise AuditLogError(f"the audit log {self.path} has schema version {found}, newer than this memdash "
                                    f"reads ({SCHEMA_VERSION}); upgrade memdash")
            if found == 1:
                for statement in _FROM_V1:
                    self._conn.execute(statement)
            for statement in _statements(SCHEMA):
                self._conn.execute(statement)
            self._conn.execute("INSERT OR IGNORE INTO audit_meta (key, value) VALUES ('user_key_secret', ?)",
                               (secrets.token_hex(32),))
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._secret = bytes.fromhex(self._conn.execute(
            "SELECT value FROM audit_meta WHERE key = 'user_key_secret'").fetchone()[0])

    def append(self, entries: Sequence[AuditEntry]) -> list[int]:
        if not entries:
            return []
        with self._locked("write to"):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                seqs = self._insert(entries)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        return seqs

    def _insert(self, entries: Sequence[AuditEntry]) -> list[int]:
        """Insert entries and their content inside the caller's transaction (the write lock is held, so the
        numbers are consecutive)."""
        self._conn.executemany(f"INSERT INTO audit_entries (seq, {ENTRY_COLUMNS}) VALUES "
                               "(NULL, ?, ?, ?, ?, ?, ?, ?, ?)", [entry_row(entry) for entry in entries])
        last = self._conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        seqs = list(range(last - len(entries) + 1, last + 1))
        content = [(seq, *content_row(entry)) for seq, entry in zip(seqs, entries, strict=True)]
        self._conn.executemany("INSERT INTO audit_content (seq, before, after, note) VALUES (?, ?, ?, ?)",
                               [row for row in content if any(value is not None for value in row[1:])])
        return seqs

    def get(self, seq: int) -> AuditEntry:
        if not 0 < seq < NO_CURSOR:  # beyond SQLite's integers: no such entry, not an OverflowError
            raise NotFoundError(f"no audit entry number {seq}")
        with self._locked("read"):
            row = self._conn.execute(f"SELECT {COLUMNS} FROM audit_log WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise NotFoundError(f"no audit entry number {seq}")
        return to_entry(row)

    def page(self, query: AuditQuery, *, limit: int = 50, cursor: str | None = None) -> AuditPage:
        where, params = where_clause(query)
        sql = f"SELECT {COLUMNS} FROM audit_log WHERE {where} AND seq < ? ORDER BY seq DESC LIMIT ?"
        with self._locked("read"):
            rows = self._conn.execute(sql, (*params, below(cursor), checked_limit(limit) + 1)).fetchall()
        return paged([to_entry(row) for row in rows], limit)

    def count(self, query: AuditQuery) -> int:
        where, params = where_clause(query)
        with self._locked("read"):
            return self._conn.execute(f"SELECT count(*) FROM audit_entries WHERE {where}", params).fetchone()[0]

    def entries(self, query: AuditQuery) -> Iterator[AuditEntry]:
        where, params = where_clause(query)
        after = 0
        while True:
            sql = f"SELECT {COLUMNS} FROM audit_log WHERE {where} AND seq > ? ORDER BY seq LIMIT 500"
            with self._locked("read"):
                rows = self._conn.execute(sql, (*params, after)).fetchall()
            yield from (to_entry(row) for row in rows)
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
        sql = trash_sql(user_id)
        params = (store, micros(since), *([user_id] if user_id is not None else []), below(cursor),
                  checked_limit(limit) + 1)
        with self._locked("read"):
            rows = self._conn.execute(sql, params).fetchall()
        return paged([to_entry(row) for row in rows], limit)

    # --- erasure ------------------------------------------------------------------------------------------
    def user_key(self, store: str, user_id: str) -> str:
        return hmac.new(self._secret, f"{store}\0{user_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def content_counts(self, store: str, user_id: str) -> dict[str, int]:
        with self._locked("read"):
            return _content_counts(self._conn, store, user_id)

    def erasures(self, store: str, user_id: str) -> list[Erasure]:
        sql = (f"SELECT {ERASURE_COLUMNS} FROM audit_erasures WHERE store = ? AND (user_key = ? OR "
               "(user_id = ? AND finished_us IS NULL)) ORDER BY id")
        with self._locked("read"):
            rows = self._conn.execute(sql, (store, self.user_key(store, user_id), user_id)).fetchall()
        return [to_erasure(row) for row in rows]

    def start_erasure(self, store: str, user_id: str, actor: str) -> Erasure:
        if not user_id:
            raise InvalidInputError("a user id is needed")
        with self._locked("write to"), self._transaction():
            row = self._conn.execute(f"SELECT {ERASURE_COLUMNS} FROM audit_erasures WHERE store = ? AND user_id = ? "
                                     "AND finished_us IS NULL", (store, user_id)).fetchone()
            if row is None:
                self._conn.execute("INSERT INTO audit_erasures (store, user_id, user_key, actor, started_us) "
                                   "VALUES (?, ?, ?, ?, ?)",
                                   (store, user_id, self.user_key(store, user_id), actor, micros(now())))
                row = self._conn.execute(f"SELECT {ERASURE_COLUMNS} FROM audit_erasures WHERE id = "
                                         "last_insert_rowid()").fetchone()
        return to_erasure(row)

    def erase_content(self, erasure: Erasure, user_id: str) -> dict[str, int]:
        with self._locked("erase content in"), self._transaction():
            self._running(erasure, user_id)
            counts = _content_counts(self._conn, erasure.store, user_id)
            self._conn.execute(f"DELETE FROM audit_content WHERE seq IN (SELECT e.seq {USER_CONTENT})",
                               (erasure.store, user_id))
            self._add_counts(erasure, counts)
        return counts

    def add_erasure_counts(self, erasure: Erasure, counts: dict[str, int]) -> None:
        with self._locked("write to"), self._transaction():
            self._add_counts(erasure, counts)

    def finish_erasure(self, erasure: Erasure, receipt: AuditEntry) -> int:
        with self._locked("write to"), self._transaction():
            [seq] = self._insert([receipt])
            self._conn.execute("UPDATE audit_erasures SET user_id = NULL, finished_us = ?, receipt = ? WHERE id = ?",
                               (micros(receipt.at), seq, erasure.id))
        return seq

    def compact(self) -> None:
        with self._locked("compact"):
            busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise AuditLogError(f"the audit log {self.path} could not be checkpointed: another process is reading "
                                "it; its WAL may still hold erased content until the next checkpoint")

    def _running(self, erasure: Erasure, user_id: str | None = None) -> None:
        row = self._conn.execute("SELECT user_id FROM audit_erasures WHERE id = ? AND finished_us IS NULL",
                                 (erasure.id,)).fetchone()
        if row is None or (user_id is not None and row[0] != user_id):
            raise InvalidInputError(f"erasure {erasure.id} is not a running erasure of this user")

    def _add_counts(self, erasure: Erasure, counts: dict[str, int]) -> None:
        self._running(erasure)
        raw = self._conn.execute("SELECT counts FROM audit_erasures WHERE id = ?", (erasure.id,)).fetchone()[0]
        self._conn.execute("UPDATE audit_erasures SET counts = ? WHERE id = ?", (added_counts(raw, counts),
                                                                                 erasure.id))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _locked(self, action: str) -> _Guard:
        return _Guard(self._lock, f"cannot {action} the audit log {self.path}")

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error (the caller holds the lock)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if kind is None:
            self._conn.execute("COMMIT")
        elif self._conn.in_transaction:
            self._conn.execute("ROLLBACK")


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


def _content_counts(conn: sqlite3.Connection, store: str, user_id: str) -> dict[str, int]:
    counts = dict(conn.execute(f"SELECT e.operation, count(*) {USER_CONTENT} GROUP BY e.operation",
                               (store, user_id)).fetchall())
    removals = conn.execute(f"SELECT count(*) {USER_CONTENT} AND c.before IS NOT NULL AND c.after IS NULL",
                            (store, user_id)).fetchone()[0]
    return counts | ({"removal": removals} if removals else {})
