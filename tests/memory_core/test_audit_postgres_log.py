"""The audit log in PostgreSQL (``memdash.state: {_type: postgres}``): append-only for every role, triggers that a
role owning nothing cannot drop or disable, the same queries, trash and erasure as the SQLite log, and one log
for processes that open it at the same moment. Real PostgreSQL (the ``pgvector_server`` fixture)."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from memory_core.audit import AuditEntry, AuditQuery
from memory_core.audit.postgres import PostgresAuditLog, grant_statements
from memory_core.audit.writer import labels
from memory_core.errors import AuditLogError, InvalidInputError, NotFoundError
from tests.memory_core.test_erasure_audit import EPOCH, SECRET, alice_and_bob, record

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def two_entries() -> list[AuditEntry]:
    return [AuditEntry("add", "ann", "main", "u1", "m1", after={"id": "m1", "version": 1}, at=T0),
            AuditEntry("delete", "bob", "main", "u1", "m1", before={"id": "m1", "version": 1},
                       at=T0 + dt.timedelta(days=1))]


@pytest.fixture
def schema() -> str:
    return f"audit_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def log(pgvector_server: str, schema: str) -> Iterator[PostgresAuditLog]:
    log = PostgresAuditLog(pgvector_server, schema=schema)
    log.append(two_entries())
    yield log
    log.close()


def raw(dsn: str, schema: str, **params: str) -> psycopg.Connection:
    return psycopg.connect(make_conninfo(dsn, **params), autocommit=True, options=f"-c search_path={schema}")


def kept(log: PostgresAuditLog) -> list[tuple]:
    return [(e.seq, e.actor, e.operation, e.before, e.after) for e in log.entries(AuditQuery())]


# --- append-only, for whoever connects -------------------------------------------------------------------------


@pytest.mark.parametrize("sql", [
    "UPDATE audit_entries SET actor = 'mallory'",
    "UPDATE audit_content SET before = NULL WHERE seq = 2",
    "DELETE FROM audit_entries",
    "DELETE FROM audit_entries WHERE seq = 1",
    "DELETE FROM audit_content",
    "TRUNCATE audit_entries CASCADE",
    "TRUNCATE audit_content",
    "INSERT INTO audit_entries (seq, at_us, actor, operation, store, user_id) OVERRIDING SYSTEM VALUE "
    "VALUES (1, 0, 'm', 'add', 's', 'u') ON CONFLICT (seq) DO UPDATE SET actor = 'mallory'",
    "INSERT INTO audit_content (seq, note) VALUES (1, 'x') ON CONFLICT (seq) DO UPDATE SET note = 'rewritten'",
    "UPDATE audit_meta SET value = 'forged' WHERE key = 'user_key_secret'",
    "DELETE FROM audit_erasures",
])
def test_postgres_entries_cannot_be_changed_or_removed_by_any_connection(log: PostgresAuditLog, pgvector_server: str,
                                                                        schema: str, sql: str) -> None:
    log.start_erasure("main", "nobody", "admin")  # an erasure of someone else opens no one's content
    before = kept(log)
    with raw(pgvector_server, schema) as conn, pytest.raises(psycopg.Error, match=r"append-only|kept"):
        conn.execute(sql)  # as the superuser that created the tables: the triggers still refuse
    assert kept(log) == before == [(1, "ann", "add", None, {"id": "m1", "version": 1}),
                                   (2, "bob", "delete", {"id": "m1", "version": 1}, None)]


def test_postgres_entry_numbers_come_from_the_log_only(log: PostgresAuditLog, pgvector_server: str,
                                                       schema: str) -> None:
    with raw(pgvector_server, schema) as conn, pytest.raises(psycopg.Error, match="GENERATED ALWAYS"):
        conn.execute("INSERT INTO audit_entries (seq, at_us, actor, operation, store, user_id) "
                     "VALUES (99, 0, 'm', 'add', 's', 'u')")
    assert log.append([AuditEntry("update", "c", "main", "u2", "m2")]) == [3]


@pytest.fixture
def app_role(pgvector_server: str, log: PostgresAuditLog, schema: str) -> str:
    """A login role that owns nothing, granted what memdash needs (``grant_statements``)."""
    role = f"app_{uuid.uuid4().hex[:8]}"
    with raw(pgvector_server, schema) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        for statement in grant_statements(schema, role):
            conn.execute(statement)
    return role


def test_postgres_a_role_owning_nothing_runs_memdash_but_cannot_touch_the_triggers(
        pgvector_server: str, schema: str, log: PostgresAuditLog, app_role: str) -> None:
    app = PostgresAuditLog(make_conninfo(pgvector_server, user=app_role), schema=schema)
    try:
        assert app.append([AuditEntry("update", "carol", "main", "u1", "m2", before={"v": 1}, after={"v": 2})]) == [3]
        assert app.user_key("main", "u1") == log.user_key("main", "u1")  # one secret, one log
        assert [e.seq for e in app.trash("main", since=T0).entries] == [2]
        erasure = app.start_erasure("main", "u1", "admin")
        assert app.erase_content(erasure, "u1") == {"add": 1, "delete": 1, "update": 1, "removal": 1}
        app.finish_erasure(erasure, AuditEntry("erase", "admin", "main", "", note="receipt"))
        with pytest.raises(AuditLogError, match=r"owner .* or a role granted MAINTAIN"):
            app.compact()  # said plainly, not skipped with a server warning nobody reads
        log.grant(app_role)  # as memdash state init does: MAINTAIN on PostgreSQL 17+ (this server is 18)
        app.compact()
    finally:
        app.close()
    with raw(pgvector_server, schema, user=app_role) as conn:
        conn.execute("INSERT INTO accounts (name, account) VALUES ('dee', '{}')")  # the accounts are its to manage
        conn.execute("DELETE FROM accounts WHERE name = 'dee'")
        for sql in ["ALTER TABLE audit_entries DISABLE TRIGGER audit_no_update",
                    "DROP TRIGGER audit_no_delete ON audit_entries", "DROP TABLE audit_content",
                    "SET session_replication_role = replica", "UPDATE audit_entries SET actor = 'mallory'",
                    "DELETE FROM audit_entries", "TRUNCATE audit_entries CASCADE"]:
            with pytest.raises(psycopg.Error, match=r"must be owner|permission denied"):
                conn.execute(sql)
    assert [e.actor for e in log.entries(AuditQuery())] == ["ann", "bob", "carol", "admin"]


# --- the same log as SQLite's ------------------------------------------------------------------------------------


def test_postgres_queries_filter_and_page_newest_first(log: PostgresAuditLog) -> None:
    log.append([AuditEntry("update", "ann", "other" if i % 2 else "main", f"u{i % 3}", f"m{i}", batch="b" if i < 4
                           else None, at=T0 + dt.timedelta(days=2, hours=i)) for i in range(10)])
    assert [e.seq for e in log.page(AuditQuery(store="main", batch="b")).entries] == [5, 3]
    assert log.count(AuditQuery(actor="ann")) == 11 and log.count(AuditQuery(operation="delete")) == 1
    assert log.count(AuditQuery(user_id="u1", store="other")) == 2
    assert log.count(AuditQuery(stores=())) == 0 and log.count(AuditQuery(stores=("other",))) == 5
    assert [e.seq for e in log.page(AuditQuery(until=T0 + dt.timedelta(days=1))).entries] == [2, 1]
    first = log.page(AuditQuery(), limit=5)
    second = log.page(AuditQuery(), limit=5, cursor=first.next_cursor)
    third = log.page(AuditQuery(), limit=5, cursor=second.next_cursor)
    assert [e.seq for e in first.entries + second.entries + third.entries] == list(range(12, 0, -1))
    assert third.next_cursor is None
    with pytest.raises(InvalidInputError):
        log.page(AuditQuery(), cursor="nonsense")
    with pytest.raises(NotFoundError):
        log.get(999)


def test_postgres_trash_is_removals_within_retention_not_undone(log: PostgresAuditLog) -> None:
    assert [e.seq for e in log.trash("main", since=T0).entries] == [2]
    assert log.trash("main", since=T0 + dt.timedelta(days=2)).entries == []
    log.append([AuditEntry("revert", "ann", "main", "u1", "m1", after={"id": "m1"}, reverts=2)])
    assert log.trash("main", since=T0).entries == [] and log.reverted_by([1, 2]) == {2: 3}


def test_postgres_erasing_leaves_tombstones_and_touches_no_one_else(pgvector_server: str, schema: str) -> None:
    log = PostgresAuditLog(pgvector_server, schema=schema)
    try:
        log.append(alice_and_bob())
        before = {e.seq: e for e in [*log.entries(AuditQuery()), *log.entries(AuditQuery(reads=True))]}
        erasure = log.start_erasure("main", "alice", "admin")
        assert log.start_erasure("main", "alice", "someone else") == erasure
        with raw(pgvector_server, schema) as conn, pytest.raises(psycopg.Error, match="only by an erasure"):
            conn.execute("DELETE FROM audit_content WHERE seq = 2")  # bob's content stays closed
        counts = log.erase_content(erasure, "alice")
        assert counts == {"add": 1, "update": 1, "delete": 1, "label": 1, "review": 1, "read": 1, "export": 1,
                          "removal": 1}
        after = {e.seq: e for e in [*log.entries(AuditQuery()), *log.entries(AuditQuery(reads=True))]}
        for seq, entry in after.items():
            alice = (entry.store, entry.user_id) == ("main", "alice")
            assert entry == (dataclasses.replace(before[seq], before=None, after=None, note=None) if alice
                             else before[seq])
        assert labels(log.entries(AuditQuery(store="main", operation="label"))) == {"bob": "Bob"}
        seq = log.finish_erasure(erasure, AuditEntry("erase", "admin", "main", "", note="receipt"))
        [done] = log.erasures("main", "alice")
        assert (done.receipt, done.counts) == (seq, counts)
        with raw(pgvector_server, schema) as conn, pytest.raises(psycopg.Error, match="finished erasure"):
            conn.execute("UPDATE audit_erasures SET user_id = 'alice'")
        log.compact()  # the owner may: the content table is rewritten without the erased rows
        with raw(pgvector_server, schema) as conn:
            path = conn.execute("SELECT pg_relation_filepath('audit_content')").fetchone()[0]
            data_dir = conn.execute("SHOW data_directory").fetchone()[0]
        with open(f"{data_dir}/{path}", "rb") as table:
            assert SECRET.encode() not in table.read()
        assert [e.seq for e in log.trash("main", since=EPOCH).entries] == [12]
        assert log.get(1).after is None and log.get(2).after == record("b1", "bob", "Bob hikes")
    finally:
        log.close()


def test_postgres_processes_opening_a_new_log_at_once_share_it(pgvector_server: str, schema: str) -> None:
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        logs = list(pool.map(lambda _: PostgresAuditLog(pgvector_server, schema=schema), range(4)))
    try:
        assert len({log.user_key("main", "alice") for log in logs}) == 1
        for n, log in enumerate(logs):
            log.append([AuditEntry("add", f"p{n}", "main", "u", f"m{n}")])
        assert sorted(e.actor for e in logs[0].entries(AuditQuery())) == ["p0", "p1", "p2", "p3"]
    finally:
        for log in logs:
            log.close()


def test_postgres_an_unreachable_log_is_an_audit_error_without_the_password(closed_port: int) -> None:
    dsn = f"postgresql://memdash:s3cret-pw@127.0.0.1:{closed_port}/memdash"
    with pytest.raises(AuditLogError, match=f"cannot open the audit log at postgresql memdash@127.0.0.1:{closed_port}"
                       ) as info:
        PostgresAuditLog(dsn, connect_timeout=2)
    assert "s3cret-pw" not in str(info.value)


def test_postgres_batches_appended_at_once_keep_each_entry_with_its_own_content(pgvector_server: str,
                                                                              schema: str) -> None:
    """Four writers append batches at the same moment: numbers interleave, yet every entry's content is its own."""
    logs = [PostgresAuditLog(pgvector_server, schema=schema) for _ in range(4)]

    def write(n: int) -> list[int]:
        return [seq for batch in range(15) for seq in logs[n].append(
            [AuditEntry("update", f"w{n}", "main", "u", f"m{batch}-{k}", after={"by": f"w{n}", "k": k},
                        note=f"w{n}/m{batch}-{k}") for k in range(40)])]

    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            returned = list(pool.map(write, range(4)))
        entries = list(logs[0].entries(AuditQuery()))
    finally:
        for log in logs:
            log.close()
    assert len(entries) == 4 * 15 * 40 and sorted(s for seqs in returned for s in seqs) == [e.seq for e in entries]
    assert all(e.note == f"{e.actor}/{e.memory_id}" and e.after["by"] == e.actor for e in entries)
    for n, seqs in enumerate(returned):  # append returned each writer's own numbers, in its order
        assert seqs == sorted(seqs) and {e.actor for e in entries if e.seq in set(seqs)} == {f"w{n}"}
