"""Provenance keys (memory_core.provenance): what memdash's add_memory tool stamps outside a toolkit workflow,
the agent's own keys kept, and the keys kept by a store like any metadata (filterable by conversation)."""

from __future__ import annotations

import datetime as dt

import pytest

from memory_core import provenance
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.records import MemoryFilter
from memory_core.tools import AddToolConfig, bind_tool

pytestmark = pytest.mark.asyncio


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


def test_the_items_own_provenance_wins() -> None:
    item = MemoryItem(user_id="a", memory="m", metadata={provenance.FUNCTION: "importer",
                                                          provenance.WRITTEN_AT: "2020-01-01T00:00:00+00:00"})
    assert provenance.stamped(item, function="add_memory").metadata == item.metadata
