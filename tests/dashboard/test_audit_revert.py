"""Reverting audited changes: update, delete and add undone; conflicts reported, never overwritten; a batch as one
unit; reverts audited and themselves revertible."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from dashboard.services import memories, revert
from dashboard.services.hub import StoreHub
from memory_core.access import LOCAL_ADMIN, Actor, PermissionDenied, Role
from memory_core.audit import AuditEntry, AuditQuery
from memory_core.errors import InvalidInputError
from memory_core.interfaces import Capability
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.records import MemoryFilter, MemoryPatch
from memory_core.registry import register_memory
from memory_core.typed import MemoryBaseConfig

EDITOR = Actor("ed", Role.EDITOR)


class NoImportConfig(MemoryBaseConfig, name="test_revert_no_import"):
    """An in_memory store that cannot add records with their ids (no IMPORT)."""


class NoImportEditor(InMemoryEditor):
    @property
    def capabilities(self) -> frozenset[Capability]:
        return super().capabilities - {Capability.IMPORT}


@register_memory(NoImportConfig)
async def _no_import(config: NoImportConfig, builder: object) -> AsyncIterator[NoImportEditor]:
    yield NoImportEditor()


@pytest.fixture(params=["sqlite", "in_memory"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> StoreHub:
    main = {"_type": "sqlite", "path": "s.sqlite3"} if request.param == "sqlite" else {"_type": "in_memory"}
    config = tmp_path / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": main, "plain": {"_type": "test_revert_no_import"}}}))
    hub = StoreHub(str(config))
    yield hub
    hub.close()


def add(hub: StoreHub, memory: str, **fields: object) -> str:
    memory_id = memories.add_memory(hub, LOCAL_ADMIN, "main", MemoryItem(user_id="alice", memory=memory, **fields))
    assert memory_id
    return memory_id


def last(hub: StoreHub, **query: object) -> AuditEntry:
    return hub.audit.page(AuditQuery(**query), limit=1).entries[0]  # type: ignore[arg-type]


def update(hub: StoreHub, memory_id: str, text: str, actor: Actor = LOCAL_ADMIN) -> None:
    current = memories.get_memory(hub, "main", memory_id)
    memories.update_memory(hub, actor, "main", memory_id, MemoryPatch(memory=text), expected_version=current.version)


def test_revert_an_update_restores_the_content_as_a_new_version(hub: StoreHub) -> None:
    memory_id = add(hub, "tea", tags=["diet"], metadata={"k": 1})
    update(hub, memory_id, "coffee")
    result = revert.revert(hub, EDITOR, [last(hub, operation="update")])
    assert result.reverted == [2] and not result.conflicts
    now = memories.get_memory(hub, "main", memory_id)
    assert (now.item.memory, now.item.tags, now.item.metadata, now.version) == ("tea", ["diet"], {"k": 1}, 3)


def test_revert_a_delete_re_adds_the_record_losslessly(hub: StoreHub) -> None:
    memory_id = add(hub, "tea", conversation=[{"role": "user", "content": "hi"}])
    update(hub, memory_id, "green tea")
    before = memories.get_memory(hub, "main", memory_id)
    memories.delete_memories(hub, LOCAL_ADMIN, "main", [memory_id])
    result = revert.revert(hub, EDITOR, [last(hub, operation="delete")])
    assert result.reverted == [3] and not result.notes
    assert memories.get_memory(hub, "main", memory_id) == before  # same id, version, timestamps, conversation


def test_revert_an_add_deletes_it(hub: StoreHub) -> None:
    memory_id = add(hub, "oops")
    assert revert.revert(hub, EDITOR, [last(hub)]).reverted == [1]
    assert memories.count_memories(hub, "main", MemoryFilter()) == 0
    assert last(hub).after is None and last(hub).before["id"] == memory_id


def test_reverts_are_audited_and_can_be_reverted(hub: StoreHub) -> None:
    memory_id = add(hub, "tea")
    update(hub, memory_id, "coffee")
    revert.revert(hub, EDITOR, [hub.audit.get(2)])
    entry = last(hub)
    assert (entry.operation, entry.reverts, entry.actor, entry.memory_id) == ("revert", 2, "ed", memory_id)
    assert entry.before["memory"] == "coffee" and entry.after["memory"] == "tea" and entry.batch is None
    assert hub.audit.reverted_by([2]) == {2: entry.seq}
    again = revert.revert(hub, EDITOR, [hub.audit.get(2)])  # the same change cannot be reverted twice
    assert again.reverted == [] and again.conflicts[0].problem == f"already reverted by audit entry {entry.seq}"
    assert revert.revert(hub, EDITOR, [entry]).reverted == [entry.seq]  # revert the revert: redo
    assert memories.get_memory(hub, "main", memory_id).item.memory == "coffee"


def test_a_later_change_is_a_conflict_shown_and_not_overwritten(hub: StoreHub) -> None:
    memory_id = add(hub, "tea")
    update(hub, memory_id, "coffee")
    first = last(hub)
    update(hub, memory_id, "cocoa")
    result = revert.revert(hub, EDITOR, [first])
    assert result.reverted == [] and len(result.conflicts) == 1
    step = result.conflicts[0]
    assert step.problem == "changed since: now version 3, the entry left version 2"
    assert step.current is not None and step.current.item.memory == "cocoa"
    assert memories.get_memory(hub, "main", memory_id).item.memory == "cocoa"
    assert last(hub).operation == "update"  # nothing was audited either


@pytest.mark.parametrize(("later", "problem"), [("delete", "deleted since"), ("readd", "exists again")])
def test_deleted_since_or_re_created_is_a_conflict(hub: StoreHub, later: str, problem: str) -> None:
    memory_id = add(hub, "tea")
    update(hub, memory_id, "coffee")
    memories.delete_memories(hub, LOCAL_ADMIN, "main", [memory_id])
    target = hub.audit.get(2 if later == "delete" else 3)
    if later == "readd":  # the same id imported again from a backup
        memories.import_records(hub, LOCAL_ADMIN, "main", [target.before_record()])
    result = revert.revert(hub, EDITOR, [target])
    assert result.reverted == [] and problem in (result.conflicts[0].problem or "")


def test_a_batch_is_reverted_as_one_unit(hub: StoreHub) -> None:
    ids = [add(hub, f"note {i}") for i in range(4)]
    memories.retag_memories(hub, LOCAL_ADMIN, "main", ids, add=["x"], batch="bulk")
    update(hub, ids[2], "edited later")
    batch = revert.batch_entries(hub, "bulk")
    refused = revert.revert(hub, EDITOR, batch)
    assert refused.reverted == [] and [s.entry.memory_id for s in refused.conflicts] == [ids[2]]
    assert all("x" in memories.get_memory(hub, "main", i).item.tags for i in ids)  # none reverted
    rest = revert.revert(hub, EDITOR, batch, skip_conflicts=True)
    assert sorted(rest.reverted) == [e.seq for e in batch if e.memory_id != ids[2]] and len(rest.conflicts) == 1
    assert [memories.get_memory(hub, "main", i).item.tags for i in ids] == [[], [], ["x"], []]
    reverts = list(hub.audit.entries(AuditQuery(operation="revert")))
    assert len(reverts) == 3 and len({e.batch for e in reverts}) == 1 and reverts[0].batch is not None


def test_a_bulk_delete_is_restored_in_one_write(hub: StoreHub) -> None:
    ids = [add(hub, f"note {i}") for i in range(5)]
    memories.delete_matching(hub, LOCAL_ADMIN, "main", MemoryFilter(), batch="wipe")
    result = revert.revert(hub, EDITOR, revert.batch_entries(hub, "wipe"))
    assert len(result.reverted) == 5
    assert sorted(r.id for r in memories.export_records(hub, "main", MemoryFilter())) == sorted(ids)


def test_restoring_into_a_store_without_import_says_ids_change(hub: StoreHub) -> None:
    memories.import_records(hub, LOCAL_ADMIN, "plain", [])
    memories.add_memory(hub, LOCAL_ADMIN, "plain", MemoryItem(user_id="u", memory="keep me"))
    record = next(memories.export_records(hub, "plain", MemoryFilter()))
    memories.delete_memories(hub, LOCAL_ADMIN, "plain", [record.id])
    result = revert.revert(hub, EDITOR, [last(hub, store="plain", operation="delete")])
    assert result.reverted and "new ids" in result.notes[0]
    [restored] = list(memories.export_records(hub, "plain", MemoryFilter()))
    assert restored.item.memory == "keep me" and restored.id != record.id
    assert last(hub, store="plain").memory_id is None and last(hub, store="plain").reverts is not None


def test_entries_without_a_memory_state_are_not_revertible(hub: StoreHub) -> None:
    memories.add_memory(hub, LOCAL_ADMIN, "plain", MemoryItem(user_id="u", memory="x"))
    result = revert.revert(hub, EDITOR, [last(hub, store="plain")])
    assert result.reverted == [] and "not revertible" in (result.conflicts[0].problem or "")


def test_roles_and_one_store_at_a_time(hub: StoreHub) -> None:
    ids = [add(hub, f"n {i}") for i in range(2)]
    with pytest.raises(PermissionDenied):
        revert.revert(hub, Actor("viv", Role.VIEWER), [hub.audit.get(1)])
    adds = list(hub.audit.entries(AuditQuery(operation="add")))
    with pytest.raises(PermissionDenied, match="needs admin"):  # undoing two adds is a bulk delete
        revert.revert(hub, EDITOR, adds)
    assert memories.count_memories(hub, "main", MemoryFilter()) == len(ids)
    memories.add_memory(hub, LOCAL_ADMIN, "plain", MemoryItem(user_id="u", memory="x"))
    with pytest.raises(InvalidInputError, match="one store at a time"):
        revert.revert(hub, LOCAL_ADMIN, list(hub.audit.entries(AuditQuery())))
