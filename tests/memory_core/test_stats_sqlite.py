"""Store statistics: sqlite's SQL aggregates agree with the in_memory reference; capabilities are truthful."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from memory_core.errors import InvalidInputError
from memory_core.interfaces import Capability, MemoryBrowser, capabilities_of
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.providers.sqlite import queries
from memory_core.providers.sqlite.store import SqliteMemory
from memory_core.records import MemoryRecord
from memory_core.stats import Bucket, HistogramBin

T0 = dt.datetime(2024, 3, 4, 12, tzinfo=dt.UTC)  # a Monday


def dataset(seed: int = 7, n: int = 300) -> list[MemoryRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        user = f"u{rng.randrange(25):02d}"
        text = "x" * rng.randrange(0, 300) if rng.random() > 0.05 else None
        keep_convo = text is None or rng.random() < 0.5
        convo = [{"role": "user", "content": "y" * rng.randrange(1, 50)}] if keep_convo else None
        tags = rng.sample(["diet", "travel", "work", "preference", "health"], rng.randrange(0, 3))
        when = T0 + dt.timedelta(hours=rng.randrange(0, 24 * 40))
        records.append(MemoryRecord(id=f"r{i:04d}", created_at=when, updated_at=when,
                                    item=MemoryItem(user_id=user, memory=text, conversation=convo, tags=tags)))
    return records


@pytest.fixture
async def stores(tmp_path):
    data = dataset()
    reference = InMemoryEditor()
    await reference.add_records(data)
    sqlite = await SqliteMemory.open(tmp_path / "s.sqlite3")
    await sqlite.add_records(data)
    yield reference, sqlite
    await sqlite.aclose()


async def test_capability_declared_by_implementing_the_interface(stores):
    reference, sqlite = stores
    assert Capability.STATS in capabilities_of(reference)
    assert Capability.STATS in capabilities_of(sqlite)


async def test_capability_dropped_for_stores_without_the_interface():
    class DeclaresEverything:
        capabilities = frozenset(Capability)

    MemoryBrowser.register(DeclaresEverything)
    assert Capability.STATS not in capabilities_of(DeclaresEverything())
    assert Capability.LIST in capabilities_of(DeclaresEverything())


@pytest.mark.parametrize("bins", [1, 3, 10, 50])
async def test_user_histogram_agrees(stores, bins):
    reference, sqlite = stores
    expected = await reference.user_histogram(bins)
    assert await sqlite.user_histogram(bins) == expected
    assert sum(b.users for b in expected) == 25
    assert len(expected) <= bins


async def test_top_tags_growth_and_largest_agree(stores):
    reference, sqlite = stores
    assert await sqlite.top_tags(3) == await reference.top_tags(3)
    for bucket in Bucket:
        assert await sqlite.growth(bucket) == await reference.growth(bucket)
    assert await sqlite.largest(7) == await reference.largest(7)


async def test_weeks_start_on_monday(stores):
    _, sqlite = stores
    weeks = await sqlite.growth(Bucket.WEEK)
    assert all(point.start.weekday() == 0 for point in weeks)
    assert weeks[0].start == T0.date()
    assert sum(p.created for p in weeks) == 300


async def test_histogram_bins_are_inclusive_and_contiguous(tmp_path):
    async with await SqliteMemory.open(tmp_path / "h.sqlite3") as store:
        assert await store.user_histogram() == []
        await store.add_items([MemoryItem(user_id="a", memory="m")] * 1 + [MemoryItem(user_id="b", memory="m")] * 4)
        assert await store.user_histogram(2) == [HistogramBin(low=1, high=2, users=1),
                                                  HistogramBin(low=3, high=4, users=1)]


async def test_computed_without_reading_records(stores, monkeypatch):
    _, sqlite = stores

    def refuse(*args, **kwargs):
        raise AssertionError("statistics must not read whole records")

    for name in ("page", "get", "candidates"):
        monkeypatch.setattr(queries, name, refuse)
    await sqlite.user_histogram()
    await sqlite.top_tags()
    await sqlite.growth()
    await sqlite.largest()


async def test_never_retrieved_agrees_with_the_reference_and_bad_arguments_are_refused(stores):
    reference, sqlite = stores
    assert Capability.RETRIEVALS in capabilities_of(sqlite) and Capability.RETRIEVALS in capabilities_of(reference)
    assert await sqlite.never_retrieved(5) == await reference.never_retrieved(5)
    with pytest.raises(InvalidInputError):
        await sqlite.top_tags(0)
    with pytest.raises(InvalidInputError):
        await sqlite.never_retrieved(0)
