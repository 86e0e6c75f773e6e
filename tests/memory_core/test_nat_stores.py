"""Toolkit stores and memdash on the same memories.

* A ``_type`` only a toolkit plugin implements (the toolkit's own Zep store, by its full name) is built by memdash
  through the toolkit and shown in the dashboard as a search-only store: search, add and delete work.
* The toolkit's own Redis store (``nemo-agent-toolkit-redis`` 0.3) and Mem0 store (``nvidia-nat-mem0ai``, mem0ai
  0.1.118) write through their own tools, in the toolkit venv of ``tests/helpers/nat_venv.py``, into a real Redis and
  the local Mem0 (``tests/helpers/fake_mem0.py``); memdash's ``redis_memory`` / ``mem0_memory`` list, edit and delete
  those memories, and the toolkit finds what memdash wrote. One YAML file serves both: a short name is memdash's
  store in memdash and the toolkit's in the toolkit, and ``memdash_hashing`` gives both sides the same vectors.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.dashboard import Dash, messages, ok, texts
from tests.helpers.fake_mem0 import FakeMem0
from tests.helpers.fake_memmachine import FakeMemMachine
from tests.helpers.fake_zep import FakeZep
from tests.helpers.nat_venv import probe, toolkit_python
from tests.helpers.servers_agent_memory import ams_url  # noqa: F401
from tests.helpers.servers_redis import RedisServer, start_or_fail
from tests.helpers.toolkit import require_toolkit

require_toolkit()

from dashboard.services import memories  # noqa: E402
from memory_core.access import LOCAL_ADMIN  # noqa: E402
from memory_core.builder import MemoryBuilder  # noqa: E402
from memory_core.config import load_config  # noqa: E402
from memory_core.errors import MemdashError  # noqa: E402
from memory_core.interfaces import capabilities_of  # noqa: E402
from memory_core.models import MemoryItem  # noqa: E402
from memory_core.nat.adapters import ToolkitStore  # noqa: E402
from memory_core.providers.zep import ZepMemory  # noqa: E402
from memory_core.records import MemoryPatch  # noqa: E402
from memory_core.tools import ADDED, DELETED  # noqa: E402

ZEP_KEY = "z-nat-key"
MEM0_KEY = "m0-nat-key"
FOUND = "Memories as a JSON: \n"
TOOLKIT_ZEP = "nat.plugins.zep_cloud/zep_memory"


def tools_config(memory: dict[str, Any], embedders: dict[str, Any] | None = None) -> dict[str, Any]:
    """A toolkit file: one store ``agent`` and the toolkit's memory tools for alice."""
    tool = {"memory": "agent", "user_id": "alice"}
    return {**({"embedders": embedders} if embedders else {}), "memory": {"agent": memory},
            "functions": {name: {"_type": name, **tool} for name in ("add_memory", "get_memory", "delete_memory")},
            "workflow": {"_type": "get_memory", **tool}}


def write(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def hits(answer: str) -> list[dict[str, Any]]:
    assert answer.startswith(FOUND), answer
    return json.loads(answer.removeprefix(FOUND))


def add(text: str, **fields: Any) -> dict[str, Any]:
    return {"function": "add_memory", "input": {"memory": text, **fields}}


def get(query: str) -> dict[str, Any]:
    return {"function": "get_memory", "input": {"query": query, "top_k": 5}}


# --- a toolkit-only _type in the dashboard ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zep() -> Iterator[FakeZep]:
    with FakeZep(ZEP_KEY) as server:
        yield server


@pytest.fixture
def zep_dash(zep: FakeZep, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dash]:
    monkeypatch.setenv("ZEP_API_KEY", ZEP_KEY)  # the toolkit's Zep store reads its key only from here
    monkeypatch.delenv("ZEP_API_URL", raising=False)  # the SDK would prefer it to base_url
    path = write(tmp_path / "memdash.yml", {"memory": {
        "theirs": {"_type": TOOLKIT_ZEP, "base_url": zep.api_url},
        "ours": {"_type": "zep_memory", "base_url": zep.url, "api_key": ZEP_KEY}}})
    dash = Dash(path)
    dash.agent_write("ours", "remove_items", user_id="alice")
    yield dash
    dash.close()


def test_short_name_is_memdash_full_name_is_the_toolkit(zep_dash: Dash) -> None:
    theirs, ours = zep_dash.hub.editor("theirs"), zep_dash.hub.editor("ours")
    assert isinstance(theirs, ToolkitStore) and type(theirs.editor).__module__.startswith("nat.plugins.zep_cloud")
    assert isinstance(ours, ZepMemory)
    assert capabilities_of(theirs) == frozenset()
    assert zep_dash.hub.store_type("theirs") == TOOLKIT_ZEP


def test_stores_page_shows_the_toolkit_store_as_search_only(zep_dash: Dash) -> None:
    at = ok(zep_dash.app("stores").run())
    assert f"_type: {TOOLKIT_ZEP}" in texts(at)
    assert "Can: add, search and remove only (toolkit interface)" in [c.value for c in at.caption]
    assert not messages(at, "error")
    at = ok(zep_dash.app("browse", store="theirs").run())
    assert any("cannot list memories (search only)" in m for m in messages(at, "info"))


def test_add_search_and_delete_through_the_dashboard(zep_dash: Dash) -> None:
    at = ok(zep_dash.app("add", store="theirs").run())
    at.text_input(key="add_user_0").input("alice")
    at.text_area(key="add_memory_0").input("Alice likes green tea")
    at.session_state["add_conversation_0"] = {"edited_rows": {}, "added_rows": [
        {"role": "user", "content": "I like green tea"}, {"role": "assistant", "content": "Noted."}],
        "deleted_rows": []}
    at.button(key="FormSubmitter:add_form_0-Add memory").click().run()
    assert messages(ok(at), "success")[0].startswith("Added “Alice likes green tea” for alice.")

    at = ok(zep_dash.app("search", store="theirs", user="alice", q="green tea").run())
    assert "I like green tea" in texts(at)[0]
    assert any("cannot link search results to their memories" in m for m in messages(at, "info"))
    assert [r.item.memory for r in zep_dash.records("ours", user_id="alice")] == ["I like green tea"]

    memories.delete_user_memories(zep_dash.hub, LOCAL_ADMIN, "theirs", "alice")
    assert zep_dash.records("ours", user_id="alice") == []


def test_a_toolkit_store_failure_is_a_message(zep_dash: Dash, zep: FakeZep) -> None:
    zep.fail(401, path="/graph/search")
    at = ok(zep_dash.app("search", store="theirs", user="alice", q="tea").run())
    [error] = messages(at, "error")
    assert error.startswith("the toolkit's store failed in search: ApiError") and "401" in error


def test_memdash_check_accepts_a_toolkit_only_type(zep: FakeZep, tmp_path: Path) -> None:
    path = write(tmp_path / "memdash.yml", {"memory": {"theirs": {"_type": TOOLKIT_ZEP, "base_url": zep.api_url,
                                                                  "timeout": 5}}})
    config = load_config(path)
    assert config.memory["theirs"].type == TOOLKIT_ZEP and config.memory["theirs"].num_retries == 5
    assert not config.warnings


# --- the toolkit's own Redis and Mem0 stores, in the toolkit venv -------------------------------------------------


@pytest.fixture(scope="module")
def toolkit() -> Path:
    return toolkit_python()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A server of its own: the toolkit's index name ``memory_idx`` is global to a server."""
    server = start_or_fail(tmp_path_factory.mktemp("nat-redis"))
    yield server
    server.stop()


def test_toolkit_redis_store_and_memdash_redis_store_share_memories(toolkit: Path, redis_server: RedisServer,
                                                                     tmp_path: Path) -> None:
    path = write(tmp_path / "redis.yml", tools_config(
        {"_type": "redis_memory", "host": "127.0.0.1", "port": redis_server.port, "key_prefix": "nat",
         "embedder": "words"}, embedders={"words": {"_type": "memdash_hashing"}}))
    tea = {"tags": ["diet"], "metadata": {"source": {"app": "chat", "turn": 2}, "ünï": "cødé"}}
    added = probe(toolkit, path, [add("Alice drinks green tea every morning", **tea),
                                  add("Alice moved to Lisbon in May"), get("green tea")])
    assert added[:2] == [ADDED, ADDED]
    assert hits(added[2])[0]["memory"] == "Alice drinks green tea every morning"

    dash = Dash(path)
    try:
        assert load_config(path).memory["agent"].type == "redis_memory"  # memdash's own store in memdash
        records = {r.item.memory: r for r in dash.records("agent", user_id="alice")}
        assert set(records) == {"Alice drinks green tea every morning", "Alice moved to Lisbon in May"}
        tea_record = records["Alice drinks green tea every morning"]
        assert (tea_record.item.tags, tea_record.item.metadata) == (tea["tags"], tea["metadata"])
        [found] = memories.search_memories(dash.hub, "agent", user_id="alice", query="green tea", top_k=1)
        assert found.id == tea_record.id  # the toolkit's vectors, searched by memdash

        memories.update_memory(dash.hub, LOCAL_ADMIN, "agent", tea_record.id, MemoryPatch(tags=["diet", "edited"]),
                               expected_version=tea_record.version)
        memories.update_memory(dash.hub, LOCAL_ADMIN, "agent", tea_record.id,  # a correction of the text itself
                               MemoryPatch(memory="Alice drinks green tea every evening"),
                               expected_version=tea_record.version + 1)
        memories.delete_memories(dash.hub, LOCAL_ADMIN, "agent", [records["Alice moved to Lisbon in May"].id])
        memories.add_memory(dash.hub, LOCAL_ADMIN, "agent", MemoryItem(user_id="alice", memory="Alice plays chess "
                                                                       "on Sundays", tags=["hobby"]))
        chess, green, lisbon, deleted = probe(toolkit, path, [get("chess Sundays"), get("green tea"),
                                                              get("Lisbon May"), {"function": "delete_memory",
                                                                                  "input": {}}])
        assert (hits(chess)[0]["memory"], hits(chess)[0]["tags"]) == ("Alice plays chess on Sundays", ["hobby"])
        assert (hits(green)[0]["memory"], hits(green)[0]["tags"]) == ("Alice drinks green tea every evening",
                                                                       ["diet", "edited"])
        assert "Alice moved to Lisbon in May" not in [h["memory"] for h in hits(lisbon)]
        assert deleted == DELETED and dash.records("agent", user_id="alice") == []
    finally:
        dash.close()


def test_toolkit_mem0_store_and_memdash_mem0_store_share_memories(toolkit: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEM0_API_KEY", MEM0_KEY)  # where both stores read the key from
    env = {"MEM0_TELEMETRY": "False", "MEM0_DIR": str(tmp_path / "mem0")}
    with FakeMem0(MEM0_KEY) as server:
        path = write(tmp_path / "mem0.yml", tools_config({"_type": "mem0_memory", "host": server.url}))
        added = probe(toolkit, path, [add("Alice is vegetarian", metadata={"source": "chat", "run_id": "r1"}),
                                      add("Alice runs marathons"), get("vegetarian")], env)
        assert added[:2] == [ADDED, ADDED]
        assert hits(added[2])[0]["memory"] == "Alice is vegetarian"

        dash = Dash(path)
        try:
            records = {r.item.memory: r for r in dash.records("agent", user_id="alice")}
            assert set(records) == {"Alice is vegetarian", "Alice runs marathons"}
            # the toolkit sends run_id as Mem0's run scope; memdash puts it back into metadata
            assert records["Alice is vegetarian"].item.metadata == {"source": "chat", "run_id": "r1"}
            memories.delete_memories(dash.hub, LOCAL_ADMIN, "agent", [records["Alice runs marathons"].id])
            memories.add_memory(dash.hub, LOCAL_ADMIN, "agent", MemoryItem(user_id="alice", memory="Alice speaks "
                                                                           "Portuguese"))
            portuguese, marathons = probe(toolkit, path, [get("Portuguese"), get("marathons")], env)
            assert [h["memory"] for h in hits(portuguese)] == ["Alice speaks Portuguese"]
            assert hits(marathons) == []
        finally:
            dash.close()


async def test_toolkit_store_through_memdash_builder_keeps_one_toolkit_builder(zep: FakeZep, tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch
                                                                               ) -> None:
    monkeypatch.setenv("ZEP_API_KEY", ZEP_KEY)
    monkeypatch.delenv("ZEP_API_URL", raising=False)
    path = write(tmp_path / "memdash.yml", {"memory": {name: {"_type": TOOLKIT_ZEP, "base_url": zep.api_url}
                                                       for name in ("one", "two")}})
    async with MemoryBuilder(load_config(path)) as builder:
        one, two = await builder.get_memory_clients(["one", "two"])
        await one.add_items([MemoryItem(user_id="dora", conversation=[{"role": "user", "content": "I sail"}])])
        assert [i.memory for i in await two.search("sail", user_id="dora")] == ["I sail"]
        toolkit_builder = await builder.shared("toolkit", dict)  # already open: the factory is not called
        assert [toolkit_builder.get_memory_client_config(n).type for n in ("one", "two")] == ["zep_memory"] * 2
        await two.remove_items(user_id="dora")


def test_toolkit_agent_memory_backend_and_memdash_share_memories(toolkit: Path, ams_url: str,  # noqa: F811
                                                                tmp_path: Path) -> None:
    """The toolkit's ``redis_agent_memory_backend`` (nemo-agent-toolkit-redis 0.3) writes into a real Agent Memory
    Server; memdash lists the memory, an operator corrects its text, and the toolkit's own get_memory finds the
    correction."""
    path = write(tmp_path / "ams.yml", tools_config({"_type": "redis_agent_memory_backend", "base_url": ams_url}))
    added = probe(toolkit, path, [add("Alice is allergic to peanuts", tags=["health"])])
    assert added == [ADDED]
    dash = Dash(path)
    try:
        assert load_config(path).memory["agent"].type == "redis_agent_memory_backend"  # memdash's store here
        records = wait_for_records(dash, "agent", "alice", 1)
        [record] = records
        assert (record.item.memory, record.item.tags) == ("Alice is allergic to peanuts", ["health"])
        memories.update_memory(dash.hub, LOCAL_ADMIN, "agent", record.id,
                               MemoryPatch(memory="Alice is allergic to peanuts and cashews"),
                               expected_version=record.version)
        [found] = probe(toolkit, path, [get("what is Alice allergic to")])
        assert hits(found)[0]["memory"] == "Alice is allergic to peanuts and cashews"
        assert hits(found)[0]["metadata"]["id"] == record.id
    finally:
        dash.close()


def wait_for_records(dash: Dash, store: str, user: str, count: int, timeout: float = 10.0) -> list[Any]:
    """The user's records once ``count`` are there (the server indexes what the toolkit wrote in the background)."""
    deadline = time.monotonic() + timeout
    while len(records := dash.records(store, user_id=user)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return records


# --- the toolkit's own MemMachine store (nvidia-nat-memmachine), a toolkit-only _type ---------------------------------


@pytest.fixture
def memmachine_dash(tmp_path: Path) -> Iterator[tuple[Dash, FakeMemMachine]]:
    with FakeMemMachine() as server:
        path = write(tmp_path / "memdash.yml", {"memory": {"mm": {
            "_type": "memmachine_memory", "base_url": server.url, "org_id": "acme", "project_id": "agents"}}})
        dash = Dash(path)
        yield dash, server
        dash.close()


def test_memmachine_is_shown_through_the_toolkits_editor_with_what_it_cannot_do(memmachine_dash) -> None:
    """A toolkit-only store: search-only in the dashboard, with what it cannot do said, and what memdash found the
    toolkit's editor to get wrong (it drops the user id: users are not kept apart) shown beside it."""
    dash, server = memmachine_dash
    at = ok(dash.app("stores").run())
    assert "_type: memmachine_memory" in texts(at)
    assert "Can: add, search and remove only (toolkit interface)" in [c.value for c in at.caption]
    assert any("does not scope memories by user" in m for m in messages(at, "warning"))
    browse = ok(dash.app("browse", store="mm").run())
    assert any("cannot list memories (search only)" in m for m in messages(browse, "info"))

    memories.add_memory(dash.hub, LOCAL_ADMIN, "mm", MemoryItem(user_id="alice", memory="Alice likes green tea"))
    [episode] = server.episodes[("acme", "agents")]  # written by the toolkit's editor through memmachine-client
    assert (episode["content"], episode["metadata"]) == ("Alice likes green tea", {})  # no user id kept
    search = ok(dash.app("search", store="mm", user="alice", q="green tea").run())
    assert texts(search)[0] == "Alice likes green tea"
    bob = ok(dash.app("search", store="mm", user="bob", q="green tea").run())
    assert texts(bob)[0] == "Alice likes green tea"  # the toolkit editor's defect, as the note says

    with pytest.raises(MemdashError, match="Bulk deletion by user_id is not directly supported by MemMachine"):
        memories.delete_user_memories(dash.hub, LOCAL_ADMIN, "mm", "alice")
    assert len(server.episodes[("acme", "agents")]) == 1  # nothing half-deleted
