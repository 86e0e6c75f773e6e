"""Several dashboard processes on one PostgreSQL (or Redis) store and one PostgreSQL state: rounds in which every
process loads the same version of a memory and saves at the same moment. Exactly one save wins each round, every other
one is a version conflict (nothing overwritten silently), and the one audit log holds exactly the winning saves,
each built on the previous one, whichever process made it."""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboard.services import memories
from dashboard.services.hub import StoreHub
from memory_core.access import Actor, Role
from memory_core.audit import AuditQuery
from memory_core.errors import VersionConflictError
from memory_core.models import MemoryItem
from memory_core.records import MemoryPatch
from tests.helpers.servers_redis import RedisServer, redis_server  # noqa: F401

PROCESSES, ROUNDS = 3, 15


def editor_process(config: str, memory_id: str, n: int, barrier: Any, results: Any) -> None:
    """One dashboard process: its own hub (store pool, audit log connections), an operator of its own."""
    hub = StoreHub(config)
    operator = Actor(f"operator{n}", Role.EDITOR)
    try:
        for round_ in range(ROUNDS):
            barrier.wait()
            version = memories.get_memory(hub, "main", memory_id).version
            barrier.wait()  # everyone loaded the same version: now all save at once
            text = f"round {round_}: process {n}"
            try:
                memories.update_memory(hub, operator, "main", memory_id, MemoryPatch(memory=text),
                                       expected_version=version)
                results.put((round_, n, "won", text))
            except VersionConflictError as exc:
                current = exc.current.version if exc.current else None
                results.put((round_, n, "conflict", current == version + 1))
    finally:
        hub.close()


@pytest.mark.parametrize("store", ["postgres", "redis"])
def test_state_postgres_processes_one_win_per_round_every_conflict_detected(tmp_path: Path, pgvector_server: str,
                                                                            request: pytest.FixtureRequest,
                                                                            store: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    if store == "postgres":
        main = {"_type": "postgres", "dsn": pgvector_server, "schema": f"store_{suffix}"}
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        main = {"_type": "redis_memory", "port": server.port, "key_prefix": f"p{suffix}"}
    config = tmp_path / "memdash.yml"
    config.write_text(yaml.safe_dump({
        "memory": {"main": main},
        "memdash": {"state": {"_type": "postgres", "dsn": pgvector_server, "schema": f"state_{suffix}"}}}))
    setup = StoreHub(str(config))
    try:
        memory_id = memories.add_memory(setup, Actor("setup", Role.ADMIN), "main", MemoryItem(user_id="u", memory="v1"))
        assert memory_id
        spawn = multiprocessing.get_context("spawn")
        barrier, results = spawn.Barrier(PROCESSES), spawn.Queue()
        workers = [spawn.Process(target=editor_process, args=(str(config), memory_id, n, barrier, results))
                   for n in range(PROCESSES)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=120) for _ in range(PROCESSES * ROUNDS)]
        for worker in workers:
            worker.join(60)
            assert worker.exitcode == 0
        final = memories.get_memory(setup, "main", memory_id)
        updates = list(setup.audit.entries(AuditQuery(operation="update")))
    finally:
        setup.close()
    wins = sorted((r, text) for r, _, outcome, text in outcomes if outcome == "won")
    conflicts = [ok for _, _, outcome, ok in outcomes if outcome == "conflict"]
    print(f"\n{store}: {PROCESSES} processes x {ROUNDS} rounds: {len(wins)} saves won, {len(conflicts)} conflicts "
          "detected")
    assert [r for r, _ in wins] == list(range(ROUNDS))  # exactly one win each round
    assert len(conflicts) == (PROCESSES - 1) * ROUNDS and all(conflicts)  # each with the winner's version
    assert final.version == 1 + ROUNDS and final.item.memory == wins[-1][1]
    chain = [(e.before["version"], e.after["version"], e.after["memory"]) for e in updates]
    assert chain == [(r + 1, r + 2, text) for r, text in wins]  # one entry per win, each built on the last
    assert {e.actor for e in updates} <= {f"operator{n}" for n in range(PROCESSES)}
