"""The audit log: append-only in SQLite, every service mutation recorded with lossless before/after, the CLI too."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from dashboard.services import memories
from dashboard.services.hub import StoreHub
from memdash import cli
from memory_core.access import LOCAL_ADMIN
from memory_core.audit import AuditEntry, AuditQuery, SqliteAuditLog, safety_settings
from memory_core.config import load_config
from memory_core.errors import AuditLogError, ConfigError, InvalidInputError
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter, MemoryPatch
from memory_core.transfer import record_from_dict
from tests.helpers.dashboard import SearchOnlyConfig  # noqa: F401  (registers the test store types)

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def entries(hub: StoreHub, **query: object) -> list[AuditEntry]:
    return list(hub.audit.entries(AuditQuery(**query)))  # type: ignore[arg-type]


# --- append-only ------------------------------------------------------------------------------------------


@pytest.fixture
def log(tmp_path: Path) -> SqliteAuditLog:
    log = SqliteAuditLog(tmp_path / "audit.sqlite3")
    log.append([AuditEntry("add", "ann", "main", "u1", "m1", after={"id": "m1", "version": 1}, at=T0),
                AuditEntry("delete", "bob", "main", "u1", "m1", before={"id": "m1", "version": 1},
                           at=T0 + dt.timedelta(days=1))])
    yield log
    log.close()


@pytest.mark.parametrize("sql", [
    "UPDATE audit_entries SET actor = 'mallory'",
    "UPDATE audit_content SET before = NULL WHERE seq = 2",  # a before-image (the content table, schema 2)
    "DELETE FROM audit_entries",
    "DELETE FROM audit_entries WHERE seq = 1",
    "INSERT OR REPLACE INTO audit_entries (seq, at_us, actor, operation, store, user_id) "
    "VALUES (1, 0, 'mallory', 'add', 'main', 'u1')",
    "REPLACE INTO audit_entries (seq, at_us, actor, operation, store, user_id) VALUES (2, 0, 'm', 'add', 's', 'u')",
    "INSERT INTO audit_entries (seq, at_us, actor, operation, store, user_id) VALUES (1, 0, 'm', 'add', 's', 'u') "
    "ON CONFLICT (seq) DO UPDATE SET actor = 'mallory'",
])
def test_entries_cannot_be_changed_or_removed_by_any_connection(log: SqliteAuditLog, sql: str) -> None:
    conn = sqlite3.connect(log.path, isolation_level=None)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute(sql)
    conn.close()
    kept = [(e.seq, e.actor, e.operation) for e in log.entries(AuditQuery())]
    assert kept == [(1, "ann", "add"), (2, "bob", "delete")]


def test_appending_still_works_and_numbers_increase(log: SqliteAuditLog) -> None:
    assert log.append([AuditEntry("update", "c", "main", "u2", "m2"), AuditEntry("update", "c", "main", "u2", "m3")]) \
        == [3, 4]
    assert log.count(AuditQuery()) == 4 and log.get(3).memory_id == "m2"


def test_queries_filter_and_page_newest_first(log: SqliteAuditLog) -> None:
    log.append([AuditEntry("update", "ann", "other" if i % 2 else "main", f"u{i % 3}", f"m{i}", batch="b" if i < 4
                           else None, at=T0 + dt.timedelta(days=2, hours=i)) for i in range(10)])
    assert [e.seq for e in log.page(AuditQuery(store="main", batch="b")).entries] == [5, 3]
    assert log.count(AuditQuery(actor="ann")) == 11 and log.count(AuditQuery(operation="delete")) == 1
    assert log.count(AuditQuery(user_id="u1", store="other")) == 2
    assert [e.seq for e in log.page(AuditQuery(until=T0 + dt.timedelta(days=1))).entries] == [2, 1]
    assert log.count(AuditQuery(since=T0 + dt.timedelta(days=2, hours=8))) == 2
    first = log.page(AuditQuery(), limit=5)
    second = log.page(AuditQuery(), limit=5, cursor=first.next_cursor)
    third = log.page(AuditQuery(), limit=5, cursor=second.next_cursor)
    assert [e.seq for e in first.entries + second.entries + third.entries] == list(range(12, 0, -1))
    assert third.next_cursor is None
    with pytest.raises(InvalidInputError):
        log.page(AuditQuery(), cursor="nonsense")


def test_trash_is_removals_within_retention_not_undone(log: SqliteAuditLog) -> None:
    since = T0
    assert [e.seq for e in log.trash("main", since=since).entries] == [2]
    assert log.trash("main", since=T0 + dt.timedelta(days=2)).entries == []  # past retention: no longer offered
    assert log.trash("main", since=since, user_id="someone else").entries == []
    log.append([AuditEntry("revert", "ann", "main", "u1", "m1", after={"id": "m1"}, reverts=2)])
    assert log.trash("main", since=since).entries == []
    assert log.count(AuditQuery()) == 3  # restoring removed nothing from the log


def test_an_unopenable_log_is_an_audit_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(AuditLogError, match="cannot open the audit log"):
        SqliteAuditLog(tmp_path / "dir.sqlite3")


# --- settings ---------------------------------------------------------------------------------------------


def config_file(tmp_path: Path, memdash: dict | None = None, stores: dict | None = None) -> Path:
    path = tmp_path / "memdash.yml"
    data = {"memory": stores or {"main": {"_type": "in_memory"}}} | ({"memdash": memdash} if memdash else {})
    path.write_text(yaml.safe_dump(data))
    return path


def test_settings_default_next_to_the_config(tmp_path: Path) -> None:
    settings = safety_settings(load_config(config_file(tmp_path)))
    assert settings.audit_path == (tmp_path / "memdash-audit.sqlite3").resolve() and settings.retention_days == 30
    custom = safety_settings(load_config(config_file(tmp_path, {"audit": {"path": "logs/a.db"},
                                                                "trash": {"retention_days": 7}})))
    assert custom.audit_path == (tmp_path / "logs" / "a.db").resolve() and custom.retention_days == 7


@pytest.mark.parametrize(("memdash", "field", "message"), [
    ({"trash": {"retention_days": 0}}, "memdash.trash.retention_days", "at least 1"),
    ({"trash": {"retention_days": "30"}}, "memdash.trash.retention_days", "whole number"),
    ({"audit": {"file": "x"}}, "memdash.audit.file", "unknown key 'file'"),
    ({"audit": "x.db"}, "memdash.audit", "must be a mapping"),
])
def test_bad_settings_name_the_field_and_line(tmp_path: Path, memdash: dict, field: str, message: str) -> None:
    path = config_file(tmp_path, memdash)
    with pytest.raises(ConfigError, match=message) as info:
        safety_settings(load_config(path))
    key_line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if f"{field.split('.')[-1]}:" in text)
    assert info.value.field == field and info.value.line == key_line


def test_a_bad_audit_setting_stops_the_dashboard_with_the_config_error(tmp_path: Path) -> None:
    hub = StoreHub(str(config_file(tmp_path, {"trash": {"retention_days": -1}})))
    assert hub.store_names == [] and "retention_days" in str(hub.config_error)
    hub.close()


# --- every service mutation --------------------------------------------------------------------------------


@pytest.fixture
def hub(tmp_path: Path) -> StoreHub:
    hub = StoreHub(str(config_file(tmp_path, stores={"main": {"_type": "sqlite", "path": "s.sqlite3"},
                                                              "plain": {"_type": "test_search_only"}})))
    yield hub
    hub.close()


def add(hub: StoreHub, memory: str, user: str = "alice", **fields: object) -> str:
    memory_id = memories.add_memory(hub, LOCAL_ADMIN, "main", MemoryItem(user_id=user, memory=memory, **fields))
    assert memory_id
    return memory_id


def test_add_update_delete_are_audited_losslessly(hub: StoreHub) -> None:
    memory_id = add(hub, "Likes <b>tea</b>", tags=["diet"], metadata={"n": 1.5, "nested": {"a": [1, None]}},
                    conversation=[{"role": "user", "content": "tea please"}])
    added = memories.get_memory(hub, "main", memory_id)
    updated = memories.update_memory(hub, LOCAL_ADMIN, "main", memory_id, MemoryPatch(tags=["diet", "tea"]),
                                     expected_version=1)
    memories.delete_memories(hub, LOCAL_ADMIN, "main", [memory_id])
    log = entries(hub)
    assert [(e.operation, e.actor, e.store, e.user_id, e.memory_id) for e in log] == \
        [(op, "local (auth off)", "main", "alice", memory_id) for op in ("add", "update", "delete")]
    assert log[0].before is None and log[0].after_record() == added
    assert log[1].before_record() == added and log[1].after_record() == updated
    assert log[2].before_record() == updated and log[2].after is None
    assert log[0].batch is None and log[1].batch is None and log[2].batch  # a delete is one unit for Undo
    assert log[0].at <= log[1].at <= log[2].at


def test_bulk_operations_share_one_batch_id(hub: StoreHub) -> None:
    ids = [add(hub, f"note {i}", tags=["old"]) for i in range(5)]
    memories.retag_memories(hub, LOCAL_ADMIN, "main", ids[:3], add=["new"])
    memories.retag_matching(hub, LOCAL_ADMIN, "main", MemoryFilter(tags_any=("old",)), remove=["old"])
    memories.delete_memories(hub, LOCAL_ADMIN, "main", ids[:2])
    memories.delete_matching(hub, LOCAL_ADMIN, "main", MemoryFilter(user_id="alice"), batch="mine")
    updates = entries(hub, operation="update")
    assert len(updates) == 8 and len({e.batch for e in updates[:3]}) == 1 and len({e.batch for e in updates[3:]}) == 1
    deletes = entries(hub, operation="delete")
    assert [e.memory_id for e in deletes] == ids and {e.batch for e in deletes[2:]} == {"mine"}
    assert deletes[0].batch == deletes[1].batch is not None
    assert all(e.before_record() is not None and e.after is None for e in deletes)


def test_import_is_audited_per_record_in_one_batch(hub: StoreHub) -> None:
    rows = [record_from_dict({"id": f"r{i}", "user_id": "bob", "memory": f"m {i}",
                              "created_at": "2024-01-01T00:00:00+00:00"}) for i in range(7)]
    memories.import_records(hub, LOCAL_ADMIN, "main", rows, batch_size=3)
    log = entries(hub, operation="add")
    assert [e.memory_id for e in log] == [f"r{i}" for i in range(7)] and len({e.batch for e in log}) == 1
    assert [e.after_record() for e in log] == rows


def test_stores_that_choose_ids_are_audited_without_an_id(hub: StoreHub) -> None:
    assert memories.add_memory(hub, LOCAL_ADMIN, "plain", MemoryItem(user_id="u", memory="x")) is None
    memories.delete_user_memories(hub, LOCAL_ADMIN, "plain", "u")
    added, removed = entries(hub, store="plain")
    assert added.memory_id is None and added.after["memory"] == "x" and "chose" in added.note
    assert removed.operation == "delete" and removed.before is None and "not in the trash" in removed.note


def test_deleting_a_users_memories_records_each_one(hub: StoreHub) -> None:
    ids = [add(hub, f"n {i}", user="carol") for i in range(3)]
    add(hub, "kept", user="dave")
    memories.delete_user_memories(hub, LOCAL_ADMIN, "main", "carol")
    deletes = entries(hub, operation="delete")
    assert sorted(e.memory_id for e in deletes) == sorted(ids) and len({e.batch for e in deletes}) == 1


def test_each_hub_records_only_its_own_changes(hub: StoreHub, tmp_path: Path) -> None:
    (tmp_path / "second").mkdir()
    other = StoreHub(str(config_file(tmp_path / "second")))
    try:
        memories.add_memory(other, LOCAL_ADMIN, "main", MemoryItem(user_id="u", memory="elsewhere"))
        add(hub, "here")
    finally:
        other.close()
    assert [e.after["memory"] for e in entries(hub)] == ["here"]
    log = SqliteAuditLog(tmp_path / "second" / "memdash-audit.sqlite3")
    assert [e.after["memory"] for e in log.entries(AuditQuery())] == ["elsewhere"]
    log.close()


def test_a_log_that_cannot_open_refuses_the_change_before_it_happens(tmp_path: Path) -> None:
    (tmp_path / "blocked").mkdir()
    hub = StoreHub(str(config_file(tmp_path, {"audit": {"path": "blocked"}})))
    try:
        with pytest.raises(AuditLogError):
            memories.add_memory(hub, LOCAL_ADMIN, "main", MemoryItem(user_id="u", memory="x"))
        assert memories.count_memories(hub, "main", MemoryFilter()) == 0
    finally:
        hub.close()


def test_a_failed_audit_write_fails_the_operation_visibly(hub: StoreHub,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    memory_id = add(hub, "before")

    def broken(_entries: object) -> list[int]:
        raise AuditLogError("cannot write to the audit log: disk I/O error")

    monkeypatch.setattr(hub.audit, "append", broken)
    with pytest.raises(AuditLogError, match=r"was made in store 'main' but is not in the audit log: .*disk I/O"):
        memories.update_memory(hub, LOCAL_ADMIN, "main", memory_id, MemoryPatch(memory="after"), expected_version=1)


# --- the CLI -------------------------------------------------------------------------------------------------


def test_cli_import_and_export_are_audited_as_the_os_user(tmp_path: Path) -> None:
    config = config_file(tmp_path, stores={"main": {"_type": "sqlite", "path": "s.sqlite3"}})
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"id": f"r{i}", "user_id": "u", "memory": f"m {i}"}) + "\n" for i in range(5)))
    assert cli.main(["import", "--config", str(config), str(data), "main", "--batch-size", "2"]) == 0
    assert cli.main(["export", "--config", str(config), "main", str(tmp_path / "out.jsonl"), "--user", "u"]) == 0
    log = SqliteAuditLog(tmp_path / "memdash-audit.sqlite3")
    found = list(log.entries(AuditQuery()))
    log.close()
    actor = f"cli:{getpass.getuser()}"
    assert [(e.operation, e.actor, e.memory_id) for e in found[:5]] == [("add", actor, f"r{i}") for i in range(5)]
    assert len({e.batch for e in found[:5]}) == 1 and found[0].after["memory"] == "m 0"
    assert (found[5].operation, found[5].actor, found[5].user_id) == ("export", actor, "u")
    assert found[5].note == f"5 memories exported to {tmp_path / 'out.jsonl'}"
