"""The detailed retrieval log (``retrieval_log: N``, memory_core.usage) on every memdash store (in_memory, sqlite,
postgres, redis; real servers): each memory keeps its last N retrievals by the agent's search, newest first, with
the rank it was returned at and a hash of the query (its text only when configured); an operator's search adds
nothing; the log goes with a deleted memory; by default there is none."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory_core.builder import MemoryBuilder
from memory_core.config import parse_config
from memory_core.errors import ConfigError
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter
from memory_core.usage import LogSettings, not_counted, query_hash
from tests.helpers.memdash_stores import KINDS, memdash_store

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


async def seeded(store) -> dict[str, str]:
    await store.add_items([MemoryItem(user_id="alice", memory="Alice drinks green tea"),
                           MemoryItem(user_id="alice", memory="Alice drinks tea with lemon"),
                           MemoryItem(user_id="alice", memory="Alice plays chess")])
    return {r.item.memory: r.id for r in (await store.list_records(MemoryFilter(user_id="alice"))).records}


async def test_the_log_keeps_each_memorys_last_retrievals_with_rank_and_query_hash(kind, request,
                                                                                     tmp_path: Path) -> None:
    async with memdash_store(kind, request, tmp_path, retrieval_log=LogSettings(keep=2)) as store:
        ids = await seeded(store)
        for query in ("green tea", "tea with lemon", "Green  TEA"):
            await store.search(query, top_k=2, user_id="alice")
        with not_counted():  # an operator previewing what the agent gets
            await store.search("chess", top_k=1, user_id="alice")
        green = await store.retrievals(ids["Alice drinks green tea"])
        assert [(r.rank, r.query_hash, r.query) for r in green] == [(1, query_hash("green tea"), None),
                                                                     (2, query_hash("tea with lemon"), None)]
        assert green[0].at >= green[1].at
        assert (await store.usage([ids["Alice drinks green tea"]]))[ids["Alice drinks green tea"]].retrievals == 3
        assert await store.retrievals(ids["Alice plays chess"]) == []
        await store.delete_records([ids["Alice drinks green tea"]])
        assert await store.retrievals(ids["Alice drinks green tea"]) == []  # gone with the memory


async def test_the_query_text_is_kept_only_when_configured(kind, request, tmp_path: Path) -> None:
    async with memdash_store(kind, request, tmp_path, retrieval_log=LogSettings(keep=5, queries=True)) as store:
        ids = await seeded(store)
        await store.search("chess openings", top_k=1, user_id="alice")
        [logged] = await store.retrievals(ids["Alice plays chess"])
        assert (logged.rank, logged.query) == (1, "chess openings")


async def test_without_the_setting_nothing_is_logged_but_counts(kind, request, tmp_path: Path) -> None:
    async with memdash_store(kind, request, tmp_path) as store:
        ids = await seeded(store)
        await store.search("chess", top_k=1, user_id="alice")
        assert await store.retrievals(ids["Alice plays chess"]) == []
        assert (await store.usage([ids["Alice plays chess"]]))[ids["Alice plays chess"]].retrievals == 1


async def test_the_log_is_configured_in_yaml_and_bounded(tmp_path: Path) -> None:
    config = parse_config(f"memory:\n  m:\n    _type: sqlite\n    path: {tmp_path}/m.db\n    retrieval_log: 3\n"
                          "    retrieval_log_queries: true\n")
    async with MemoryBuilder(config) as builder:
        store = await builder.get_memory_client("m")
        assert store.retrieval_log == LogSettings(keep=3, queries=True)
    with pytest.raises(ConfigError, match=r"field 'memory.m.retrieval_log': .*less than or equal to 1000"):
        parse_config(f"memory:\n  m:\n    _type: sqlite\n    path: {tmp_path}/m.db\n    retrieval_log: 100000\n")
