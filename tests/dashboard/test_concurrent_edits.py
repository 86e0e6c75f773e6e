"""Optimistic concurrency on a file-backed sqlite store: concurrent edits of one memory never overwrite each other
silently. Two operators in two dashboard sessions; then rounds of simultaneous edits from threads through two hubs
(each with its own connections, like two processes), where exactly one edit wins each round."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from dashboard.services import memories
from dashboard.services.hub import StoreHub
from memory_core.access import Actor, Role
from memory_core.audit import AuditQuery
from memory_core.errors import VersionConflictError
from memory_core.models import MemoryItem
from memory_core.records import MemoryPatch
from tests.helpers.dashboard import messages, ok

ROUNDS, EDITORS = 50, 4


@pytest.fixture
def sqlite_dash(make_dash):
    return make_dash({"main": {"_type": "sqlite", "path": "store.sqlite3"}})


def test_two_operators_the_second_gets_a_conflict_with_a_diff(sqlite_dash) -> None:
    memory_id = sqlite_dash.add(memory="The user likes tea.", tags=["diet"])
    first, second = (ok(sqlite_dash.app("memory", id=memory_id).run()) for _ in range(2))
    first.text_area(key="detail_memory").input("The user likes green tea.")
    second.text_area(key="detail_memory").input("The user stopped drinking tea.")
    first.button(key="detail_save").click().run()
    assert messages(ok(first), "success") == ["Saved: this memory is now version 2."]
    second.button(key="detail_save").click().run()
    errors = messages(ok(second), "error")
    assert any("someone changed this memory since you loaded it" in e and "version 2" in e for e in errors), errors
    diff = second.code[0].value
    assert "-The user likes green tea." in diff and "+The user stopped drinking tea." in diff
    assert sqlite_dash.get(memory_id).item.memory == "The user likes green tea."  # nothing overwritten
    assert second.text_area(key="detail_memory").value == "The user stopped drinking tea."  # their edit is kept
    second.button(key="detail_take_current").click().run()
    second.text_area(key="detail_memory").input("The user likes green tea, not coffee.")
    second.button(key="detail_save").click().run()
    assert messages(ok(second), "success") == ["Saved: this memory is now version 3."]
    updates = list(sqlite_dash.hub.audit.entries(AuditQuery(operation="update")))
    assert [(e.before["version"], e.after["version"]) for e in updates] == [(1, 2), (2, 3)]


def test_concurrent_edits_exactly_one_wins_each_round(tmp_path: Path) -> None:
    config = tmp_path / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "sqlite", "path": "store.sqlite3"}}}))
    hubs = [StoreHub(str(config)), StoreHub(str(config))]
    admin = Actor("setup", Role.ADMIN)
    try:
        memory_id = memories.add_memory(hubs[0], admin, "main", MemoryItem(user_id="u", memory="start"))
        assert memory_id
        wins, conflicts = run_rounds(hubs, memory_id)
        final = memories.get_memory(hubs[1], "main", memory_id)
        updates = list(hubs[0].audit.entries(AuditQuery(operation="update")))
    finally:
        for hub in hubs:
            hub.close()
    tried = ROUNDS * EDITORS
    print(f"\nconcurrent edits: {tried} tried in {ROUNDS} rounds of {EDITORS}, {len(conflicts)} conflicts detected, "
          f"{len(wins)} won (one per round)")
    assert [len(w) for w in wins] == [1] * ROUNDS and len(conflicts) == tried - ROUNDS
    assert final.version == 1 + ROUNDS and final.item.memory == wins[-1][0]
    chain = [(e.before["version"], e.after["version"], e.after["memory"]) for e in updates]
    assert chain == [(r + 1, r + 2, wins[r][0]) for r in range(ROUNDS)]  # each win built on the previous one


def run_rounds(hubs: list[StoreHub], memory_id: str) -> tuple[list[list[str]], list[VersionConflictError]]:
    """Each round, every editor loads the same version and saves at the same moment."""
    wins: list[list[str]] = []
    conflicts: list[VersionConflictError] = []
    barrier = threading.Barrier(EDITORS)
    with ThreadPoolExecutor(EDITORS) as pool:
        for round_ in range(ROUNDS):
            version = memories.get_memory(hubs[0], "main", memory_id).version
            results = list(pool.map(lambda n, r=round_, v=version: edit(hubs[n % 2], memory_id, r, n, v, barrier),
                                    range(EDITORS)))
            wins.append([text for text in results if isinstance(text, str)])
            conflicts += [err for err in results if isinstance(err, VersionConflictError)]
    return wins, conflicts


def edit(hub: StoreHub, memory_id: str, round_: int, editor: int, version: int,
         barrier: threading.Barrier) -> str | VersionConflictError:
    text = f"round {round_}: editor {editor}"
    barrier.wait()
    try:
        memories.update_memory(hub, Actor(f"editor{editor}", Role.EDITOR), "main", memory_id,
                               MemoryPatch(memory=text), expected_version=version)
    except VersionConflictError as exc:
        assert exc.current is not None and exc.current.version == version + 1
        return exc
    return text
