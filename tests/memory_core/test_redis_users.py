"""Redis ``list_users`` from the users' sorted set: kept by every write (add, import over another user's id,
delete, remove a user, adoption of toolkit documents), built on open for a prefix written before it, and
exact when the toolkit deleted documents behind memdash's back."""

from __future__ import annotations

import json
import uuid

from memory_core.models import MemoryItem
from memory_core.providers.redis.store import RedisMemory
from memory_core.records import MemoryFilter, MemoryRecord, utcnow
from tests.helpers.servers_redis import RedisServer, redis_server  # noqa: F401 - fixture


async def _counts(store: RedisMemory, **kwargs) -> dict[str, int]:
    page = await store.list_users(**kwargs)
    return {u.user_id: u.memory_count for u in page.users}


async def _all_pages(store: RedisMemory, prefix: str = "", limit: int = 2) -> list[str]:
    seen, cursor = [], None
    while True:
        page = await store.list_users(prefix=prefix, limit=limit, cursor=cursor)
        seen += [u.user_id for u in page.users]
        if not (cursor := page.next_cursor):
            return seen


async def test_redis_users_follow_every_write(redis_server: RedisServer) -> None:  # noqa: F811
    prefix = f"u{uuid.uuid4().hex[:8]}"
    store = await RedisMemory.open(port=redis_server.port, key_prefix=prefix)
    try:
        await store.add_items([MemoryItem(user_id=u, memory="m") for u in ("ann", "bob", "bob", "Émile", "ann2",
                                                                              " padded ", "padded", "sep\x1fid")])
        with redis_server.client() as client:  # the toolkit adds one for a new user
            client.execute_command("JSON.SET", f"{prefix}:memory:0badc0de", "$", json.dumps(
                {"conversation": None, "user_id": "cy", "tags": [], "metadata": {}, "memory": "x"}))
        assert await _counts(store) == {" padded ": 1, "ann": 1, "ann2": 1, "bob": 2, "cy": 1, "padded": 1,
                                        "sep\x1fid": 1, "Émile": 1}
        assert await _all_pages(store) == [" padded ", "ann", "ann2", "bob", "cy", "padded", "sep\x1fid", "Émile"]
        assert await _all_pages(store, prefix="ann", limit=1) == ["ann", "ann2"]
        bob = (await store.list_records(MemoryFilter(user_id="bob"))).records
        now = utcnow()  # an import over bob's id moves that memory to ann
        await store.add_records([MemoryRecord(id=bob[0].id, item=MemoryItem(user_id="ann", memory="moved"),
                                              created_at=now, updated_at=now)])
        await store.delete_records([bob[1].id])
        await store.remove_items(user_id="cy")
        await store.remove_items(user_id=" padded ")
        assert await _counts(store) == {"ann": 2, "ann2": 1, "padded": 1, "sep\x1fid": 1, "Émile": 1}
        with redis_server.client() as client:
            assert client.zrange(f"{prefix}:memdash:users", 0, -1) == ["ann", "ann2", "padded", "sep\x1fid", "Émile"]
    finally:
        await store.aclose()


async def test_redis_users_built_on_open_and_exact_after_toolkit_deletes(redis_server: RedisServer) -> None:  # noqa: F811
    prefix = f"u{uuid.uuid4().hex[:8]}"
    store = await RedisMemory.open(port=redis_server.port, key_prefix=prefix)
    await store.add_items([MemoryItem(user_id=f"user-{i % 5}", memory=f"m{i}") for i in range(23)])
    await store.aclose()
    with redis_server.client() as client:  # as a memdash before the users' set left it
        client.delete(f"{prefix}:memdash:users", f"{prefix}:memdash:user_counts", f"{prefix}:memdash:users_built")
    store = await RedisMemory.open(port=redis_server.port, key_prefix=prefix)
    try:
        assert await _counts(store) == {"user-0": 5, "user-1": 5, "user-2": 5, "user-3": 4, "user-4": 4}
        gone = [r.id for r in (await store.list_records(MemoryFilter(user_id="user-1"))).records]
        with redis_server.client() as client:  # the toolkit's remove_items deletes keys directly
            client.delete(*[f"{prefix}:memory:{rid}" for rid in gone])
        assert await _all_pages(store, prefix="user-") == ["user-0", "user-2", "user-3", "user-4"]
        last = (await store.list_users(prefix="user-4")).users[0].last_activity
        newest = (await store.list_records(MemoryFilter(user_id="user-4"))).records[0].updated_at
        assert last == newest
    finally:
        await store.aclose()
