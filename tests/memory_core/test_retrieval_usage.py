"""Which memories the agent uses (memory_core.usage): the agent's search — directly or through the add/get
memory tools — counts each memory it returns, an operator's search and reads do not; counts survive reopening
the file, start on a file of the schema before them and go with a deleted memory; tracking can be turned off."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from memory_core.audit.guard import audited
from memory_core.interfaces import Capability, capabilities_of
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.providers.sqlite import SqliteMemory, schema
from memory_core.records import MemoryFilter
from memory_core.tools import GetToolConfig, bind_tool

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(params=["in_memory", "sqlite"])
async def store(request, tmp_path: Path) -> AsyncIterator:
    if request.param == "in_memory":
        yield InMemoryEditor()
        return
    opened = await SqliteMemory.open(tmp_path / "s.sqlite3")
    yield opened
    await opened.aclose()


async def ids_by_text(store) -> dict[str, str]:
    return {r.item.memory: r.id for r in (await store.list_records(MemoryFilter(user_id="alice"))).records}


async def test_retrieval_counts_only_the_agents_searches(store) -> None:
    assert Capability.RETRIEVALS in capabilities_of(store)
    with audited():
        await store.add_items([MemoryItem(user_id="alice", memory="Alice drinks green tea"),
                               MemoryItem(user_id="alice", memory="Alice plays chess")])
    ids = await ids_by_text(store)
    tea, chess = ids["Alice drinks green tea"], ids["Alice plays chess"]
    await store.search("green tea", top_k=1, user_id="alice")
    get = bind_tool(store, GetToolConfig(memory="main", user_id="alice"))
    await get.ainvoke({"query": "tea", "top_k": 1})  # the toolkit's tool, as an agent calls it
    await store.search_records("green tea", user_id="alice", top_k=5)  # an operator's search
    await store.get_record(tea)
    usage = await store.usage([tea, chess])
    assert list(usage) == [tea] and usage[tea].retrievals == 2
    assert [m.id for m in await store.most_used(5)] == [tea]
    assert [m.id for m in await store.never_retrieved(5)] == [chess]


async def test_retrieval_counts_go_with_a_deleted_memory(store) -> None:
    with audited():
        await store.add_items([MemoryItem(user_id="alice", memory="Alice drinks green tea")])
    [tea] = (await ids_by_text(store)).values()
    await store.search("tea", user_id="alice")
    with audited():
        await store.delete_records([tea])
    assert await store.usage([tea]) == {} and await store.most_used(5) == []


async def test_retrieval_counts_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    async with await SqliteMemory.open(path) as store:
        with audited():
            await store.add_items([MemoryItem(user_id="alice", memory="Alice drinks green tea")])
        [tea] = (await ids_by_text(store)).values()
        await store.search("tea", user_id="alice")
    async with await SqliteMemory.open(path) as store:
        assert (await store.usage([tea]))[tea].retrievals == 1


async def test_retrieval_counting_starts_on_a_file_written_before_it(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with sqlite3.connect(path) as conn:  # a schema 1 file: memdash before retrieval counts
        for statement in schema.MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    async with await SqliteMemory.open(path) as store:
        with audited():
            await store.add_items([MemoryItem(user_id="alice", memory="Alice drinks green tea")])
        [tea] = (await ids_by_text(store)).values()
        await store.search("tea", user_id="alice")
        assert (await store.usage([tea]))[tea].retrievals == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    conn.close()


async def test_retrieval_tracking_can_be_turned_off(tmp_path: Path) -> None:
    async with await SqliteMemory.open(tmp_path / "s.sqlite3", track_retrievals=False) as store:
        with audited():
            await store.add_items([MemoryItem(user_id="alice", memory="Alice drinks green tea")])
        await store.search("tea", user_id="alice")
        assert Capability.RETRIEVALS not in capabilities_of(store)
        assert await store.most_used(5) == []
