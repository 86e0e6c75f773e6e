"""``memdash forget-user``: the counts, the typed confirmation, the receipt without the id; a user with nothing
anywhere; an erasure interrupted midway, or racing an agent that writes the user's memories, resumes and
completes; a store file from before ``secure_delete`` keeps no old text; and the time to erase many memories."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import yaml

from memdash import cli
from memory_core.audit import AuditQuery, safety_settings
from memory_core.audit import erasure as erasure_module
from memory_core.audit.writer import AuditedWriter
from memory_core.config import load_config
from memory_core.errors import StoreUnavailableError
from memory_core.models import MemoryItem
from memory_core.providers.sqlite import SqliteMemory
from memory_core.records import MemoryFilter, MemoryRecord, utcnow
from memory_core.transfer import dump_jsonl_line

SECRET = "zqxcli4711secret7"


def make_config(tmp_path: Path) -> Path:
    config = tmp_path / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "sqlite", "path": "main.sqlite3"}}}))
    return config


def run(config: Path, *args: str) -> int:
    return cli.main([args[0], "--config", str(config), *args[1:]])


def seed(config: Path, tmp_path: Path, rows: list[dict]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(dump_jsonl_line(record(**row)) for row in rows))
    assert run(config, "import", str(source), "main") == 0


def record(id: str, user_id: str, memory: str) -> MemoryRecord:
    now = utcnow()
    return MemoryRecord(id=id, created_at=now, updated_at=now, item=MemoryItem(user_id=user_id, memory=memory))


@pytest.fixture
def world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Alice (3 memories with the secret) and bob (1) in store ``main``; a snapshot with 2 of alice's lines."""
    config = make_config(tmp_path)
    seed(config, tmp_path, [{"id": f"a{i}", "user_id": "alice", "memory": f"Alice {SECRET} fact {i}"}
                            for i in range(3)] + [{"id": "b0", "user_id": "bob", "memory": "Bob fact"}])
    folder = tmp_path / "snapshots" / "main"
    folder.mkdir(parents=True)
    (folder / "s1.jsonl").write_text("".join(dump_jsonl_line(r) for r in (
        record("a0", "alice", f"Alice {SECRET} fact 0"), record("b0", "bob", "Bob fact"),
        record("a1", "alice", f"Alice {SECRET} fact 1"))))
    (tmp_path / "in.jsonl").unlink()
    capsys.readouterr()
    return config


def holding(folder: Path, text: str) -> list[str]:
    """The files under ``folder`` holding ``text``, a database and its WAL named as one."""
    return sorted({p.name.removesuffix("-wal") for p in folder.rglob("*")
                   if p.is_file() and text.encode() in p.read_bytes()})


def log_of(config: Path):
    return safety_settings(load_config(config)).open_audit_log()


def users(config: Path) -> dict[str, list[str]]:
    async def read() -> dict[str, list[str]]:
        store = await SqliteMemory.open(config.parent / "main.sqlite3")
        try:
            page = await store.list_records(MemoryFilter(), limit=100)
        finally:
            await store.aclose()
        found: dict[str, list[str]] = {}
        for r in page.records:
            found.setdefault(r.user_id, []).append(r.id)
        return found
    return asyncio.run(read())


def test_forget_user_erases_everywhere_and_prints_a_receipt_without_the_id(world: Path, capsys) -> None:
    assert holding(world.parent, SECRET) == ["main.sqlite3", "memdash-audit.sqlite3", "s1.jsonl"]
    assert run(world, "forget-user", "main", "alice", "--yes") == 0
    out = capsys.readouterr().out
    plan, receipt = out.split("erased user key")
    assert plan.splitlines() == ["Erasing user 'alice' from store 'main' removes:", "  3 memories in the store",
                                 "  3 audit entries with content (the entries stay, as who, when and what kind)",
                                 "  2 lines in 1 snapshot file"]
    assert "alice" not in receipt and "(receipt: audit entry 8)" in receipt
    assert "deleted text scrubbed from the store's files" in receipt
    assert holding(world.parent, SECRET) == []
    assert users(world) == {"bob": ["b0"]}
    lines = (world.parent / "snapshots" / "main" / "s1.jsonl").read_text().splitlines()
    assert [line.count('"user_id": "bob"') for line in lines] == [1]
    log = log_of(world)
    try:
        receipt_entry = log.get(8)
        assert (receipt_entry.operation, receipt_entry.user_id) == ("erase", "")
        assert receipt_entry.note == (f"erased user key {log.user_key('main', 'alice')}: memories 3, audit entries 3, "
                                      "trash 0, labels 0, review approvals 0, read records 0, exports 0, "
                                      "snapshot files 1, snapshot lines 2")
        assert [e.after["memory"] for e in log.entries(AuditQuery(user_id="bob"))] == ["Bob fact"]
    finally:
        log.close()


def test_without_yes_the_user_id_must_be_typed_again(world: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Alice\n"))
    assert run(world, "forget-user", "main", "alice") == 1
    assert "memdash: not erased: the typed id is not 'alice'" in capsys.readouterr().err
    assert len(users(world)["alice"]) == 3 and holding(world.parent, SECRET)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal, nothing typed
    assert run(world, "forget-user", "main", "alice") == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("alice\n"))
    assert run(world, "forget-user", "main", "alice") == 0
    assert "Type the user id to erase all of this: erased user key" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (("main", "nobody"), "memdash: error: user 'nobody' has nothing to erase in store 'main': no memories, "
                         "audit entries or snapshot lines"),
    (("nope", "alice"), "memdash: error: no memory store named 'nope'; configured: main"),
    (("main", ""), "memdash: error: a user id is needed"),
])
def test_mistakes_are_one_line_errors_and_change_nothing(world: Path, capsys, args, message) -> None:
    before = holding(world.parent, SECRET)
    assert run(world, "forget-user", *args, "--yes") == 1
    assert capsys.readouterr().err.strip() == message
    assert holding(world.parent, SECRET) == before and len(users(world)["alice"]) == 3


def test_a_second_erasure_says_when_the_first_was(world: Path, capsys) -> None:
    assert run(world, "forget-user", "main", "alice", "--yes") == 0
    capsys.readouterr()
    assert run(world, "forget-user", "main", "alice", "--yes") == 1
    err = capsys.readouterr().err
    assert err.startswith("memdash: error: user 'alice' has nothing to erase in store 'main'; it was erased ")
    assert err.strip().endswith("UTC (receipt: audit entry 8)")


# --- interrupted, and raced ----------------------------------------------------------------------------------


def test_an_interrupted_erasure_resumes_and_completes(world: Path, capsys, monkeypatch) -> None:
    real = erasure_module._drop_lines

    def full_disk(path: Path, user_id: str) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(erasure_module, "_drop_lines", full_disk)
    assert run(world, "forget-user", "main", "alice", "--yes") == 1
    assert capsys.readouterr().err.strip() == (
        "memdash: error: the erasure of user 'alice' from store 'main' stopped before the end ([Errno 28] No space "
        "left on device); erase again: it resumes where it stopped")
    # the memories and the log's content went (the store's file is scrubbed at the end); the snapshot still holds
    # the lines; the erasure is recorded as running
    assert holding(world.parent, SECRET) == ["main.sqlite3", "s1.jsonl"] and "alice" not in users(world)
    log = log_of(world)
    try:
        [running] = log.erasures("main", "alice")
        assert running.finished is None and running.counts["memories"] == 3
    finally:
        log.close()
    monkeypatch.setattr(erasure_module, "_drop_lines", real)
    capsys.readouterr()
    assert run(world, "forget-user", "main", "alice", "--yes") == 0
    out = capsys.readouterr().out
    assert "resumes the erasure started" in out and "by cli:" in out
    assert "3 memories in the store" in out.split("erased user key")[1]  # counted by the first run
    assert holding(world.parent, SECRET) == []
    log = log_of(world)
    try:
        [done] = log.erasures("main", "alice")
        assert done.id == running.id and done.finished is not None
        assert done.counts == {"memories": 3, "add": 3, "snapshot files": 1, "snapshot lines": 2}
    finally:
        log.close()


def test_a_store_that_fails_at_the_end_is_finished_by_the_next_run(world: Path, capsys, monkeypatch) -> None:
    async def gone(self) -> bool:
        raise StoreUnavailableError("sqlite store main.sqlite3: disk I/O error")

    monkeypatch.setattr(AuditedWriter, "scrub", gone)
    assert run(world, "forget-user", "main", "alice", "--yes") == 1
    assert "disk I/O error" in capsys.readouterr().err
    monkeypatch.undo()
    assert run(world, "forget-user", "main", "alice", "--yes") == 0
    assert holding(world.parent, SECRET) == []


def agent_writes(config: Path, memory: str) -> None:
    """What an agent in another process does: its own connection to the file, no audit entry."""
    async def write() -> None:
        store = await SqliteMemory.open(config.parent / "main.sqlite3")
        try:
            await store.add_items([MemoryItem(user_id="alice", memory=memory)])
        finally:
            await store.aclose()
    thread = threading.Thread(target=lambda: asyncio.run(write()))  # the erasure's own loop is running here
    thread.start()
    thread.join()


def test_memories_written_while_the_user_is_erased_are_erased_too(world: Path, capsys, monkeypatch) -> None:
    real, calls = AuditedWriter.erase, []

    async def erase_while_an_agent_writes(self, user_id: str, *, batch: str) -> int:
        deleted = await real(self, user_id, batch=batch)
        calls.append(deleted)
        if len(calls) == 1:
            agent_writes(world, f"Alice {SECRET} written during the erasure")
        return deleted

    monkeypatch.setattr(AuditedWriter, "erase", erase_while_an_agent_writes)
    assert run(world, "forget-user", "main", "alice", "--yes") == 0
    assert calls == [3, 1] and "4 memories in the store" in capsys.readouterr().out.split("erased user key")[1]
    assert holding(world.parent, SECRET) == [] and "alice" not in users(world)


def test_an_agent_that_never_stops_writing_stops_the_erasure_with_a_message(world: Path, capsys, monkeypatch) -> None:
    real = AuditedWriter.erase

    async def erase_while_an_agent_writes(self, user_id: str, *, batch: str) -> int:
        deleted = await real(self, user_id, batch=batch)
        agent_writes(world, f"Alice {SECRET} again")
        return deleted

    monkeypatch.setattr(AuditedWriter, "erase", erase_while_an_agent_writes)
    assert run(world, "forget-user", "main", "alice", "--yes") == 1
    err = capsys.readouterr().err
    assert err.strip() == ("memdash: error: user 'alice' of store 'main' was written again while being erased (1 "
                           "memories, audit entries or snapshot lines appeared after 3 passes): stop what writes "
                           "them (an agent?) and erase again: the erasure resumes where it stopped")
    monkeypatch.undo()
    assert run(world, "forget-user", "main", "alice", "--yes") == 0
    assert "resumes the erasure started" in capsys.readouterr().out
    assert holding(world.parent, SECRET) == [] and "alice" not in users(world)


# --- the store's file ---------------------------------------------------------------------------------------


def test_a_file_written_without_secure_delete_keeps_no_old_text_after_an_erasure(tmp_path: Path, capsys) -> None:
    """A file from before memdash turned secure_delete on (or a program that turned it off): text deleted then
    lingers in free space inside pages; the erasure's VACUUM rewrites every page from the live rows."""
    config = make_config(tmp_path)
    seed(config, tmp_path, [{"id": "a0", "user_id": "alice", "memory": f"Alice {SECRET}"},
                            {"id": "b0", "user_id": "bob", "memory": "Bob fact " * 20}])
    (tmp_path / "in.jsonl").unlink()
    conn = sqlite3.connect(tmp_path / "main.sqlite3", isolation_level=None)
    conn.execute("PRAGMA secure_delete = OFF")
    conn.execute("DELETE FROM memories WHERE id = 'a0'")  # as an older memdash (or an agent) deleted it
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert holding(tmp_path, SECRET) == ["main.sqlite3", "memdash-audit.sqlite3"]
    assert run(config, "forget-user", "main", "alice", "--yes") == 0
    assert holding(tmp_path, SECRET) == []


def test_time_to_erase_a_user_of_many_memories(tmp_path: Path, capsys) -> None:
    config = make_config(tmp_path)
    n = 2000
    seed(config, tmp_path, [{"id": f"a{i:05d}", "user_id": "alice", "memory": f"Alice fact {i} {SECRET}"}
                            for i in range(n)] + [{"id": f"b{i:05d}", "user_id": "bob", "memory": f"Bob fact {i}"}
                                                  for i in range(n)])
    (tmp_path / "in.jsonl").unlink()
    capsys.readouterr()
    started = time.perf_counter()
    assert run(config, "forget-user", "main", "alice", "--yes") == 0
    seconds = time.perf_counter() - started
    assert f"{n:,} memories in the store" in capsys.readouterr().out
    assert holding(tmp_path, SECRET) == [] and len(users(config)) == 1
    with capsys.disabled():
        print(f"\nerased a user of {n:,} memories (and {n:,} audit entries) beside {n:,} of another user, sqlite: "
              f"{seconds:.2f} s")

