"""Provenance keys (memory_core.provenance): what memdash's add_memory tool stamps outside a toolkit workflow,
the agent's own keys kept, and the keys kept by every memdash store (in_memory, sqlite, postgres, redis; real
servers) like any metadata, so the other memories of a conversation are found by a metadata filter."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from memory_core import provenance
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.records import MemoryFilter
from memory_core.tools import AddToolConfig, bind_tool
from tests.helpers.memdash_stores import KINDS, memdash_store


@pytest_asyncio.fixture(params=KINDS)
async def store(request, tmp_path: Path) -> AsyncIterator:
    async with memdash_store(request.param, request, tmp_path) as opened:
        yield opened


@pytest.mark.asyncio
async def test_provenance_of_a_memory_added_through_memdashs_tool_outside_a_workflow() -> None:
    store = InMemoryEditor()
    add = bind_tool(store, AddToolConfig(memory="main", user_id="alice"))
    await add.ainvoke({"memory": "Alice likes tea.", "metadata": {"lang": "en"}})
    await add.ainvoke({"memory": "Alice lives in Lisbon.", "metadata": {provenance.CONVERSATION: "c-1"}})
    records = {r.item.memory: r for r in (await store.list_records(MemoryFilter(user_id="alice"))).records}
    tea = records["Alice likes tea."].item.metadata
    assert tea["lang"] == "en" and tea[provenance.FUNCTION] == "add_memory"
    assert provenance.CONVERSATION not in tea  # no workflow, no conversation: nothing made up
    assert abs(dt.datetime.fromisoformat(tea[provenance.WRITTEN_AT]) - dt.datetime.now(dt.UTC)) < dt.timedelta(
        minutes=1)
    found = await store.list_records(MemoryFilter(metadata={provenance.CONVERSATION: "c-1"}))
    assert [r.item.memory for r in found.records] == ["Alice lives in Lisbon."]  # the agent's own key kept


@pytest.mark.asyncio
async def test_provenance_from_the_toolkits_context_round_trips_through_every_store(store, monkeypatch) -> None:
    context = {provenance.CONVERSATION: "thread-7", provenance.WORKFLOW_RUN: "run-3",
               provenance.FUNCTION: "travel_agent"}  # what the toolkit's Context says inside a workflow
    monkeypatch.setattr(provenance, "toolkit_context", lambda: dict(context))
    add = bind_tool(store, AddToolConfig(memory="main", user_id="alice"))
    await add.ainvoke({"memory": "Alice flies to Oslo in May.", "metadata": {"app": {"name": "chat"}}})
    monkeypatch.setattr(provenance, "toolkit_context", lambda: {**context, provenance.CONVERSATION: "thread-8"})
    await add.ainvoke({"memory": "Alice prefers aisle seats."})
    found = await store.list_records(MemoryFilter(user_id="alice", metadata={provenance.CONVERSATION: "thread-7"}))
    [record] = found.records
    meta = (await store.get_record(record.id)).item.metadata
    assert record.item.memory == "Alice flies to Oslo in May." and meta["app"] == {"name": "chat"}
    assert {key: meta[key] for key in context} == context
    assert dt.datetime.fromisoformat(meta[provenance.WRITTEN_AT]) <= dt.datetime.now(dt.UTC)


def test_the_items_own_provenance_wins() -> None:
    item = MemoryItem(user_id="a", memory="m", metadata={provenance.FUNCTION: "importer",
                                                          provenance.WRITTEN_AT: "2020-01-01T00:00:00+00:00"})
    assert provenance.stamped(item, function="add_memory").metadata == item.metadata
