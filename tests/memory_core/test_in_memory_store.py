"""The conformance suite on ``in_memory``, built from YAML like any configured store.

A second run wraps the same store so that it offers only the toolkit's three methods: that is what a
plugin author with a plain ``MemoryEditor`` sees (browsing tests skip, naming the missing capability).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from memory_core.builder import MemoryBuilder
from memory_core.config import parse_config
from memory_core.interfaces import Capability, MemoryEditor
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.testing import MemoryStoreConformance


class ToolkitOnly(MemoryEditor):
    """Exposes only ``add_items``, ``search`` and ``remove_items`` of another editor."""

    def __init__(self, inner: MemoryEditor) -> None:
        self._inner = inner

    async def add_items(self, items: list[MemoryItem], **kwargs) -> None:
        await self._inner.add_items(items, **kwargs)

    async def search(self, query: str, top_k: int = 5, **kwargs) -> list[MemoryItem]:
        return await self._inner.search(query, top_k, **kwargs)

    async def remove_items(self, **kwargs) -> None:
        await self._inner.remove_items(**kwargs)


class TestInMemoryStore(MemoryStoreConformance):
    capabilities = frozenset({Capability.BROWSE_BY_USE, Capability.COUNT, Capability.DELETE_BY_IDS, Capability.EXPIRE,
        Capability.GET, Capability.IMPORT, Capability.LIST, Capability.LIST_ALL_USERS, Capability.LIST_USERS,
        Capability.PAUSE, Capability.PING, Capability.RETRIEVALS, Capability.SEARCH_RECORDS, Capability.STATS,
        Capability.TEXT_SEARCH, Capability.UPDATE})
    @pytest_asyncio.fixture
    async def editor(self) -> AsyncIterator[MemoryEditor]:
        async with MemoryBuilder(parse_config("memory:\n  m:\n    _type: in_memory\n")) as builder:
            yield await builder.get_memory_client("m")


class TestToolkitOnlyStore(MemoryStoreConformance):
    capabilities = frozenset()  # the toolkit's three methods only
    @pytest_asyncio.fixture
    async def editor(self) -> AsyncIterator[MemoryEditor]:
        async with MemoryBuilder(parse_config("memory:\n  m:\n    _type: in_memory\n")) as builder:
            yield ToolkitOnly(await builder.get_memory_client("m"))


def test_a_store_can_only_leave_out_tests_the_suite_has() -> None:
    """``not_applicable`` names suite tests a store does not get (with why); a typo is an error, not a no-op."""
    with pytest.raises(TypeError, match="names 'test_toolkit_no_such_test', which is no test of the suite"):
        type("TestTypo", (MemoryStoreConformance,), {"not_applicable": {"test_toolkit_no_such_test": "why"}})
    left_out = type("TestLeftOut", (MemoryStoreConformance,),
                    {"not_applicable": {"test_toolkit_large_memory": "a store that caps texts"}})
    assert left_out.test_toolkit_large_memory is None and callable(left_out.test_toolkit_top_k_is_respected)


async def test_search_finds_a_memory_by_its_tags() -> None:
    store = InMemoryEditor()
    await store.add_items([MemoryItem(user_id="alice", memory="Alice is vegetarian", tags=["diet", "preference"]),
                           MemoryItem(user_id="alice", memory="Alice climbs twice a week", tags=["hobby"])])
    assert [r.memory for r in await store.search("diet", top_k=5, user_id="alice")] == ["Alice is vegetarian"]
