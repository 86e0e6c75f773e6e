"""Pause and expiry (memory_core.life) on every memdash store that declares ``Capability.PAUSE`` (in_memory,
sqlite, postgres, redis; real servers): the sweep (``transfer.expired_ids``) lists exactly the memories past their
time; both states survive a JSONL export and import; an expiry already past is refused. What the agent's own
search returns (paused and expired memories left out, ``top_k`` kept) is in the conformance suite
(``memory_core.testing``, ``test_use_*``), run on every store's own test module."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from memory_core import life
from memory_core.errors import InvalidInputError
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter, MemoryPatch
from memory_core.transfer import dump_jsonl_line, expired_ids, parse_jsonl
from tests.helpers.memdash_stores import KINDS, memdash_store

pytestmark = pytest.mark.asyncio
NOW = dt.datetime.now(dt.UTC)


@pytest_asyncio.fixture(params=KINDS)
async def store(request, tmp_path: Path) -> AsyncIterator:
    async with memdash_store(request.param, request, tmp_path) as opened:
        yield opened


async def memories_of(store) -> dict[str, str]:
    return {r.item.memory: r.id for r in (await store.list_records(MemoryFilter(user_id="alice"))).records}


async def set_metadata(store, memory_id: str, change) -> None:
    record = await store.get_record(memory_id)
    await store.update_record(memory_id, MemoryPatch(metadata=change(record.item.metadata)),
                              expected_version=record.version)


async def agent_finds(store, query: str, top_k: int = 5) -> list[str]:
    return [item.memory or "" for item in await store.search(query, top_k=top_k, user_id="alice")]


async def test_expiry_sweep_lists_only_the_memories_past_their_time(store) -> None:
    await store.add_items([MemoryItem(user_id="alice", memory="Alice is in Paris this week"),
                           MemoryItem(user_id="alice", memory="Alice has a dentist appointment next month"),
                           MemoryItem(user_id="bob", memory="Bob lives in Lisbon")])
    ids = await memories_of(store)
    trip, dentist = ids["Alice is in Paris this week"], ids["Alice has a dentist appointment next month"]
    await set_metadata(store, trip, lambda meta: {**meta, life.EXPIRES_AT: (NOW - dt.timedelta(hours=1)).isoformat()})
    await set_metadata(store, dentist, lambda meta: life.expiring_metadata(meta, NOW + dt.timedelta(days=30), NOW))
    assert await expired_ids(store, dt.datetime.now(dt.UTC)) == [trip]
    assert set(await expired_ids(store, NOW + dt.timedelta(days=31))) == {trip, dentist}  # Bob's never expires
    assert "Alice has a dentist appointment next month" in await agent_finds(store, "dentist appointment")


async def test_pause_and_expiry_survive_an_export_and_import(store) -> None:
    await store.add_items([MemoryItem(user_id="alice", memory="Alice drinks green tea"),
                           MemoryItem(user_id="alice", memory="Alice has a dentist appointment next month")])
    ids = await memories_of(store)
    tea, dentist = ids["Alice drinks green tea"], ids["Alice has a dentist appointment next month"]
    await set_metadata(store, tea, lambda meta: life.paused_metadata(meta, True))
    await set_metadata(store, dentist, lambda meta: life.expiring_metadata(meta, NOW + dt.timedelta(days=30), NOW))
    before = await store.get_records([tea, dentist])
    exported = [dump_jsonl_line(record) for record in before.values()]
    await store.delete_records([tea, dentist])
    await store.add_records(parse_jsonl(exported).records)
    restored = {key: record.item for key, record in (await store.get_records([tea, dentist])).items()}
    assert life.is_paused(restored[tea]) and not life.is_paused(restored[dentist])
    assert life.expires_at(restored[dentist]) == life.expires_at(before[dentist].item) is not None
    assert await agent_finds(store, "green tea") == []


async def test_expiry_already_past_is_refused_with_the_field_named() -> None:
    with pytest.raises(InvalidInputError, match=r"expires_at: .* is already past"):
        life.expiring_metadata({}, NOW - dt.timedelta(minutes=1), NOW)
    assert life.expiring_metadata({"k": 1}, None, NOW) == {"k": 1}
