"""Statistics of the redis store on what it did not write itself: documents the toolkit wrote (adopted with
their size), documents an earlier memdash wrote without sizes (measured on open), an edit that changes a
memory's size; and a statistic reads only the memories it lists."""

from __future__ import annotations

import json
import uuid

from memory_core.models import MemoryItem
from memory_core.providers.redis.access import Documents
from memory_core.providers.redis.store import RedisMemory
from memory_core.records import MemoryPatch
from memory_core.stats import SizedMemory
from tests.helpers.servers_redis import RedisServer, redis_server  # noqa: F401 - fixture


async def _open(server: RedisServer, prefix: str) -> RedisMemory:
    return await RedisMemory.open(port=server.port, key_prefix=prefix)


async def test_redis_stats_count_toolkit_documents_and_sizes_in_characters(redis_server: RedisServer) -> None:  # noqa: F811
    prefix = f"s{uuid.uuid4().hex[:8]}"
    store = await _open(redis_server, prefix)
    try:
        with redis_server.client() as client:  # as the toolkit's RedisEditor writes it: no memdash fields
            client.execute_command("JSON.SET", f"{prefix}:memory:0badc0de", "$", json.dumps(
                {"conversation": [{"role": "user", "content": "día"}], "user_id": "ana", "tags": ["viaje"],
                 "metadata": {}, "memory": "Ana va a Perú"}, ensure_ascii=False))
        await store.add_items([MemoryItem(user_id="bo", memory="short", tags=["viaje", "work"])])
        assert await store.largest(1) == [SizedMemory(id="0badc0de", user_id="ana", size=16, preview="Ana va a Perú")]
        assert [(t.tag, t.memories) for t in await store.top_tags()] == [("viaje", 2), ("work", 1)]
        assert sum(b.users for b in await store.user_histogram()) == 2
    finally:
        await store.aclose()


async def test_redis_documents_without_sizes_are_measured_on_open(redis_server: RedisServer) -> None:  # noqa: F811
    prefix = f"s{uuid.uuid4().hex[:8]}"
    store = await _open(redis_server, prefix)
    await store.add_items([MemoryItem(user_id="a", memory="x" * n) for n in (3, 9, 5)])
    await store.aclose()
    with redis_server.client() as client:  # as an earlier memdash wrote them
        for key in client.scan_iter(match=f"{prefix}:memory:*"):
            client.execute_command("JSON.DEL", key, "$.size")
    store = await _open(redis_server, prefix)
    try:
        assert [m.size for m in await store.largest(3)] == [9, 5, 3]
        biggest = (await store.largest(1))[0]
        record = await store.get_record(biggest.id)
        await store.update_record(biggest.id, MemoryPatch(memory="y"), expected_version=record.version)
        assert [m.size for m in await store.largest(3)] == [5, 3, 1]
    finally:
        await store.aclose()


async def test_redis_stats_read_only_the_memories_they_list(redis_server: RedisServer, monkeypatch) -> None:  # noqa: F811
    store = await _open(redis_server, f"s{uuid.uuid4().hex[:8]}")
    try:
        await store.add_items([MemoryItem(user_id=f"u{i % 7}", memory="m" * i, tags=[f"t{i % 3}"]) for i in range(200)])
        loaded: list[int] = []
        original = Documents.load

        async def counted(self, keys):
            loaded.append(len(keys))
            return await original(self, keys)

        monkeypatch.setattr(Documents, "load", counted)
        await store.user_histogram()
        await store.top_tags()
        await store.growth()
        assert loaded == []
        await store.largest(5)
        await store.never_retrieved(5)
        assert loaded == [5, 5]
    finally:
        await store.aclose()
