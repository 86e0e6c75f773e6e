"""Erasure in the audit log: entries stay append-only, their content leaves only through a recorded erasure of
its user (tombstones keep who, when and what kind), logs written before content had its own table are migrated,
and no page of the file keeps erased content."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from memory_core.audit import AuditEntry, AuditQuery, SqliteAuditLog
from memory_core.audit.writer import labels
from memory_core.errors import AuditLogError, InvalidInputError

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
SECRET = "Alice's secret recipe zqxsecret4711"
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def record(memory_id: str, user: str, text: str, version: int = 1) -> dict:
    return {"conversation": None, "created_at": "2024-01-01T00:00:00+00:00", "id": memory_id, "memory": text,
            "metadata": {}, "tags": [], "updated_at": "2024-01-01T00:00:00+00:00", "user_id": user,
            "version": version}


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def alice_and_bob() -> list[AuditEntry]:
    """Every kind of entry about alice, and some about bob and about nobody in particular."""
    return [
        AuditEntry("add", "ann", "main", "alice", "a1", after=record("a1", "alice", SECRET), batch="b1", at=at(1)),
        AuditEntry("add", "ann", "main", "bob", "b1", after=record("b1", "bob", "Bob hikes"), batch="b1", at=at(1)),
        AuditEntry("update", "ann", "main", "alice", "a1", before=record("a1", "alice", SECRET),
                   after=record("a1", "alice", SECRET + " v2", 2), at=at(2)),
        AuditEntry("review", "ann", "main", "alice", "a1", note="approved version 2", at=at(2)),
        AuditEntry("delete", "bob", "main", "alice", "a1", before=record("a1", "alice", SECRET + " v2", 2),
                   batch="b2", at=at(3)),
        AuditEntry("label", "ann", "main", "alice", note="Alice zqxsecret4711 (ticket 7)", at=at(4)),
        AuditEntry("label", "ann", "main", "bob", note="Bob", at=at(4)),
        AuditEntry("read", "ann", "main", "alice", note="browse · 3", at=at(6)),
        AuditEntry("export", "ann", "main", "alice", note="1 memory downloaded as JSONL", at=at(7)),
        AuditEntry("export", "cli:root", "main", "", note="snapshot 's1': 2 memories saved", at=at(8)),
        AuditEntry("add", "ann", "other", "alice", "o1", after=record("o1", "alice", "in another store"), at=at(9)),
        AuditEntry("delete", "ann", "main", "bob", "b1", before=record("b1", "bob", "Bob hikes"), at=at(10)),
    ]


@pytest.fixture
def log(tmp_path: Path):
    log = SqliteAuditLog(tmp_path / "audit.sqlite3")
    log.append(alice_and_bob())
    yield log
    log.close()


def everything(log: SqliteAuditLog) -> list[AuditEntry]:
    """Every entry, the read records included (listed apart from the changes where the log has them)."""
    if "reads" not in {field.name for field in dataclasses.fields(AuditQuery)}:
        return list(log.entries(AuditQuery()))
    return [*log.entries(AuditQuery()), *log.entries(AuditQuery(reads=True))]  # type: ignore[call-arg]


def by_seq(log: SqliteAuditLog) -> dict[int, AuditEntry]:
    return {entry.seq: entry for entry in everything(log)}


# --- the content table ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sql", [
    "DELETE FROM audit_content",
    "DELETE FROM audit_content WHERE seq = 1",
    "UPDATE audit_content SET note = NULL",
    "UPDATE audit_content SET before = NULL WHERE seq = 4",
    "INSERT OR REPLACE INTO audit_content (seq, note) VALUES (5, 'rewritten')",
    "REPLACE INTO audit_content (seq, note) VALUES (5, 'rewritten')",
    "INSERT INTO audit_content (seq, note) VALUES (5, 'x') ON CONFLICT (seq) DO UPDATE SET note = 'rewritten'",
    "UPDATE audit_entries SET user_id = 'mallory'",
    "DELETE FROM audit_erasures",
])
def test_content_leaves_only_through_a_recorded_erasure(log: SqliteAuditLog, sql: str) -> None:
    log.start_erasure("main", "nobody", "admin")  # an erasure of someone else opens no one's content
    before = by_seq(log)
    conn = sqlite3.connect(log.path, isolation_level=None)
    with pytest.raises(sqlite3.DatabaseError, match=r"append-only|kept"):
        conn.execute(sql)
    conn.close()
    assert by_seq(log) == before


def test_a_running_erasure_opens_only_its_own_users_content(log: SqliteAuditLog) -> None:
    log.start_erasure("main", "alice", "admin")
    conn = sqlite3.connect(log.path, isolation_level=None)
    with pytest.raises(sqlite3.DatabaseError, match="only by an erasure of its user"):
        conn.execute("DELETE FROM audit_content WHERE seq = 2")  # bob's
    with pytest.raises(sqlite3.DatabaseError, match="only by an erasure of its user"):
        conn.execute("DELETE FROM audit_content WHERE seq = 11")  # alice's, in another store
    conn.close()
    assert by_seq(log)[2].after == record("b1", "bob", "Bob hikes")


# --- erasing ---------------------------------------------------------------------------------------------------


def test_erasing_leaves_tombstones_and_touches_no_one_else(log: SqliteAuditLog) -> None:
    before = by_seq(log)
    assert log.content_counts("main", "alice") == {"add": 1, "update": 1, "delete": 1, "label": 1, "review": 1,
                                                   "read": 1, "export": 1, "removal": 1}
    assert [e.seq for e in log.trash("main", since=EPOCH).entries] == [12, 5]
    erasure = log.start_erasure("main", "alice", "admin")
    assert log.start_erasure("main", "alice", "someone else") == erasure  # a second start resumes the first
    counts = log.erase_content(erasure, "alice")
    assert counts == {"add": 1, "update": 1, "delete": 1, "label": 1, "review": 1, "read": 1, "export": 1,
                      "removal": 1}
    after = by_seq(log)
    alice = {seq for seq, e in before.items() if (e.store, e.user_id) == ("main", "alice")}
    assert alice == {1, 3, 4, 5, 6, 8, 9}
    for seq, entry in after.items():
        if seq in alice:  # a tombstone: who, when, what kind, which memory; no content
            assert entry == dataclasses.replace(before[seq], before=None, after=None, note=None)
        else:
            assert entry == before[seq]
    assert log.content_counts("main", "alice") == {}
    assert [e.seq for e in log.trash("main", since=EPOCH).entries] == [12]  # bob's removal only
    assert labels(log.entries(AuditQuery(store="main", operation="label"))) == {"bob": "Bob"}
    seq = log.finish_erasure(erasure, AuditEntry("erase", "admin", "main", "", note="receipt"))
    [done] = log.erasures("main", "alice")
    assert (done.finished is not None, done.receipt, done.counts) == (True, seq, counts)
    assert log.get(seq).note == "receipt" and log.get(seq).user_id == ""
    conn = sqlite3.connect(log.path)
    assert conn.execute("SELECT user_id, user_key FROM audit_erasures").fetchall() == [(None, done.user_key)]
    with pytest.raises(sqlite3.DatabaseError, match="finished erasure cannot be changed"):
        conn.execute("UPDATE audit_erasures SET user_id = 'alice'")
    conn.close()
    with pytest.raises(InvalidInputError, match="not a running erasure"):
        log.erase_content(erasure, "alice")


def test_a_user_key_names_a_user_of_a_store_and_nothing_else(log: SqliteAuditLog, tmp_path: Path) -> None:
    key = log.user_key("main", "alice")
    assert key == log.user_key("main", "alice") and len(key) == 32 and "alice" not in key
    assert key not in {log.user_key("other", "alice"), log.user_key("main", "alice ")}
    other = SqliteAuditLog(tmp_path / "another.sqlite3")  # each log has its own secret
    assert other.user_key("main", "alice") != key
    other.close()
    reopened = SqliteAuditLog(log.path)
    assert reopened.user_key("main", "alice") == key
    reopened.close()


def test_no_page_of_the_file_keeps_erased_content(log: SqliteAuditLog) -> None:
    files = [log.path, log.path.with_name(log.path.name + "-wal")]
    assert any(b"zqxsecret4711" in path.read_bytes() for path in files)
    erasure = log.start_erasure("main", "alice", "admin")
    log.erase_content(erasure, "alice")
    log.compact()
    assert not any(b"zqxsecret4711" in path.read_bytes() for path in files if path.exists())
    assert b"Bob hikes" in log.path.read_bytes()


def test_compact_says_when_a_reader_keeps_the_wal(log: SqliteAuditLog) -> None:
    reader = sqlite3.connect(log.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM audit_entries").fetchone()
    log.append([AuditEntry("label", "ann", "main", "carol", note="Carol")])
    with pytest.raises(AuditLogError, match="another process is reading it"):
        log.compact()
    reader.execute("COMMIT")
    reader.close()
    log.compact()


# --- a log written before content had its own table -------------------------------------------------------------

# The schema of d77d7ec (user_version 1), as `sqlite3 .dump` shows a file that version wrote.
V1_SCHEMA = """
CREATE TABLE audit_entries (
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
CREATE INDEX audit_store_seq ON audit_entries (store, seq);
CREATE INDEX audit_memory ON audit_entries (store, memory_id, seq);
CREATE INDEX audit_user ON audit_entries (store, user_id, seq);
CREATE INDEX audit_batch ON audit_entries (batch, seq) WHERE batch IS NOT NULL;
CREATE INDEX audit_reverts ON audit_entries (reverts) WHERE reverts IS NOT NULL;
CREATE INDEX audit_actor ON audit_entries (actor, seq);
CREATE INDEX audit_operation ON audit_entries (store, operation, seq);
CREATE INDEX audit_removals ON audit_entries (store, seq) WHERE before IS NOT NULL AND after IS NULL;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be updated'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be deleted'); END;
CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit_entries
WHEN EXISTS (SELECT 1 FROM audit_entries WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be replaced'); END;
PRAGMA journal_mode = WAL;
PRAGMA user_version = 1;
"""


def v1_row(seq: int, entry: AuditEntry) -> tuple:
    """The row d77d7ec's SqliteAuditLog.append wrote for ``entry``."""
    def js(value: dict | None) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return (seq, (entry.at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1), entry.actor,
            entry.operation, entry.store, entry.user_id, entry.memory_id, js(entry.before), js(entry.after),
            entry.batch, entry.reverts, entry.note)


def write_v1_log(path: Path, entries: list[AuditEntry]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(V1_SCHEMA)
    conn.executemany("INSERT INTO audit_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [v1_row(seq, entry) for seq, entry in enumerate(entries, 1)])
    conn.close()


def test_a_log_written_by_the_previous_version_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    entries = [e for e in alice_and_bob() if e.operation != "read"]  # read entries came with the new version
    entries.append(AuditEntry("revert", "ann", "main", "alice", "a1", after=record("a1", "alice", SECRET + " v2", 2),
                              reverts=5, at=at(11)))
    write_v1_log(path, entries)
    log = SqliteAuditLog(path)
    expected = [dataclasses.replace(e, seq=seq) for seq, e in enumerate(entries, 1)]
    assert list(log.entries(AuditQuery())) == expected
    assert log.trash("main", since=EPOCH).entries == [expected[-2]]  # bob's removal; alice's was reverted
    assert log.reverted_by([5]) == {5: 12}
    assert log.append([AuditEntry("update", "ann", "main", "bob", "b9")]) == [13]  # numbering goes on
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA user_version").fetchone() == (2,)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(audit_entries)")]
    assert columns == ["seq", "at_us", "actor", "operation", "store", "user_id", "memory_id", "batch", "reverts"]
    assert not conn.execute("SELECT name FROM sqlite_master WHERE name LIKE '%v2%'").fetchall()
    for sql in ("DELETE FROM audit_entries", "UPDATE audit_entries SET actor = 'm'", "DELETE FROM audit_content"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    conn.close()
    erasure = log.start_erasure("main", "alice", "admin")  # and an erasure works on it
    assert log.erase_content(erasure, "alice")["label"] == 1
    log.compact()
    log.close()
    reopened = SqliteAuditLog(path)  # opening again migrates nothing
    assert reopened.get(1).after is None and reopened.get(2).after == record("b1", "bob", "Bob hikes")
    reopened.close()
    assert b"zqxsecret4711" not in path.read_bytes()


def test_a_log_from_a_newer_memdash_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    SqliteAuditLog(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    with pytest.raises(AuditLogError, match="schema version 3, newer than this memdash reads"):
        SqliteAuditLog(path)
