"""Differential: the same random operations on in_memory (the reference) and each real store must give the same
observable results: the same records after every step (ids, items, timestamps, versions), the same counts and
listings under random filters, the same users, and the same kind of error for the same bad call; sqlite also the
same search hits (the server stores rank with their own tokenizers: PostgreSQL's text search configuration,
RediSearch). Hostile text (Unicode forms, emoji, CJK, surrogates, NUL) is part of the alphabet, so a store that
keeps what another refuses, or lists what another does not, fails here. PostgreSQL and Redis are real servers
started by the tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory_core.builder import MemoryBuilder
from memory_core.config import parse_config
from memory_core.errors import MemdashError
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.providers.sqlite import SqliteMemory
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord, Sort, SortField
from memory_core.transfer import iter_records, record_to_dict

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
USERS = ("ann", "bo", "Ünal")
WORDS = ("tea", "café", "cafe\u0301", "東京", "🚀", "Straße", "jazz", "\ud800", "nul\x00", "TEA", "<b>x</b>")
TAGS = ("diet", "travel", "東京", "🚀")
QUERIES = ("tea", "café", "cafe\u0301", "東京", "🚀", "jazz", "TEA", "strasse")

text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
item = st.builds(lambda user, memory, tags, n: MemoryItem(user_id=user, memory=memory, tags=tags,
                                                          metadata={"n": n, "topic": tags[0] if tags else None}),
                 st.sampled_from(USERS), text, st.lists(st.sampled_from(TAGS), max_size=2, unique=True),
                 st.integers(0, 3))
ids = st.sampled_from([f"m{i}" for i in range(6)])
operation = st.one_of(
    st.tuples(st.just("add_records"), st.lists(st.tuples(ids, item, st.integers(0, 50)), min_size=1, max_size=3)),
    st.tuples(st.just("update"), ids, text, st.lists(st.sampled_from(TAGS), max_size=2, unique=True)),
    st.tuples(st.just("delete"), st.lists(ids, max_size=3)),
    st.tuples(st.just("remove_user"), st.sampled_from(USERS)),
)
flt = st.builds(MemoryFilter, user_id=st.sampled_from((None, *USERS)),
                tags_any=st.lists(st.sampled_from(TAGS), max_size=2).map(tuple),
                text_contains=st.sampled_from((None, "tea", "café", "東京", "🚀", "TEA")),
                metadata=st.sampled_from(({}, {"n": 1}, {"topic": "diet"})))


async def apply(store: Any, op: tuple) -> str:
    """Run one operation; its outcome as a comparable string (``ok`` or the error's class)."""
    try:
        match op:
            case ("add_records", rows):
                await store.add_records([MemoryRecord(id=rid, item=it, created_at=T0 + dt.timedelta(minutes=m),
                                                      updated_at=T0 + dt.timedelta(minutes=m)) for rid, it, m in rows])
            case ("update", rid, memory, tags):
                current = await store.get_record(rid)
                await store.update_record(rid, MemoryPatch(memory=memory, tags=tags), expected_version=current.version)
            case ("delete", rids):
                await store.delete_records(rids)
            case ("remove_user", user):
                await store.remove_items(user_id=user)
    except MemdashError as exc:
        return type(exc).__name__
    return "ok"


async def observe(store: Any, filters: list[MemoryFilter], *, search: bool = True) -> dict[str, Any]:
    records = {r.id: _stable(record_to_dict(r)) async for r in iter_records(store, MemoryFilter())}
    users = [(u.user_id, u.memory_count) for u in (await store.list_users(limit=100)).users]
    counts = [await store.count_records(f) for f in filters]
    listed = [[r.id for r in (await store.list_records(f, sort=Sort(field=SortField.CREATED, descending=False),
                                                       limit=100)).records] for f in filters]
    seen = {"records": records, "users": users, "counts": counts, "listed": listed}
    if search:
        seen["found"] = {(query, user): sorted(hit.record.id for hit in await store.search_records(query, user_id=user,
                                                                                                  top_k=50))
                         for query in QUERIES for user in USERS}
    return seen


def _stable(state: dict[str, Any]) -> dict[str, Any]:
    """What both stores must agree on: everything but ``updated_at`` of an edit (each store's own clock)."""
    return {k: v for k, v in state.items() if k != "updated_at" or state["version"] == 1}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=1, max_size=8), filters=st.lists(flt, min_size=1, max_size=3))
def test_in_memory_and_sqlite_agree_on_every_observable_result(ops: list[tuple], filters: list[MemoryFilter]) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as folder:
            reference = InMemoryEditor()
            sqlite = await SqliteMemory.open(Path(folder) / "s.sqlite3")
            try:
                for step, op in enumerate(ops):
                    outcomes = (await apply(reference, op), await apply(sqlite, op))
                    assert outcomes[0] == outcomes[1], (step, op, outcomes)
                    seen = (await observe(reference, filters), await observe(sqlite, filters))
                    assert seen[0] == seen[1], (step, op)
            finally:
                await sqlite.aclose()

    asyncio.run(run())


def _server_config(kind: str, request: pytest.FixtureRequest) -> str:
    fresh = f"d{uuid.uuid4().hex[:10]}"
    if kind == "postgres":
        return yaml.safe_dump({"memory": {"s": {"_type": "postgres", "schema": fresh,
                                                 "dsn": request.getfixturevalue("pgvector_server")}}})
    port = request.getfixturevalue("redis_server").port
    return yaml.safe_dump({"memory": {"s": {"_type": "redis_memory", "port": port, "key_prefix": fresh}}})


@pytest.mark.parametrize("kind", ["postgres", "redis"])
def test_in_memory_and_the_server_stores_agree(kind: str, request: pytest.FixtureRequest) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(ops=st.lists(operation, min_size=1, max_size=6), filters=st.lists(flt, min_size=1, max_size=2))
    def check(ops: list[tuple], filters: list[MemoryFilter]) -> None:
        config = parse_config(_server_config(kind, request))  # a fresh schema or key prefix per example

        async def run() -> None:
            reference = InMemoryEditor()
            async with MemoryBuilder(config) as builder:
                server = await builder.get_memory_client("s")
                for step, op in enumerate(ops):
                    outcomes = (await apply(reference, op), await apply(server, op))
                    assert outcomes[0] == outcomes[1], (kind, step, op, outcomes)
                    seen = (await observe(reference, filters, search=False),
                            await observe(server, filters, search=False))
                    assert seen[0] == seen[1], (kind, step, op)

        asyncio.run(run())

    check()
