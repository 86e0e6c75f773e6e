"""Roles are enforced by the services, not by the pages: every public function of a ``dashboard`` module that
takes an ``actor`` is found by introspection and called directly as a viewer; each mutation must raise
``PermissionDenied`` and change nothing (store and audit log). A new function with an ``actor`` parameter this
test cannot call fails it until it is given a value below, or is listed in ``NOT_MUTATIONS`` with the reason (so
coverage stays 100%)."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

import pytest

import dashboard
import dashboard.services
from dashboard.services import catalog, memories
from dashboard.services.history import Version
from dashboard.services.memories import SearchHit
from dashboard.services.playground import Contradiction, Turn
from memory_core.access import LOCAL_ADMIN, Actor, PermissionDenied, Role
from memory_core.audit import AuditEntry, AuditQuery
from memory_core.audit.imports import ImportResult
from memory_core.audit.writer import AuditedWriter
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord
from memory_core.review import Finding, Kind
from memory_core.transfer import record_to_dict

VIEWER = Actor("viv", Role.VIEWER)
EDITOR = Actor("ed", Role.EDITOR)
# functions that take an actor but change no memory: a download, which a viewer may take (audited as an export)
NOT_MUTATIONS = {"dashboard.services.memories.export_file", "dashboard.services.memories.export_stream"}
WRITER_NOT_MUTATIONS = {"note_export"}  # records that someone took a copy: a viewer may export
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def actor_functions() -> dict[str, Callable[..., Any]]:
    """Every public function of the dashboard's services (and its top-level modules but the app script) with an
    ``actor`` parameter."""
    found = {}
    infos = [*pkgutil.iter_modules(dashboard.__path__, "dashboard."),
             *pkgutil.iter_modules(dashboard.services.__path__, "dashboard.services.")]
    for info in infos:
        if info.name in ("dashboard.app", "dashboard.server") or info.ispkg:
            continue
        module = importlib.import_module(info.name)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_") \
                    and "actor" in inspect.signature(fn).parameters:
                found[f"{module.__name__}.{name}"] = fn
    return found


@pytest.fixture
def world(dash):
    """Store ``main`` with two memories, and an audit entry (an admin's edit) that a revert could undo."""
    for n in (1, 2):
        record = MemoryRecord(id=f"r{n}", created_at=T0, updated_at=T0,
                              item=MemoryItem(user_id="alice", memory=f"memory {n}", tags=["t"]))
        memories.import_records(dash.hub, LOCAL_ADMIN, "main", [record])
    memories.update_memory(dash.hub, LOCAL_ADMIN, "main", "r1", MemoryPatch(memory="edited"), expected_version=1)
    return dash


def arguments(world, fn: Callable[..., Any], actor: Actor) -> dict[str, Any]:
    """A value for each required parameter, by name."""
    hub = world.hub
    record = memories.get_memory(hub, "main", "r2")
    values = {
        "hub": hub, "actor": actor, "store": "main", "item": MemoryItem(user_id="alice", memory="new"),
        "memory_id": "r2", "patch": MemoryPatch(memory="changed"), "expected_version": record.version,
        "ids": ["r2"], "user_id": "alice", "flt": MemoryFilter(), "add": ["x"], "remove": ["t"],
        "records": [MemoryRecord(id="r9", created_at=T0, updated_at=T0, item=MemoryItem(user_id="bob", memory="n"))],
        "entries": list(hub.audit.entries(AuditQuery(memory_id="r1", operation="update"))),
        "path": str(world.config), "role": Role.EDITOR, "action": "change memories",
        "operation": "update", "before": record, "after": record, "match": "memory",
        "message": "I like tea.", "name": "snap", "label": "Jane", "typed": "alice",
        "finding": Finding(Kind.PERSONAL_DATA, "r2", record.version, "alice", "e-mail address", match="memory"),
        "found": Contradiction("Alice now drinks coffee.", SearchHit(item=record.item, score=0.5, id="r2"), "choice"),
        "turn": Turn(user_id="alice", message="I now drink coffee."),
        "record": record, "paused": True, "when": dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
        "version": Version(entry=AuditEntry("update", "x", "main", "alice", "r2"), previous=None,
                           state={**record_to_dict(record), "memory": "an older text"}),
    }
    params = inspect.signature(fn).parameters.values()
    required = [p.name for p in params if p.default is inspect.Parameter.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    missing = [name for name in required if name not in values]
    assert not missing, f"{fn.__module__}.{fn.__name__}: give this test a value for {missing}"
    return {name: values[name] for name in required}


def snapshot(world) -> tuple[list[dict[str, Any]], int]:
    records = [r.model_dump(mode="json") for r in world.records()]
    return records, world.hub.audit.count(AuditQuery())


def test_every_mutating_service_refuses_a_viewer_and_changes_nothing(world, capsys):
    functions = actor_functions()
    mutations = {name: fn for name, fn in functions.items() if name not in NOT_MUTATIONS}
    services = "dashboard.services"
    assert {f"{services}.memories.add_memory", f"{services}.memories.update_memory",
            f"{services}.memories.delete_memories", f"{services}.memories.import_records",
            f"{services}.catalog.choose_config", f"{services}.revert.revert"} <= set(mutations)
    before = snapshot(world)
    refused = []
    for name, fn in sorted(mutations.items()):
        with pytest.raises(PermissionDenied):
            fn(**arguments(world, fn, VIEWER))
        assert snapshot(world) == before, f"{name} changed something before refusing"
        refused.append(name)
    with capsys.disabled():
        print(f"\nmutating functions refused to a viewer: {len(refused)}/{len(mutations)} "
              f"({100 * len(refused) // len(mutations)}%): {', '.join(n.split('.', 1)[1] for n in refused)}")
    assert len(refused) == len(mutations)


def _call_writer(world, name: str, actor: Actor) -> None:
    writer = world.hub.writer(actor, "main")
    record = memories.get_memory(world.hub, "main", "r2")
    values = {"items": [MemoryItem(user_id="alice", memory="new")], "memory_id": "r2",
              "patch": MemoryPatch(memory="changed"), "expected_version": record.version, "ids": ["r2"],
              "user_id": "alice", "records": [record.model_copy(update={"id": "r9"})], "reverts": [1],
              "on_existing": None, "batch": "b", "result": ImportResult(lossless=True), "record": record,
              "label": "Jane"}
    fn = getattr(writer, name)
    params = inspect.signature(fn).parameters.values()
    required = [p.name for p in params if p.default is inspect.Parameter.empty]
    outcome = fn(**{key: values[key] for key in required})
    if inspect.isawaitable(outcome):
        world.hub.runner.run(outcome)


def test_every_method_of_the_audited_writer_refuses_a_viewer_and_changes_nothing(world):
    """The write path itself checks the role, whoever calls it (a page, the CLI, a revert, a plugin)."""
    methods = [name for name, _ in inspect.getmembers(AuditedWriter, inspect.isfunction)
               if not name.startswith("_") and name not in WRITER_NOT_MUTATIONS]
    assert {"add", "update", "delete", "retag", "delete_user", "put_back", "import_records", "check_import",
            "import_batch", "note_review", "note_label", "add_vectors", "erase", "scrub"} == set(methods)
    before = snapshot(world)
    for name in methods:
        with pytest.raises(PermissionDenied):
            _call_writer(world, name, VIEWER)
        assert snapshot(world) == before, f"AuditedWriter.{name} changed something before refusing"


def test_an_editor_edits_but_may_not_bulk_delete_or_open_configs(world):
    hub = world.hub
    memories.update_memory(hub, EDITOR, "main", "r2", MemoryPatch(memory="by ed"), expected_version=1)
    assert memories.delete_memories(hub, EDITOR, "main", ["r2"]) == 1
    with pytest.raises(PermissionDenied, match="may not bulk-delete"):
        memories.delete_memories(hub, EDITOR, "main", ["r1", "r9"])
    with pytest.raises(PermissionDenied, match="may not bulk-delete"):
        memories.delete_matching(hub, EDITOR, "main", MemoryFilter())
    with pytest.raises(PermissionDenied, match="may not open another config"):
        catalog.choose_config(EDITOR, str(world.config))
    assert [r.id for r in world.records()] == ["r1"]


def test_per_store_roles(make_dash):
    world = make_dash({"main": {"_type": "in_memory"}, "other": {"_type": "in_memory"}})
    bob = Actor("bob", Role.VIEWER, store_roles=(("main", Role.EDITOR),))
    item = MemoryItem(user_id="u", memory="m")
    assert memories.add_memory(world.hub, bob, "main", item)
    with pytest.raises(PermissionDenied, match="bob is a viewer on store 'other' and may not add memories"):
        memories.add_memory(world.hub, bob, "other", item)
    with pytest.raises(PermissionDenied):  # a per-store admin is no admin of the dashboard
        catalog.choose_config(Actor("sam", Role.VIEWER, store_roles=(("main", Role.ADMIN),)), "x.yml")


def test_an_admin_may_do_everything(world):
    hub = world.hub
    assert memories.delete_memories(hub, LOCAL_ADMIN, "main", ["r1", "r2"]) == 2
    assert catalog.choose_config(LOCAL_ADMIN, str(world.config)) == str(world.config.resolve())
