"""Store statistics of sqlite, postgres and redis (on real servers) agree with the in_memory reference: the
histogram of memories per user, top tags, growth per day and ISO week, the largest memories (characters of
text and conversation) and the oldest memories the agent never retrieved; arguments are checked alike."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from memory_core.errors import InvalidInputError
from memory_core.interfaces import Capability, capabilities_of
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.records import MemoryRecord
from memory_core.stats import Bucket, HistogramBin
from tests.helpers.memdash_stores import memdash_store
from tests.helpers.servers_postgres import pgvector_server  # noqa: F401 - fixture
from tests.helpers.servers_redis import redis_server  # noqa: F401 - fixture

T0 = dt.datetime(2024, 3, 4, 12, tzinfo=dt.UTC)  # a Monday
STORES = ("sqlite", "postgres", "redis")
WORDS = ("x", "é", "日本", "🙂")  # sizes count characters, not bytes


def dataset(seed: int = 7, n: int = 300) -> list[MemoryRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        user = f"u{rng.randrange(25):02d}"
        text = rng.choice(WORDS) * rng.randrange(0, 150) if rng.random() > 0.05 else None
        keep_convo = text is None or rng.random() < 0.5
        convo = [{"role": "user", "content": rng.choice(WORDS) * rng.randrange(1, 50)}] if keep_convo else None
        tags = rng.sample(["diet", "travel", "work", "preference", "health"], rng.randrange(0, 3))
        when = T0 + dt.timedelta(hours=rng.randrange(0, 24 * 40))
        records.append(MemoryRecord(id=f"r{i:04d}", created_at=when, updated_at=when,
                                    item=MemoryItem(user_id=user, memory=text, conversation=convo, tags=tags)))
    return records


@pytest_asyncio.fixture(params=STORES)
async def stores(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[tuple[InMemoryEditor, Any]]:
    data = dataset()
    reference = InMemoryEditor()
    await reference.add_records(data)
    async with memdash_store(request.param, request, tmp_path) as store:
        await store.add_records(data)
        used = [r.id for r in data[::3]]
        for log in (reference, store):
            await log.note_retrieved(used, T0)
        yield reference, store


async def test_stats_capability_follows_from_the_interface(stores) -> None:
    _, store = stores
    assert {Capability.STATS, Capability.RETRIEVALS} <= capabilities_of(store)


@pytest.mark.parametrize("bins", [1, 3, 10, 50])
async def test_stats_user_histogram_agrees(stores, bins: int) -> None:
    reference, store = stores
    expected = await reference.user_histogram(bins)
    assert await store.user_histogram(bins) == expected
    assert sum(b.users for b in expected) == 25 and len(expected) <= bins


async def test_stats_top_tags_growth_and_largest_agree(stores) -> None:
    reference, store = stores
    assert await store.top_tags(3) == await reference.top_tags(3)
    assert await store.top_tags(50) == await reference.top_tags(50)
    for bucket in Bucket:
        assert await store.growth(bucket) == await reference.growth(bucket)
    assert await store.largest(7) == await reference.largest(7)


async def test_stats_weeks_start_on_monday(stores) -> None:
    _, store = stores
    weeks = await store.growth(Bucket.WEEK)
    assert all(point.start.weekday() == 0 for point in weeks)
    assert weeks[0].start == T0.date() and sum(p.created for p in weeks) == 300


async def test_stats_never_retrieved_agrees_and_follows_new_retrievals(stores) -> None:
    reference, store = stores
    assert await store.never_retrieved(5) == await reference.never_retrieved(5)
    oldest = [m.id for m in await reference.never_retrieved(250)]
    for log in (reference, store):
        await log.note_retrieved(oldest[:-1], T0)  # one memory left that no search returned
    assert [m.id for m in await store.never_retrieved(5)] == oldest[-1:]


async def test_stats_bad_arguments_are_refused(stores) -> None:
    _, store = stores
    for call in (store.top_tags(0), store.largest(-1), store.never_retrieved(0), store.user_histogram(0)):
        with pytest.raises(InvalidInputError):
            await call


@pytest.mark.parametrize("kind", STORES)
async def test_stats_of_an_empty_store_and_inclusive_bins(kind: str, request: pytest.FixtureRequest,
                                                          tmp_path) -> None:
    async with memdash_store(kind, request, tmp_path) as store:
        assert await store.user_histogram() == [] and await store.top_tags() == []
        assert await store.growth() == [] and await store.largest() == [] and await store.never_retrieved() == []
        await store.add_items([MemoryItem(user_id="a", memory="m")] + [MemoryItem(user_id="b", memory="m")] * 4)
        assert await store.user_histogram(2) == [HistogramBin(low=1, high=2, users=1),
                                                  HistogramBin(low=3, high=4, users=1)]
