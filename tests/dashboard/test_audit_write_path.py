"""One audited write path: nothing but ``memory_core.audit.writer`` calls a store's mutating methods (checked in
the source), the stores the dashboard and the CLI hold refuse any other caller (checked at run time), and every
change made through it leaves exactly one audit entry per changed memory with that memory's state before and
after (checked against the store's own contents, operation by operation, on in_memory and sqlite)."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard.services import memories, revert
from memory_core.access import LOCAL_ADMIN
from memory_core.audit import AuditQuery
from memory_core.audit.guard import MUTATING, UnauditedWriteError
from memory_core.audit.imports import ImportCollisionError, OnExisting
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord
from memory_core.transfer import record_to_dict

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
# Modules that may call a store's mutating methods: the stores themselves, the audited writer, and the code an
# *agent* runs against its own stores (the toolkit's tools, reader/writer/manager, the toolkit bridge), never
# the dashboard's or the CLI's stores, which are guarded. The conformance suite tests stores directly.
ALLOWED = ("memory_core/providers/", "memory_core/nat/", "memory_core/tools.py", "memory_core/io.py",
           "memory_core/manager.py", "memory_core/testing.py", "memory_core/audit/writer.py", "bench/")


def mutating_calls(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, name)`` of every call of a mutating method in a file (``x.add_items(...)``,
    ``getattr(x, "add_items")``)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in MUTATING:
            yield node.lineno, node.func.attr
        elif isinstance(node.func, ast.Name) and node.func.id == "getattr" and len(node.args) > 1 \
                and isinstance(node.args[1], ast.Constant) and node.args[1].value in MUTATING:
            yield node.lineno, node.args[1].value


def test_only_the_audited_writer_calls_a_stores_mutating_methods() -> None:
    sources = [p for folder in ("memory_core", "dashboard", "bench") for p in (ROOT / folder).rglob("*.py")]
    offenders = [f"{p.relative_to(ROOT)}:{line}: {name}()" for p in sources
                 if not str(p.relative_to(ROOT)).startswith(ALLOWED) for line, name in mutating_calls(p)]
    assert len(sources) > 100 and offenders == [], "\n".join(offenders)


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("async def f(store):\n    await store.update_record('x', p, expected_version=1)\n"
                      "    await getattr(store, 'delete_records')(['x'])\n    store.search('q')\n")
    assert list(mutating_calls(sample)) == [(2, "update_record"), (3, "delete_records")]


# --- the guard ------------------------------------------------------------------------------------------------

STORES = {"in_memory": {"_type": "in_memory"}, "sqlite": {"_type": "sqlite", "path": "s.sqlite3"}}


@pytest.fixture(params=sorted(STORES))
def dash(request, make_dash):
    return make_dash({"main": STORES[request.param]})


@pytest.mark.parametrize("call", [
    lambda e: e.add_items([MemoryItem(user_id="u", memory="m")]),
    lambda e: e.remove_items(user_id="u"),
    lambda e: e.add_records([MemoryRecord(id="x", created_at=T0, updated_at=T0, item=MemoryItem(user_id="u"))]),
    lambda e: e.update_record("x", MemoryPatch(memory="m"), expected_version=1),
    lambda e: e.delete_records(["x"]),
])
def test_the_hubs_stores_refuse_writes_that_bypass_the_writer(dash, call) -> None:
    dash.add(id="x", memory="kept")
    with pytest.raises(UnauditedWriteError, match="outside memdash's audited write path"):
        dash.hub.runner.run(call(dash.hub.editor("main")))
    assert [(r.id, r.item.memory, r.version) for r in dash.records()] == [("x", "kept", 1)]
    assert dash.hub.editor("main").search is not None  # reads are untouched


# --- every change, exactly one entry with the right before and after -----------------------------------------


class Ledger:
    """The store's contents and the audit log's length, to compare what changed with what was recorded."""

    def __init__(self, dash: Any) -> None:
        self.dash = dash
        self.state, self.seen = self._contents(), self._count()

    def _contents(self) -> dict[str, dict[str, Any]]:
        return {r.id: _comparable(record_to_dict(r)) for r in self.dash.records()}

    def _count(self) -> int:
        return self.dash.hub.audit.count(AuditQuery())

    def check(self, operation: str) -> list[Any]:
        """Assert that the entries since the last check are exactly the changes to the store since then."""
        now = self._contents()
        changed = {i for i in self.state.keys() | now.keys() if self.state.get(i) != now.get(i)}
        entries = [e for e in self.dash.hub.audit.entries(AuditQuery()) if (e.seq or 0) > self.seen]
        recorded = [e for e in entries if e.before is not None or e.after is not None]
        assert sorted(e.memory_id for e in recorded) == sorted(changed), operation  # one entry per change
        for entry in recorded:
            assert _comparable(entry.before) == self.state.get(entry.memory_id), (operation, "before")
            assert _comparable(entry.after) == now.get(entry.memory_id), (operation, "after")
            assert entry.actor == LOCAL_ADMIN.name and entry.store == "main"
        self.state, self.seen = now, self._count()
        return recorded


def _comparable(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """A record dict with its timestamps at the precision every store keeps (microseconds, UTC)."""
    if state is None:
        return None
    return {k: dt.datetime.fromisoformat(v).isoformat(timespec="microseconds") if k.endswith("_at") else v
            for k, v in state.items()}


def record(memory_id: str, text: str, user: str = "alice", minutes: int = 0, **fields: Any) -> MemoryRecord:
    when = T0 + dt.timedelta(minutes=minutes)
    return MemoryRecord(id=memory_id, created_at=when, updated_at=when, item=MemoryItem(user_id=user, memory=text,
                                                                                       **fields))


def test_every_operation_records_exactly_the_memories_it_changed(dash) -> None:
    hub, ledger = dash.hub, Ledger(dash)
    new_id = memories.add_memory(hub, LOCAL_ADMIN, "main", MemoryItem(user_id="alice", memory="tea"))
    ledger.check("add")
    memories.import_records(hub, LOCAL_ADMIN, "main", [record(f"r{i}", f"note {i}", minutes=i) for i in range(5)],
                            batch_size=2)
    ledger.check("import")
    memories.update_memory(hub, LOCAL_ADMIN, "main", new_id, MemoryPatch(memory="green tea"), expected_version=1)
    ledger.check("update")
    memories.retag_memories(hub, LOCAL_ADMIN, "main", ["r0", "r1", "nope"], add=["vip"])
    ledger.check("retag")
    memories.retag_matching(hub, LOCAL_ADMIN, "main", MemoryFilter(tags_any=("vip",)), add=["vip"])  # no-op
    assert ledger.check("retag that changes nothing") == []
    memories.delete_memories(hub, LOCAL_ADMIN, "main", ["r2", "r3", "gone"])
    deleted = ledger.check("bulk delete")
    revert.revert(hub, LOCAL_ADMIN, deleted)
    ledger.check("undo the delete")
    file = [record("r0", "note 0 from the file", minutes=0), record("r9", "new from the file")]
    for choice in OnExisting:
        memories.import_records(hub, LOCAL_ADMIN, "main", file, on_existing=choice)
        ledger.check(f"import with {choice}")
    memories.delete_matching(hub, LOCAL_ADMIN, "main", MemoryFilter(user_id="alice"))
    ledger.check("delete everything matching")
    assert dash.records() == []


def test_an_import_meeting_existing_ids_writes_nothing_without_a_decision(dash) -> None:
    dash.add(id="r1", memory="stored text")
    file = [record("r0", "fresh"), record("r1", "other text"), record("r2", "fresh too")]
    with pytest.raises(ImportCollisionError, match=r"1 of the file's ids already exist in the store \(r1\)") as error:
        memories.import_records(dash.hub, LOCAL_ADMIN, "main", file, batch_size=1)
    assert error.value.ids == ["r1"] and [r.id for r in dash.records()] == ["r1"]
    assert dash.hub.audit.count(AuditQuery(operation="add")) == 1  # only the setup's add


def test_each_choice_for_existing_ids(dash) -> None:
    dash.add(id="r1", memory="stored text", tags=["kept"])
    file = [record("r1", "text from the file", tags=["file"])]
    result = memories.import_records(dash.hub, LOCAL_ADMIN, "main", file, on_existing=OnExisting.SKIP)
    assert (result.added, result.skipped) == (0, 1) and dash.get("r1").item.memory == "stored text"
    result = memories.import_records(dash.hub, LOCAL_ADMIN, "main", file, on_existing=OnExisting.NEW_IDS)
    [renamed] = result.renamed
    assert result.renamed == {renamed: "r1"} and dash.get(renamed).item.memory == "text from the file"
    assert dash.get("r1").item.memory == "stored text"
    result = memories.import_records(dash.hub, LOCAL_ADMIN, "main", file, on_existing=OnExisting.OVERWRITE)
    assert result.overwritten == 1 and dash.get("r1").item.memory == "text from the file"
    [overwrite] = dash.hub.audit.entries(AuditQuery(memory_id="r1", operation="update"))
    assert overwrite.before["memory"] == "stored text" and overwrite.note == "overwritten by an import"
    revert.revert(dash.hub, LOCAL_ADMIN, [overwrite])  # the old text is never lost
    assert dash.get("r1").item.memory == "stored text" and dash.get("r1").item.tags == ["kept"]


def test_an_identical_row_needs_no_decision_and_is_left_alone(dash) -> None:
    dash.add(id="r1", memory="same")
    file = [dash.get("r1"), record("r2", "new")]
    result = memories.import_records(dash.hub, LOCAL_ADMIN, "main", file)
    assert (result.added, result.unchanged) == (1, 1) and dash.get("r1").version == 1


def test_overwrite_cannot_move_a_memory_to_another_user(dash) -> None:
    dash.add(id="r1", user="alice", memory="alice's")
    with pytest.raises(ImportCollisionError, match="belong to another user"):
        memories.import_records(dash.hub, LOCAL_ADMIN, "main", [record("r1", "bob's", user="bob")],
                                on_existing=OnExisting.OVERWRITE)
    assert dash.get("r1").user_id == "alice"
