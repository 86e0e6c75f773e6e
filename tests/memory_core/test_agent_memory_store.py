"""The ``redis_agent_memory_backend`` store against a real Redis Agent Memory Server
(:mod:`servers_agent_memory`): the conformance suite, with the server's documented non-features replaced by
tests of what it does keep (its own fields, text, isolation, conflicts detected through ``updated_at``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import ClassVar

import httpx
import pytest
import pytest_asyncio

from memory_core.builder import MemoryBuilder
from memory_core.config import parse_config
from memory_core.errors import InvalidInputError, VersionConflictError
from memory_core.interfaces import Capability
from memory_core.models import MemoryItem
from memory_core.providers.agent_memory import AgentMemoryServer
from memory_core.records import MemoryFilter, MemoryPatch
from memory_core.testing import MemoryStoreConformance
from tests.helpers.servers_agent_memory import ams_url  # noqa: F401

pytestmark = pytest.mark.asyncio
NOT_KEPT = ("the server keeps one text, topics and its own fields (session_id, namespace, entities, memory_type, "
            "event_date); other metadata is refused and a conversation is kept as its text")

@pytest_asyncio.fixture
async def store(ams_url: str) -> AsyncIterator[AgentMemoryServer]:  # noqa: F811
    config = parse_config(f"memory:\n  a: {{_type: redis_agent_memory_backend, base_url: '{ams_url}'}}\n")
    async with MemoryBuilder(config) as builder:
        yield await builder.get_memory_client("a")


class TestAgentMemoryConformance(MemoryStoreConformance):
    capabilities = frozenset({Capability.COUNT, Capability.DELETE_BY_IDS, Capability.GET, Capability.LIST,
        Capability.LIST_ALL_USERS, Capability.PING, Capability.SEARCH_RECORDS, Capability.UPDATE,
        Capability.VECTOR_SEARCH})
    not_applicable: ClassVar[dict[str, str]] = {  # not generated here; each names what is tested instead
        "test_toolkit_add_then_search_finds_it": f"{NOT_KEPT} (test_text_topics_and_server_fields_round_trip)",
        "test_toolkit_users_are_isolated": f"{NOT_KEPT} (isolation: test_users_are_isolated_even_by_case)",
        "test_toolkit_unicode_round_trips": f"{NOT_KEPT} (texts: test_text_topics_and_server_fields_round_trip)",
        "test_toolkit_fields_round_trip": f"{NOT_KEPT} (test_text_topics_and_server_fields_round_trip)",
        "test_toolkit_conversation_only_item_is_searchable": f"{NOT_KEPT} (test_a_conversation_is_kept_as_its_text)",
        "test_toolkit_results_are_copies": f"{NOT_KEPT} (copies: results are built per call from the server's JSON)",
        "test_browse_filters_match_reference":
            f"{NOT_KEPT} (filters without metadata: test_filters_and_counts_on_kept_fields)",
        "test_browse_count_equals_listing": f"{NOT_KEPT} (test_filters_and_counts_on_kept_fields)",
        "test_browse_get_record": f"{NOT_KEPT} (test_text_topics_and_server_fields_round_trip)",
        "test_browse_update_record": f"{NOT_KEPT} (test_edits_of_text_topics_and_fields)",
        "test_browse_updates_keep_a_findable_memory_findable": f"{NOT_KEPT} (test_edits_of_text_topics_and_fields)",
        "test_browse_update_with_stale_version_conflicts":
            "the server keeps no version: an edit made elsewhere is detected by updated_at "
            "(test_an_edit_made_elsewhere_is_a_conflict)",
    }
    finds_words_in_every_script = False  # the server ranks by its embeddings only

    @pytest_asyncio.fixture
    async def editor(self, store: AgentMemoryServer) -> AsyncIterator[AgentMemoryServer]:
        yield store


def _user(name: str) -> str:
    return f"ams-{name}-{uuid.uuid4().hex[:8]}"


async def test_text_topics_and_server_fields_round_trip(store: AgentMemoryServer) -> None:
    alice = _user("alice")
    fields = {"session_id": "s-1", "namespace": "travel", "entities": ["Lisbon"], "memory_type": "episodic"}
    texts = ["我喜欢在京都喝抹茶", "Party planning 🎉 with the python club 🐍", "Zoe\u0308 runs the cafe\u0301"]
    await store.add_items([MemoryItem(user_id=alice, memory=t, tags=["标签", "trip"], metadata=fields)
                           for t in texts])
    records = {r.item.memory: r for r in (await store.list_records(MemoryFilter(user_id=alice))).records}
    assert set(records) == set(texts)
    for record in records.values():
        assert (record.item.tags, record.version) == (["标签", "trip"], 1)
        assert {k: record.item.metadata[k] for k in fields} == fields
        assert await store.get_record(record.id) == record
    [hit] = await store.search(texts[1], top_k=1, user_id=alice)
    assert (hit.memory, hit.conversation, hit.metadata["session_id"]) == (texts[1], [{"role": "user",
                                                                                      "content": texts[1]}], "s-1")


async def test_other_metadata_is_refused_not_dropped(store: AgentMemoryServer) -> None:
    alice = _user("alice")
    with pytest.raises(InvalidInputError, match="keeps no metadata of its own; it cannot store source"):
        await store.add_items([MemoryItem(user_id=alice, memory="ok"),
                               MemoryItem(user_id=alice, memory="Alice likes tea", metadata={"source": "chat"})])
    assert await store.count_records(MemoryFilter(user_id=alice)) == 0


async def test_users_are_isolated_even_by_case(store: AgentMemoryServer) -> None:
    """The server matches user ids as a case-insensitive tag; memdash keeps the ids apart."""
    lower = _user("alice")
    upper = lower.upper()
    await store.add_items([MemoryItem(user_id=lower, memory="The door code is 4512"),
                           MemoryItem(user_id=upper, memory="The door code is 9999")])
    assert [i.memory for i in await store.search("door code", top_k=5, user_id=lower)] == ["The door code is 4512"]
    assert [r.item.user_id for r in (await store.list_records(MemoryFilter(user_id=upper))).records] == [upper]


async def test_a_conversation_is_kept_as_its_text(store: AgentMemoryServer) -> None:
    """As the toolkit's editor stores it: the messages' contents joined by spaces."""
    alice = _user("alice")
    await store.add_items([MemoryItem(user_id=alice, conversation=[{"role": "user", "content": "I moved"},
                                                                   {"role": "assistant", "content": "to Lisbon?"}])])
    [record] = (await store.list_records(MemoryFilter(user_id=alice))).records
    assert (record.item.memory, record.item.conversation) == ("I moved to Lisbon?", None)


async def test_filters_and_counts_on_kept_fields(store: AgentMemoryServer) -> None:
    alice = _user("alice")
    await store.add_items([MemoryItem(user_id=alice, memory=f"m{i}", tags=["even"] if i % 2 == 0 else ["odd"])
                           for i in range(7)])
    assert await store.count_records(MemoryFilter(user_id=alice)) == 7
    assert await store.count_records(MemoryFilter(user_id=alice, tags_any=("even",))) == 4
    listed = (await store.list_records(MemoryFilter(user_id=alice, tags_all=("odd",)), limit=2)).records
    assert [r.item.tags for r in listed] == [["odd"], ["odd"]]


async def test_edits_of_text_topics_and_fields(store: AgentMemoryServer) -> None:
    alice = _user("alice")
    await store.add_items([MemoryItem(user_id=alice, memory="Alice collects antique barometers")])
    [record] = (await store.list_records(MemoryFilter(user_id=alice))).records
    edited = await store.update_record(record.id, MemoryPatch(memory="Alice collects antique clocks",
                                                              tags=["hobby"], metadata={"session_id": "s-9"}),
                                       expected_version=1)
    assert (edited.item.memory, edited.item.tags, edited.item.metadata["session_id"]) == (
        "Alice collects antique clocks", ["hobby"], "s-9")
    assert edited.updated_at > record.updated_at
    assert [i.memory for i in await store.search("antique clocks", top_k=1, user_id=alice)] == [
        "Alice collects antique clocks"]
    with pytest.raises(InvalidInputError, match="keeps one text per memory, not messages"):
        await store.update_record(record.id, MemoryPatch(conversation=[{"role": "user", "content": "x"}]),
                                  expected_version=1)


async def test_an_edit_made_elsewhere_is_a_conflict(store: AgentMemoryServer, ams_url: str) -> None:  # noqa: F811
    alice = _user("alice")
    await store.add_items([MemoryItem(user_id=alice, memory="Alice drinks green tea")])
    [record] = (await store.list_records(MemoryFilter(user_id=alice))).records
    async with httpx.AsyncClient() as client:  # the agent (or another tool) edits it meanwhile
        answer = await client.patch(f"{ams_url}/v1/long-term-memory/{record.id}", json={"text": "Alice drinks coffee"})
        assert answer.status_code == 200
    with pytest.raises(VersionConflictError):
        await store.update_record(record.id, MemoryPatch(memory="Alice drinks black tea"), expected_version=1)
    assert (await store.get_record(record.id)).item.memory == "Alice drinks coffee"


async def test_browsing_leaves_the_agents_access_counts_alone(store: AgentMemoryServer) -> None:
    alice = _user("alice")
    await store.add_items([MemoryItem(user_id=alice, memory="Alice plays the cello")])
    for _ in range(3):
        [record] = (await store.list_records(MemoryFilter(user_id=alice))).records
        await store.search_records("cello", user_id=alice)
    assert "access_count" not in (await store.get_record(record.id)).item.metadata  # still 0
    await store.search("cello", top_k=1, user_id=alice)  # the agent's search is use
    await asyncio.sleep(0.5)
    assert (await store.get_record(record.id)).item.metadata.get("access_count", 0) >= 1
