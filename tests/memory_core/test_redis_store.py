"""The ``redis_memory`` store against a real Redis 8.2: the conformance suite, toolkit interop, faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memdash import cli
from memory_core.access import Actor, PermissionDenied, Role
from memory_core.audit import AuditQuery
from memory_core.audit.sqlite import SqliteAuditLog
from memory_core.audit.writer import AuditedWriter
from memory_core.builder import MemoryBuilder
from memory_core.config import parse_config
from memory_core.embedders.hashing import HashingEmbedder, HashingEmbedderConfig
from memory_core.errors import (
    ConfigError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
    UnsupportedError,
    VersionConflictError,
)
from memory_core.interfaces import Capability, capabilities_of
from memory_core.models import MemoryItem
from memory_core.providers.redis import RedisMemory
from memory_core.providers.redis.schema import KeySpace, toolkit_index_args
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord, Sort, SortField, utcnow
from memory_core.testing import MemoryStoreConformance
from tests.helpers.servers_redis import RedisServer, free_port, redis_server, redis_server_with_password  # noqa: F401

DIM = 64
# What the toolkit's redisvl schema sends (captured with MONITOR from nemo-agent-toolkit-redis 0.3.0), DIM 64.
TOOLKIT_CREATE = (
    "FT.CREATE memory_idx ON JSON PREFIX 1 nat:memory SCORE 1.0 SCHEMA $.user_id AS user_id TAG SEPARATOR , "
    "$.tags[*] AS tags TAG SEPARATOR , $.memory AS memory TEXT WEIGHT 1 $.embedding AS embedding VECTOR HNSW 16 "
    "TYPE FLOAT32 DIM 64 DISTANCE_METRIC L2 INITIAL_CAP 100 M 16 EF_CONSTRUCTION 200 EF_RUNTIME 10 EPSILON 0.01"
)
EMBEDDER = HashingEmbedder(HashingEmbedderConfig(dimension=DIM))
ODD_USERS = ["bob@example.com", "a-b", "-lead", "with space", "comma,user", "it's \"quoted\"", "back\\slash",
             "pipe|brace{}", "Émile", "用户", "🏷️ tag", "$param", "x*y?", "tab\tuser", "Mixed CASE"]


def _config(port: int, prefix: str, *, embedder: bool, password: str | None = None) -> str:
    lines = ["embedders:", f"  hash: {{_type: hashing, dimension: {DIM}}}", "memory:", "  r:",
             "    _type: redis_memory", f"    port: {port}", f"    key_prefix: {prefix}"]
    lines += ["    embedder: hash"] if embedder else []
    lines += [f"    password: {password}"] if password else []
    return "\n".join(lines) + "\n"


class TestRedisConformanceHybrid(MemoryStoreConformance):
    capabilities = frozenset({Capability.COUNT, Capability.DELETE_BY_IDS, Capability.EXPIRE, Capability.GET,
        Capability.IMPORT, Capability.LIST, Capability.LIST_ALL_USERS, Capability.LIST_USERS, Capability.PAUSE,
        Capability.PING, Capability.REACH, Capability.RETRIEVALS, Capability.SEARCH_RECORDS, Capability.STATS,
        Capability.TEXT_SEARCH, Capability.UPDATE, Capability.VECTOR_SEARCH})
    """With an embedder: full text and KNN fused."""

    finds_words_in_every_script = False  # RediSearch tokenizes the toolkit's $.memory field itself (docs/stores.md)

    @pytest.fixture
    async def editor(self, redis_server: RedisServer):  # noqa: F811
        async with MemoryBuilder(parse_config(_config(redis_server.port, "conf-hybrid", embedder=True))) as b:
            yield await b.get_memory_client("r")


class TestRedisConformanceText(MemoryStoreConformance):
    capabilities = frozenset({Capability.COUNT, Capability.DELETE_BY_IDS, Capability.EXPIRE, Capability.GET,
        Capability.IMPORT, Capability.LIST, Capability.LIST_ALL_USERS, Capability.LIST_USERS, Capability.PAUSE,
        Capability.PING, Capability.REACH, Capability.RETRIEVALS, Capability.SEARCH_RECORDS, Capability.STATS,
        Capability.TEXT_SEARCH, Capability.UPDATE})
    """Without an embedder: full text only."""

    finds_words_in_every_script = False  # RediSearch tokenizes the toolkit's $.memory field itself (docs/stores.md)

    @pytest.fixture
    async def editor(self, redis_server: RedisServer):  # noqa: F811
        async with MemoryBuilder(parse_config(_config(redis_server.port, "conf-text", embedder=False))) as b:
            yield await b.get_memory_client("r")


@pytest.fixture
def server(redis_server: RedisServer) -> RedisServer:  # noqa: F811
    """The session server, emptied: these tests own the default ``nat`` prefix and ``memory_idx``."""
    with redis_server.client() as client:
        for name in client.execute_command("FT._LIST"):
            if name == "memory_idx" or name.endswith(":nat") or name.endswith(":other"):
                client.execute_command("FT.DROPINDEX", name)
        for pattern in ("nat:*", "other:*"):
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
    return redis_server


def _toolkit_add(client, item: MemoryItem) -> str:
    """``RedisEditor.add_items`` for one item, as the toolkit does it (no memdash fields)."""
    key = f"nat:memory:{secrets.token_hex(4)}"
    doc = {"conversation": item.conversation, "user_id": item.user_id, "tags": item.tags,
           "metadata": item.metadata, "memory": item.memory or ""}
    if item.memory:
        doc["embedding"] = [float(x) for x in EMBEDDER.embed_sync([item.memory])[0]]
    client.execute_command("JSON.SET", key, "$", json.dumps(doc))
    return key


def _toolkit_search(client, query: str, user_id: str, top_k: int) -> list[tuple[MemoryItem, float]]:
    """``RedisEditor.search``: its KNN query shape, then ``JSON.GET key .`` and ``_create_memory_item``."""
    vector = EMBEDDER.embed_sync([query])[0].astype(np.float32).tobytes()
    reply = client.execute_command(
        "FT.SEARCH", "memory_idx", f"@user_id:{{{user_id}}}=>[KNN {top_k} @embedding $vector AS vector_distance]",
        "RETURN", 4, "user_id", "memory", "tags", "vector_distance", "SORTBY", "vector_distance", "ASC",
        "DIALECT", 2, "LIMIT", 0, top_k, "PARAMS", 2, "vector", vector)
    found = []
    for hit in reply["results"]:
        data = json.loads(client.execute_command("JSON.GET", hit["id"], "."))
        item = MemoryItem(conversation=data.get("conversation", []), user_id=user_id, memory=data.get("memory", ""),
                          tags=data.get("tags", []), metadata=data.get("metadata", {}))
        found.append((item, float(hit["extra_attributes"]["vector_distance"])))
    return found


async def _open(server: RedisServer, prefix: str = "nat", embedder: HashingEmbedder | None = EMBEDDER,
                **kwargs) -> RedisMemory:
    return await RedisMemory.open(port=server.port, key_prefix=prefix, embedder=embedder, **kwargs)


def test_toolkit_index_is_created_as_the_toolkit_creates_it() -> None:
    assert " ".join(map(str, ["FT.CREATE", *toolkit_index_args("memory_idx", KeySpace("nat"), DIM)])) == \
        TOOLKIT_CREATE


async def test_toolkit_written_memories_are_browsed_searched_edited_deleted(server: RedisServer) -> None:
    with server.client() as client:
        client.execute_command(*TOOLKIT_CREATE.split(" "))
        tea = _toolkit_add(client, MemoryItem(user_id="alice", memory="Alice drinks green tea", tags=["drink"],
                                              metadata={"k": 1}))
        chat = _toolkit_add(client, MemoryItem(user_id="alice", conversation=[
            {"role": "user", "content": "I moved to Reykjavik"}]))
        _toolkit_add(client, MemoryItem(user_id="bob", memory="Bob drinks green tea"))
    store = await _open(server)
    try:
        assert store.vector_index == "memory_idx"
        page = await store.list_records(MemoryFilter(user_id="alice"))
        assert sorted(r.id for r in page.records) == sorted(k.split(":")[-1] for k in (tea, chat))
        assert all(r.version == 1 for r in page.records)
        with server.client() as client:  # adopted: memdash's fields added, the toolkit's left as they were
            doc = json.loads(client.execute_command("JSON.GET", tea, "$"))[0]
        assert {k: doc[k] for k in ("conversation", "user_id", "tags", "metadata", "memory")} == {
            "conversation": None, "user_id": "alice", "tags": ["drink"], "metadata": {"k": 1},
            "memory": "Alice drinks green tea"}
        assert doc["created_at"] == doc["updated_at"] and doc["version"] == 1 and len(doc["embedding"]) == DIM
        hit = (await store.search("green tea", user_id="alice"))[0]
        assert (hit.memory, hit.tags, hit.metadata) == ("Alice drinks green tea", ["drink"], {"k": 1})
        # the toolkit stored no embedding for the conversation-only item: full text still finds it
        assert [i.conversation for i in await store.search("Reykjavik", user_id="alice")] == [
            [{"role": "user", "content": "I moved to Reykjavik"}]]
        record = await store.get_record(tea.split(":")[-1])
        edited = await store.update_record(record.id, MemoryPatch(memory="Alice drinks black tea"),
                                           expected_version=1)
        assert edited.version == 2
        with server.client() as client:
            assert [i.memory for i, _ in _toolkit_search(client, "black tea", "alice", 1)] == ["Alice drinks black tea"]
        assert await store.delete_records([record.id]) == 1
        assert await store.count_records(MemoryFilter(user_id="alice")) == 1
    finally:
        await store.aclose()


async def test_redis_two_saves_of_one_version_in_the_same_microsecond_one_wins_one_conflicts(
        server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two dashboard processes saving version 1 at the same microsecond write the same updated_at: the second save
    must be a conflict, not taken for a retry of its own call (it was, and its text was lost while it reported
    success: two winners in one round of test_state_postgres_processes)."""
    one, two = await _open(server), await _open(server)
    try:
        await one.add_items([MemoryItem(user_id="alice", memory="Alice drinks green tea")])
        record = (await one.list_records(MemoryFilter(user_id="alice"))).records[0]
        frozen = utcnow()
        monkeypatch.setattr("memory_core.providers.redis.store.utcnow", lambda: frozen)
        outcomes = await asyncio.gather(  # both read version 1 before either writes
            *(store.update_record(record.id, MemoryPatch(memory=f"from process {n}"), expected_version=1)
              for n, store in ((1, one), (2, two))), return_exceptions=True)
        saved = [o for o in outcomes if isinstance(o, MemoryRecord)]
        conflicts = [o for o in outcomes if isinstance(o, VersionConflictError)]
        assert len(saved) == len(conflicts) == 1
        assert conflicts[0].current == saved[0] == await one.get_record(record.id)
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_text_edit_that_would_hide_a_memory_from_the_agent_is_refused(server: RedisServer) -> None:
    """Opened without the agent's embedder, a new text would be saved without a vector and the toolkit's KNN
    search (memory_idx) would never find the memory again: refused, nothing written; tags still editable."""
    with server.client() as client:
        client.execute_command(*TOOLKIT_CREATE.split(" "))
        key = _toolkit_add(client, MemoryItem(user_id="alice", memory="Alice drinks green tea", tags=["drink"]))
    store = await _open(server, embedder=None)
    try:
        record = await store.get_record(key.split(":")[-1])
        with pytest.raises(InvalidInputError, match=f"memory {record.id} has a {DIM}-dimensional vector from the "
                                                    "agent's embedder, and this store has no embedder configured"):
            await store.update_record(record.id, MemoryPatch(memory="Alice drinks black tea"), expected_version=1)
        assert await store.get_record(record.id) == record
        tagged = await store.update_record(record.id, MemoryPatch(tags=["drink", "checked"]), expected_version=1)
        with server.client() as client:
            assert [i.tags for i, _ in _toolkit_search(client, "green tea", "alice", 1)] == [["drink", "checked"]]
        assert tagged.version == 2
    finally:
        await store.aclose()


async def test_reach_counts_what_the_agent_cannot_find_and_vectors_repair_it(server: RedisServer,
                                                                            tmp_path) -> None:
    """The toolkit's auto-memory writes conversation-only items without a vector, and memdash opened without the
    agent's embedder adds memories without one: the toolkit's KNN never returns them. Reach says so per memory
    and per store; with the embedder, an admin gives them vectors (audited, text and version unchanged) and the
    toolkit's own search finds them."""
    chat = MemoryItem(user_id="alice", conversation=[{"role": "user", "content": "I moved to Lisbon last spring"}])
    with server.client() as client:
        client.execute_command(*TOOLKIT_CREATE.split(" "))
        _toolkit_add(client, MemoryItem(user_id="alice", memory="Alice drinks green tea"))
        chat_id = _toolkit_add(client, chat).split(":")[-1]
    bare = await _open(server, embedder=None)
    try:
        await bare.add_items([MemoryItem(user_id="alice", memory="Alice plays the cello")])
        reach = await bare.reach()
        assert (reach.total, reach.unfindable, reach.repairable) == (3, 2, False)
        assert reach.reasons == {"no vector": 2} and chat_id in {e.record_id for e in reach.examples}
        assert await bare.unfindable_reason(chat_id) == "no vector: the agent's search (KNN on memory_idx) never " \
                                                        "returns it"
        with pytest.raises(UnsupportedError, match="no embedder to compute the agent's vectors"):
            await bare.give_vectors([chat_id])
    finally:
        await bare.aclose()

    store = await _open(server)
    log = SqliteAuditLog(tmp_path / "audit.sqlite3")
    try:
        before = {r.id: r for r in await _list(store)}
        writer = AuditedWriter(store, log, Actor("ops", Role.ADMIN), "r")
        given = await writer.add_vectors(list(before))
        assert len(given) == 2 and chat_id in given
        assert {r.id: r for r in await _list(store)} == before  # text, tags, versions and times untouched
        assert (await store.reach()).unfindable == 0 and await store.unfindable_reason(chat_id) is None
        assert sorted(e.memory_id for e in log.entries(AuditQuery(operation="vector"))) == sorted(given)
        with server.client() as client:
            found = _toolkit_search(client, "I moved to Lisbon last spring", "alice", 3)
        assert chat.conversation in [i.conversation for i, _ in found]
        with pytest.raises(PermissionDenied):
            await AuditedWriter(store, log, Actor("vi", Role.VIEWER), "r").add_vectors(given)
    finally:
        log.close()
        await store.aclose()


def test_memdash_stores_says_what_the_agent_cannot_find(server: RedisServer, tmp_path, capsys) -> None:
    with server.client() as client:
        client.execute_command(*TOOLKIT_CREATE.split(" "))
        _toolkit_add(client, MemoryItem(user_id="alice", memory="Alice drinks green tea"))
        _toolkit_add(client, MemoryItem(user_id="alice", conversation=[{"role": "user", "content": "hi"}]))
    config = tmp_path / "memdash.yml"
    config.write_text(f"memory:\n  r: {{_type: redis_memory, port: {server.port}}}\n")
    assert cli.main(["stores", "--config", str(config)]) == 0
    assert ("  agent's search: cannot find 1 of 2 memories (no vector: 1) (configure the agent's embedder to "
            "repair)") in capsys.readouterr().out.splitlines()


async def _list(store: RedisMemory) -> list[MemoryRecord]:
    return (await store.list_records(MemoryFilter(), limit=100)).records


async def test_memdash_memories_answer_the_toolkits_query(server: RedisServer) -> None:
    store = await _open(server)
    item = MemoryItem(user_id="alice", memory="Alice keeps bees in the garden", tags=["hobby"], metadata={"n": 2},
                      conversation=[{"role": "user", "content": "I keep bees"}])
    try:
        await store.add_items([item, MemoryItem(user_id="bob", memory="Bob keeps bees too")])
        with server.client() as client:
            keys = list(client.scan_iter(match="nat:memory:*"))
            doc = json.loads(client.execute_command("JSON.GET", keys[0], "$"))[0]
            found = _toolkit_search(client, "bees in the garden", "alice", 3)
        assert len(keys) == 2 and all(len(k.split(":")[-1]) == 8 for k in keys)
        assert set(doc) == {"conversation", "user_id", "tags", "metadata", "memory", "embedding", "created_at",
                            "updated_at", "version", "seq", "user_key", "size"}
        assert [i for i, _ in found] == [item]
        # memdash's score for the same hit is the cosine: 1 - squared L2 / 2
        hit = (await store.search_records("bees in the garden", user_id="alice"))[0]
        cosine = float(EMBEDDER.embed_sync(["bees in the garden"])[0] @ EMBEDDER.embed_sync([item.memory])[0])
        assert 1 - found[0][1] / 2 == pytest.approx(cosine, abs=1e-5)
        assert hit.record.item == item
    finally:
        await store.aclose()


async def test_remove_items_by_user_removes_only_that_user(server: RedisServer) -> None:
    with server.client() as client:
        client.execute_command(*TOOLKIT_CREATE.split(" "))
        for user in ("alice", "Alice", "alice2", "bob"):
            _toolkit_add(client, MemoryItem(user_id=user, memory=f"{user} written by the toolkit"))
    store = await _open(server)
    try:
        await store.add_items([MemoryItem(user_id=u, memory=f"{u} by memdash") for u in ("alice", "Alice", "bob")])
        await store.remove_items(user_id="alice")
        users = {u.user_id: u.memory_count for u in (await store.list_users()).users}
        assert users == {"Alice": 2, "alice2": 1, "bob": 2}
    finally:
        await store.aclose()


@pytest.mark.parametrize("embedder", [EMBEDDER, None], ids=["hybrid", "text"])
async def test_odd_user_ids_and_tags_work_everywhere(server: RedisServer, embedder: HashingEmbedder | None) -> None:
    store = await _open(server, "other", embedder)
    try:
        for user in ODD_USERS:
            await store.add_items([MemoryItem(user_id=user, memory="walrus sighting at noon", tags=[user]),
                                   MemoryItem(user_id=user, memory="second memory", tags=["t"])])
        for user in ODD_USERS:
            assert [i.user_id for i in await store.search("walrus sighting", user_id=user)] == [user], user
            flt = MemoryFilter(user_id=user, tags_any=(user,))
            assert [r.item.tags for r in (await store.list_records(flt)).records] == [[user]], user
            assert await store.count_records(MemoryFilter(user_id=user)) == 2, user
            assert [u.user_id for u in (await store.list_users(prefix=user)).users][:1] == [user], user
        everyone = []
        cursor = None
        while True:
            page = await store.list_users(limit=4, cursor=cursor)
            everyone += [u.user_id for u in page.users]
            if not (cursor := page.next_cursor):
                break
        assert everyone == sorted(ODD_USERS)
        for user in ODD_USERS:
            await store.remove_items(user_id=user)
            assert await store.count_records(MemoryFilter(user_id=user)) == 0, user
    finally:
        await store.aclose()


async def test_keyset_paging_over_equal_timestamps(server: RedisServer) -> None:
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    records = [MemoryRecord(id=f"r{i:03d}", item=MemoryItem(user_id="pager", memory=f"row {i}"), created_at=when,
                            updated_at=when + dt.timedelta(seconds=i % 3)) for i in range(300)]
    store = await _open(server, "other", None)
    try:
        await store.add_records(records)
        for flt, sort in ((MemoryFilter(user_id="pager"), Sort()), (MemoryFilter(), Sort()),
                          (MemoryFilter(user_id="pager"), Sort(field=SortField.CREATED, descending=False)),
                          (MemoryFilter(metadata={}, text_contains="row"), Sort(descending=False))):
            seen, cursor = [], None
            while True:
                page = await store.list_records(flt, sort=sort, limit=23, cursor=cursor)
                seen += [r for r in page.records if r.user_id == "pager"]
                if not (cursor := page.next_cursor):
                    break
            assert sorted(r.id for r in seen) == sorted(r.id for r in records)
            keys = [getattr(r, sort.field.value) for r in seen]
            assert keys == sorted(keys, reverse=sort.descending)
    finally:
        await store.aclose()


async def test_invalid_documents_are_skipped_and_listed(server: RedisServer) -> None:
    store = await _open(server)
    try:
        await store.add_items([MemoryItem(user_id="alice", memory="a valid memory")])
        with server.client() as client:
            client.set("nat:memory:plain", "not json")
            client.execute_command("JSON.SET", "nat:memory:notags", "$", '{"user_id": "alice", "tags": "x"}')
            client.execute_command("JSON.SET", "nat:memory:array", "$", "[1, 2]")
            client.execute_command("JSON.SET", "nat:memory:nouser", "$", '{"memory": "who am I"}')
        page = await store.list_records(MemoryFilter())
        assert [r.item.memory for r in page.records] == ["a valid memory"]
        assert set(store.invalid_seen) == {"nat:memory:notags"}  # the others have no user: never listed
        invalid = {k.id: k.reason for k in await store.invalid_keys()}
        assert set(invalid) == {"plain", "notags", "array", "nouser"}
        assert "string" in invalid["plain"] and "tags" in invalid["notags"]
        with pytest.raises(NotFoundError, match="not a valid memory document"):
            await store.get_record("notags")
        assert await store.delete_records(["plain", "notags", "array", "nouser"]) == 4
    finally:
        await store.aclose()


async def test_threshold_keeps_scores_at_or_above_it(server: RedisServer) -> None:
    store = await _open(server, "other")
    try:
        await store.add_items([MemoryItem(user_id="t", memory=m) for m in (
            "the red fox jumps", "a red car", "blue whales sing", "fox news at nine")])
        hits = await store.search_records("red fox", user_id="t", top_k=10)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
        assert {"vector"} <= set(hits[0].parts)
        for threshold in scores:
            kept = await store.search("red fox", user_id="t", top_k=10, similarity_threshold=threshold)
            assert [i.similarity_score for i in kept] == [s for s in scores if s >= threshold]
        assert await store.search("red fox", user_id="t", similarity_threshold=1.01) == []
    finally:
        await store.aclose()


async def test_a_tag_is_a_word_keyword_search_finds(server: RedisServer) -> None:
    store = await _open(server, "other", embedder=None)  # keyword search only: the tag must be indexed as text
    try:
        await store.add_items([MemoryItem(user_id="t", memory="Alice is vegetarian", tags=["diet"]),
                               MemoryItem(user_id="t", memory="Alice plays chess", tags=["hobby"])])
        assert [i.memory for i in await store.search("diet", user_id="t", top_k=5)] == ["Alice is vegetarian"]
    finally:
        await store.aclose()


async def test_id_collisions_never_overwrite(server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    store = await _open(server, "other", None)
    try:
        await store.add_records([MemoryRecord(id="deadbeef", item=MemoryItem(user_id="c", memory="first"),
                                              created_at=dt.datetime.now(dt.UTC), updated_at=dt.datetime.now(dt.UTC))])
        draws = iter(["deadbeef", "0000aaaa", "0000bbbb"])
        monkeypatch.setattr(secrets, "token_hex", lambda n: next(draws))
        await store.add_items([MemoryItem(user_id="c", memory="second"), MemoryItem(user_id="c", memory="third")])
        records = {r.id: r.item.memory for r in (await store.list_records(MemoryFilter(user_id="c"))).records}
        assert records == {"deadbeef": "first", "0000aaaa": "third", "0000bbbb": "second"}
    finally:
        await store.aclose()


async def test_embedder_dimension_must_match_the_index(server: RedisServer) -> None:
    with server.client() as client:
        client.execute_command(*TOOLKIT_CREATE.split(" "))
    with pytest.raises(ConfigError, match="64-dimensional"):
        await _open(server, embedder=HashingEmbedder(HashingEmbedderConfig(dimension=32)))


async def test_other_prefix_gets_its_own_toolkit_shaped_index(server: RedisServer) -> None:
    with server.client() as client:
        client.execute_command(*TOOLKIT_CREATE.split(" "))
    store = await _open(server, "other")
    try:
        assert store.vector_index == "memory_idx:other"
        await store.add_items([MemoryItem(user_id="o", memory="only in other")])
        with server.client() as client:
            assert client.execute_command("FT.SEARCH", "memory_idx", "*", "LIMIT", 0, 0)["total_results"] == 0
    finally:
        await store.aclose()


async def test_wrong_or_missing_password_is_reported_without_echoing_it(
        redis_server_with_password: RedisServer) -> None:  # noqa: F811
    server = redis_server_with_password
    with pytest.raises(StoreUnavailableError, match="rejected the password") as wrong:
        await RedisMemory.open(port=server.port, password="hunter2-guess")
    assert "hunter2-guess" not in str(wrong.value)
    with pytest.raises(StoreUnavailableError, match="needs a password"):
        await RedisMemory.open(port=server.port)
    config = parse_config(_config(server.port, "auth", embedder=False, password=server.password))
    async with MemoryBuilder(config) as builder:
        await (await builder.get_memory_client("r")).ping()


async def test_server_down_makes_only_that_store_unavailable() -> None:
    port = free_port()
    config = parse_config(_config(port, "nat", embedder=False) + "  mem:\n    _type: in_memory\n")
    async with MemoryBuilder(config) as builder:
        with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}|localhost:{port}"):
            await builder.get_memory_client("r")
        await (await builder.get_memory_client("mem")).add_items([MemoryItem(user_id="u", memory="fine")])


async def test_lost_connection_is_retried_once_then_reported(tmp_path) -> None:
    server = RedisServer(tmp_path).start()
    try:
        store = await _open(server, "nat", None)
        await store.add_items([MemoryItem(user_id="u", memory="before the drop")])
        with server.client() as admin:
            assert admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes") >= 1
        assert [i.memory for i in await store.search("drop", user_id="u")] == ["before the drop"]
        server.stop()
        with pytest.raises(StoreUnavailableError, match="retried once"):
            await store.add_items([MemoryItem(user_id="u", memory="after the server went away")])
        await store.aclose()
    finally:
        server.stop()


async def test_bad_input_is_refused(server: RedisServer) -> None:
    store = await _open(server, "other", None)
    try:
        with pytest.raises(InvalidInputError):
            await store.add_items([MemoryItem(user_id="u", memory="lone \ud800 surrogate")])
        with pytest.raises(InvalidInputError):
            await store.list_records(MemoryFilter(), cursor="bm90IGEgY3Vyc29y")
        with pytest.raises(InvalidInputError):
            await store.delete_records("abc")
        assert (await store.list_records(MemoryFilter(user_id="  "))).records == []
        with pytest.raises(NotFoundError):
            await store.get_record(uuid.uuid4().hex)
    finally:
        await store.aclose()


async def test_link_retries_exactly_once() -> None:
    from redis import exceptions as rx

    from memory_core.providers.redis.connection import Link

    calls = []

    async def flaky(client: object) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise rx.ConnectionError("Connection reset by peer")
        return "ok"

    async def down(client: object) -> str:
        calls.append(1)
        raise rx.ConnectionError("Connection refused")

    link = Link(client=None, where="h:1/0", password=None)  # type: ignore[arg-type]
    assert await link.run(flaky) == "ok" and len(calls) == 2
    calls.clear()
    with pytest.raises(StoreUnavailableError, match=r"Connection refused.*retried once"):
        await link.run(down)
    assert len(calls) == 2


async def test_stores_opened_at_once_share_the_new_indexes(redis_server: RedisServer) -> None:  # noqa: F811
    prefix = f"race-{uuid.uuid4().hex[:8]}"
    stores = await asyncio.gather(*(_open(redis_server, prefix) for _ in range(4)))
    try:
        assert {s.vector_index for s in stores} == {f"memory_idx:{prefix}"}
        await stores[0].add_items([MemoryItem(user_id="u", memory="seen by all")])
        assert [len((await s.list_records(MemoryFilter())).records) for s in stores] == [1, 1, 1, 1]
    finally:
        for store in stores:
            await store.aclose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user=st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=1,
                   max_size=10).filter(str.strip),
       tag=st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=8))
async def test_any_user_id_and_tag_round_trip(redis_server: RedisServer, user: str, tag: str) -> None:  # noqa: F811
    store = await _open(redis_server, "prop", None)
    try:
        other = user + "x"
        for stale in (user, other):  # left by an earlier, failed example
            await store.remove_items(user_id=stale)
        await store.add_items([MemoryItem(user_id=user, memory="quince jam", tags=[tag]),
                               MemoryItem(user_id=other, memory="quince jam", tags=[tag])])
        assert [r.user_id for r in (await store.list_records(MemoryFilter(user_id=user, tags_all=(tag,)))).records] \
            == [user]
        assert await store.count_records(MemoryFilter(user_id=user, tags_any=(tag,))) == 1
        assert [i.user_id for i in await store.search("quince jam", user_id=user)] == [user]
        assert user in [u.user_id for u in (await store.list_users(prefix=user)).users]
        await store.remove_items(user_id=user)
        assert await store.count_records(MemoryFilter(user_id=user)) == 0
        assert await store.count_records(MemoryFilter(user_id=other)) == 1
        await store.remove_items(user_id=other)
    finally:
        await store.aclose()


async def test_retrieval_counts_in_redis_follow_the_agents_searches(server: RedisServer) -> None:
    store = await _open(server, "other", embedder=None)
    try:
        assert Capability.RETRIEVALS in capabilities_of(store)
        await store.add_items([MemoryItem(user_id="t", memory="Alice drinks green tea"),
                               MemoryItem(user_id="t", memory="Alice plays chess")])
        ids = {r.item.memory: r.id for r in (await store.list_records(MemoryFilter(user_id="t"))).records}
        tea, chess = ids["Alice drinks green tea"], ids["Alice plays chess"]
        await store.search("green tea", top_k=1, user_id="t")
        await store.search("green tea", top_k=1, user_id="t")
        await store.search_records("chess", user_id="t")  # an operator's search: not counted
        used = await store.usage([tea, chess])
        assert list(used) == [tea] and used[tea].retrievals == 2
        assert [(m.id, m.retrievals) for m in await store.most_used(3)] == [(tea, 2)]
    finally:
        await store.aclose()
    store = await _open(server, "other", embedder=None)  # kept across connections
    try:
        await store.get_record(tea)  # an operator's read: not counted
        assert (await store.usage([tea]))[tea].retrievals == 2
        await store.delete_records([tea])
        assert await store.usage([tea]) == {} and await store.most_used(3) == []
    finally:
        await store.aclose()
    untracked = await _open(server, "other", embedder=None, track_retrievals=False)
    try:
        assert Capability.RETRIEVALS not in capabilities_of(untracked)
    finally:
        await untracked.aclose()
