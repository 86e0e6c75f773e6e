"""Store statistics: a store declares them only by implementing the interface, and sqlite's come from SQL
aggregates without reading records (the agreement with the in_memory reference is tested for every store in
test_stats_stores)."""

from __future__ import annotations

from memory_core.interfaces import Capability, MemoryBrowser, capabilities_of
from memory_core.providers.sqlite import queries
from memory_core.providers.sqlite.store import SqliteMemory
from tests.memory_core.test_stats_stores import dataset


async def test_capability_dropped_for_stores_without_the_interface():
    class DeclaresEverything:
        capabilities = frozenset(Capability)

    MemoryBrowser.register(DeclaresEverything)
    assert Capability.STATS not in capabilities_of(DeclaresEverything())
    assert Capability.LIST in capabilities_of(DeclaresEverything())


async def test_computed_without_reading_records(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("statistics must not read whole records")

    async with await SqliteMemory.open(tmp_path / "s.sqlite3") as sqlite:
        await sqlite.add_records(dataset())
        for name in ("page", "get", "candidates"):
            monkeypatch.setattr(queries, name, refuse)
        await sqlite.user_histogram()
        await sqlite.top_tags()
        await sqlite.growth()
        await sqlite.largest()
        await sqlite.never_retrieved()
