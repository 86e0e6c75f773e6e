"""The ``mem0_memory`` store against a local Mem0 (``tests/helpers/fake_mem0.py``): conformance, faults, toolkit
semantics."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import pytest_asyncio

from memory_core import life
from memory_core.builder import MemoryBuilder
from memory_core.config import parse_config
from memory_core.errors import (
    ConfigError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
    UnsupportedError,
    VersionConflictError,
)
from memory_core.interfaces import BROWSE_ALL, Capability, capabilities_of
from memory_core.models import MemoryItem
from memory_core.providers.mem0 import Mem0Memory, codec, store
from memory_core.records import MemoryFilter, MemoryPatch, Sort, SortField
from memory_core.testing import MemoryStoreConformance
from memory_core.transfer import expired_ids
from tests.helpers.fake_mem0 import FakeMem0

KEY = "m0-test-key"
FAST = {"retry_backoff": 0.01, "max_retry_wait": 0.5, "timeout": 5}
ADD, SEARCH, LIST = r"/v3/memories/add/", r"/v3/memories/search/", r"/v3/memories/"


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeMem0]:
    with FakeMem0(KEY) as server:
        yield server


@pytest.fixture
def mem0() -> Iterator[FakeMem0]:
    with FakeMem0(KEY) as server:
        yield server


def _yaml(server_url: str, **fields: Any) -> str:
    settings = {"host": server_url, "api_key": KEY, **FAST, **fields}
    lines = [f"    {k}: {v}" for k, v in settings.items() if v is not None]
    return "memory:\n  m:\n    _type: mem0_memory\n" + "\n".join(lines) + "\n"


@asynccontextmanager
async def opened(server_url: str, **fields: Any) -> AsyncIterator[Mem0Memory]:
    async with MemoryBuilder(parse_config(_yaml(server_url, **fields))) as builder:
        yield await builder.get_memory_client("m")


def _raw(server: FakeMem0) -> httpx.Client:
    """Another Mem0 client (as the toolkit or Mem0's dashboard would write)."""
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Token {KEY}"})


class TestMem0Conformance(MemoryStoreConformance):
    capabilities = frozenset({Capability.COUNT, Capability.DELETE_BY_IDS, Capability.EXPIRE, Capability.GET,
        Capability.LIST, Capability.LIST_ALL_USERS, Capability.LIST_USERS, Capability.PING, Capability.SEARCH_RECORDS,
        Capability.TEXT_SEARCH, Capability.UPDATE, Capability.VECTOR_SEARCH})
    finds_words_in_every_script = False  # the service analyses text its own way

    @pytest_asyncio.fixture
    async def editor(self, shared: FakeMem0) -> AsyncIterator[Mem0Memory]:
        async with opened(shared.url) as built:
            yield built


# --- building ---------------------------------------------------------------------------------------------


async def test_builds_from_type_with_token_auth_and_truthful_capabilities(mem0: FakeMem0) -> None:
    async with opened(mem0.url) as built:
        assert isinstance(built, Mem0Memory)
        assert built.capabilities == BROWSE_ALL - {Capability.IMPORT}
        with pytest.raises(UnsupportedError, match="losslessly"):
            await built.add_records([])
    ping = mem0.calls_to("GET", "/v1/ping/")[0]
    assert ping.headers["authorization"] == f"Token {KEY}"
    assert ping.headers["mem0-user-id"] == hashlib.md5(KEY.encode()).hexdigest()


async def test_api_key_comes_from_the_environment(mem0: FakeMem0, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEM0_API_KEY", KEY)
    config = parse_config(f"memory:\n  m:\n    _type: mem0_memory\n    host: {mem0.url}\n")
    async with MemoryBuilder(config) as builder:
        await builder.get_memory_client("m")


async def test_missing_api_key_is_a_config_error(mem0: FakeMem0, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEM0_API_KEY", raising=False)
    config = parse_config(f"memory:\n  m:\n    _type: mem0_memory\n    host: {mem0.url}\n")
    async with MemoryBuilder(config) as builder:
        with pytest.raises(ConfigError, match="MEM0_API_KEY"):
            await builder.get_memory_client("m")
    assert mem0.calls == []


def test_org_id_needs_project_id() -> None:
    with pytest.raises(ConfigError, match="org_id and project_id"):
        parse_config("memory:\n  m:\n    _type: mem0_memory\n    org_id: o1\n")


async def test_org_and_project_are_sent_with_every_request(mem0: FakeMem0) -> None:
    async with opened(mem0.url, org_id="o1", project_id="p1") as built:
        await built.add_items([MemoryItem(user_id="u", memory="Scoped to a project")])
        await built.remove_items(user_id="u")
    assert all((c.query.get("org_id"), c.query.get("project_id")) == ("o1", "p1") for c in mem0.calls)


async def test_rejected_key_fails_the_build_without_echoing_it(mem0: FakeMem0) -> None:
    secret = "m0-wrong-secret-123"
    with pytest.raises(StoreUnavailableError) as failure:
        async with opened(mem0.url, api_key=secret):
            pass
    message = str(failure.value)
    assert "API key was rejected (HTTP 401)" in message and mem0.url in message and "ping" in message
    assert secret not in message and secret not in repr(failure.value)


async def test_unreachable_host_fails_the_build(mem0: FakeMem0) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    unreachable = rf"127.0.0.1:{port}: ping failed: host unreachable \(ConnectError: .*\) after 2 attempts"
    with pytest.raises(StoreUnavailableError, match=unreachable):
        async with opened(f"http://127.0.0.1:{port}", num_retries=1):
            pass


# --- faults -------------------------------------------------------------------------------------------------


async def test_429_is_retried_honouring_retry_after(mem0: FakeMem0) -> None:
    async with opened(mem0.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory="Tea at five")])
        mem0.fail(429, retry_after="0.3", times=2, path=SEARCH)
        start = time.monotonic()
        found = await built.search("tea", user_id="u")
        assert [i.memory for i in found] == ["Tea at five"]
        assert time.monotonic() - start >= 0.6, "Retry-After was not honoured (backoff alone is 0.01 s)"
        assert len(mem0.calls_to("POST", SEARCH)) == 3


async def test_retry_after_is_bounded_by_max_retry_wait(mem0: FakeMem0) -> None:
    async with opened(mem0.url, max_retry_wait=0.2) as built:
        mem0.fail(429, retry_after="120", times=1, path=SEARCH)
        start = time.monotonic()
        assert await built.search("tea", user_id="u") == []
        assert time.monotonic() - start < 2


async def test_5xx_are_retried_then_succeed_without_duplicates(mem0: FakeMem0) -> None:
    async with opened(mem0.url) as built:
        for status in (500, 502, 503):
            mem0.fail(status, path=ADD)
        await built.add_items([MemoryItem(user_id="u", memory="Written once")])
        assert len(mem0.calls_to("POST", ADD)) == 4
        assert [r.item.memory for r in (await built.list_records(MemoryFilter(user_id="u"))).records] == [
            "Written once"]


async def test_exhausted_retries_name_the_store_and_operation(mem0: FakeMem0) -> None:
    async with opened(mem0.url, num_retries=2) as built:
        mem0.fail(503, times=10, path=SEARCH)
        with pytest.raises(StoreUnavailableError) as failure:
            await built.search("tea", user_id="u")
    assert str(failure.value).startswith(f"mem0 store at {mem0.url}: search failed: HTTP 503 after 3 attempts")
    assert len(mem0.calls_to("POST", SEARCH)) == 3


async def test_no_retry_when_auto_retry_is_off(mem0: FakeMem0) -> None:
    async with opened(mem0.url, do_auto_retry=False) as built:
        mem0.fail(429, retry_after="0", path=SEARCH)
        with pytest.raises(StoreUnavailableError, match="search failed: HTTP 429"):
            await built.search("tea", user_id="u")


async def test_a_timeout_is_a_clear_error_at_once(mem0: FakeMem0) -> None:
    async with opened(mem0.url, timeout=0.3) as built:
        mem0.slow(3, times=5, path=SEARCH)
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError) as failure:
            await built.search("tea", user_id="u")
        assert time.monotonic() - start < 1, "a timeout was retried"
    assert str(failure.value) == f"mem0 store at {mem0.url}: search failed: no answer within the 0.3 s timeout"
    deadline = time.monotonic() + 5  # on a loaded machine the fake's thread may record the request late
    while not mem0.calls_to("POST", SEARCH) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert len(mem0.calls_to("POST", SEARCH)) == 1, "the timed-out search was sent again"


async def test_a_timed_out_add_is_not_sent_twice(mem0: FakeMem0) -> None:
    async with opened(mem0.url, timeout=0.3) as built:
        mem0.slow(1, path=ADD)
        with pytest.raises(StoreUnavailableError, match=r"add failed: no answer within the 0\.3 s timeout; it may "
                                                        r"have been applied"):
            await built.add_items([MemoryItem(user_id="u", memory="Maybe written")])
    assert len(mem0.calls_to("POST", ADD)) == 1


async def test_401_mid_session_says_the_key_was_rejected(mem0: FakeMem0) -> None:
    async with opened(mem0.url) as built:
        mem0.fail(401, path=SEARCH)
        with pytest.raises(StoreUnavailableError) as failure:
            await built.search("tea", user_id="u")
    assert "search failed: the API key was rejected (HTTP 401); check api_key or MEM0_API_KEY" in str(failure.value)
    assert KEY not in str(failure.value)


async def test_a_server_echoing_the_key_is_masked(mem0: FakeMem0) -> None:
    async with opened(mem0.url, num_retries=0) as built:
        mem0.fail(500, path=SEARCH, body={"error": f"bad token {KEY}"})
        with pytest.raises(StoreUnavailableError, match=r"bad token \*\*\*") as failure:
            await built.search("tea", user_id="u")
    assert KEY not in str(failure.value)


async def test_failed_deletes_and_updates_raise_and_change_nothing(mem0: FakeMem0) -> None:
    async with opened(mem0.url, num_retries=1) as built:
        await built.add_items([MemoryItem(user_id="u", memory="Keep me")])
        record = (await built.list_records(MemoryFilter(user_id="u"))).records[0]
        mem0.fail(500, times=100, method="DELETE")
        with pytest.raises(StoreUnavailableError, match="remove_items failed: HTTP 500"):
            await built.remove_items(user_id="u")
        with pytest.raises(StoreUnavailableError, match="remove_items failed"):
            await built.remove_items(memory_id=record.id)
        with pytest.raises(StoreUnavailableError, match="delete_records failed"):
            await built.delete_records([record.id])
        mem0.clear_faults()
        mem0.fail(503, times=100, method="PUT")
        with pytest.raises(StoreUnavailableError, match="update failed: HTTP 503"):
            await built.update_record(record.id, MemoryPatch(memory="Changed"), expected_version=record.version)
        mem0.clear_faults()
        assert await built.get_record(record.id) == record


async def test_a_partly_failed_batch_says_how_much_was_written(mem0: FakeMem0) -> None:
    async with opened(mem0.url, max_concurrency=1) as built:
        mem0.fail(400, path=ADD, body={"error": "quota exceeded"})
        with pytest.raises(InvalidInputError, match=r"refused \(HTTP 400\): quota exceeded \(2 of 3 items were "
                                                    r"written"):
            await built.add_items([MemoryItem(user_id="u", memory=f"Note {i}") for i in range(3)])


# --- toolkit semantics ------------------------------------------------------------------------------------


async def test_run_id_goes_to_mem0_from_a_copy_of_the_metadata(mem0: FakeMem0) -> None:
    item = MemoryItem(user_id="u", memory="Booked the Lisbon hotel", tags=["travel"],
                      metadata={"run_id": "r1", "source": "chat"})
    async with opened(mem0.url) as built:
        await built.add_items([item])
        found = await built.search("Lisbon hotel", user_id="u")
    assert item.metadata == {"run_id": "r1", "source": "chat"}, "the caller's item was changed"
    sent = mem0.calls_to("POST", ADD)[0].body
    assert (sent["run_id"], sent["user_id"], sent["infer"]) == ("r1", "u", False)
    assert sent["messages"] == [{"role": "user", "content": "Booked the Lisbon hotel"}]
    assert "run_id" not in sent["metadata"] and sent["metadata"]["source"] == "chat"
    assert [(i.metadata, i.tags) for i in found] == [({"source": "chat", "run_id": "r1"}, ["travel"])]
    assert mem0.project.memories[next(iter(mem0.project.memories))]["run_id"] == "r1"


async def test_search_needs_a_user_id(mem0: FakeMem0) -> None:
    async with opened(mem0.url) as built:
        for kwargs in ({}, {"user_id": None}, {"user_id": ""}):
            with pytest.raises(InvalidInputError, match="user_id"):
                await built.search("tea", **kwargs)
    assert mem0.calls_to("POST", SEARCH) == []


async def test_scores_are_mem0_relevance_clamped_to_unit_range() -> None:
    assert codec.score_of({"score": 1.7}) == (1.0, {"mem0": 1.0})
    assert codec.score_of({"score": -0.2, "score_breakdown": {"semantic": 0.4, "bm25": 0.1, "label": "x"}}) == (
        0.0, {"semantic": 0.4, "bm25": 0.1})


async def test_a_conversation_only_item_is_one_verbatim_memory_by_default(mem0: FakeMem0) -> None:
    chat = [{"role": "user", "content": "I moved to Oslo"}, {"role": "assistant", "content": "Welcome!"}]
    async with opened(mem0.url) as built:
        await built.add_items([MemoryItem(user_id="u", conversation=chat)])
        [record] = (await built.list_records(MemoryFilter(user_id="u"))).records
    sent = mem0.calls_to("POST", ADD)[0].body
    assert sent["infer"] is False
    assert sent["messages"] == [{"role": "user", "content": "user: I moved to Oslo\nassistant: Welcome!"}]
    assert (record.item.memory, record.item.conversation) == (None, chat)


async def test_with_infer_mem0_extracts_memories_from_the_conversation(mem0: FakeMem0) -> None:
    chat = [{"role": "user", "content": "I moved to Oslo"}, {"role": "assistant", "content": "Welcome!"},
            {"role": "user", "content": "I work as a nurse"}]
    async with opened(mem0.url, infer=True) as built:
        await built.add_items([MemoryItem(user_id="u", conversation=chat, tags=["bio"]),
                               MemoryItem(user_id="u", memory="Prefers tea")])
        records = await built.list_records(MemoryFilter(user_id="u"), sort=Sort(field=SortField.CREATED,
                                                                                 descending=False))
    bodies = sorted((c.body for c in mem0.calls_to("POST", ADD)), key=lambda b: b["infer"])
    assert [(b["infer"], b["messages"]) for b in bodies] == [
        (False, [{"role": "user", "content": "Prefers tea"}]), (True, chat)]
    extracted = {(r.item.memory, r.item.tags == ["bio"], r.item.conversation == chat) for r in records.records}
    assert extracted == {("I moved to Oslo", True, True), ("I work as a nurse", True, True), ("Prefers tea", False,
                                                                                               False)}


async def test_remove_by_memory_id_wins_and_a_missing_id_is_not_an_error(mem0: FakeMem0) -> None:
    async with opened(mem0.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory="One"), MemoryItem(user_id="u", memory="Two")])
        one = next(r for r in (await built.list_records(MemoryFilter(user_id="u"))).records if r.item.memory == "One")
        await built.remove_items(memory_id=one.id, user_id="u")
        await built.remove_items(memory_id=one.id)
        await built.remove_items(memory_id="not-a-uuid")
        assert [r.item.memory for r in (await built.list_records(MemoryFilter(user_id="u"))).records] == ["Two"]
    assert len(mem0.calls_to("DELETE", rf"/v1/memories/{one.id}/")) == 2


async def test_reserved_metadata_and_blank_texts_are_refused(mem0: FakeMem0) -> None:
    async with opened(mem0.url) as built:
        for item in (MemoryItem(user_id="u", memory="x", metadata={"_memdash": 1}),
                     MemoryItem(user_id="u", memory="  "), MemoryItem(user_id="u")):
            with pytest.raises(InvalidInputError):
                await built.add_items([item])
    assert mem0.calls_to("POST", ADD) == []


# --- Mem0 specifics ---------------------------------------------------------------------------------------


async def test_memories_written_by_other_clients_read_like_the_toolkit_reads_them(mem0: FakeMem0) -> None:
    with _raw(mem0) as raw:  # the toolkit's mem0ai 0.1.118 call
        raw.post("/v1/memories/", json={"messages": [{"role": "user", "content": "Likes jazz"}], "user_id": "u",
                                        "run_id": "r9", "metadata": {"k": 1}, "output_format": "v1.1",
                                        "version": "v2"}).raise_for_status()
        mem0.project.memories[next(iter(mem0.project.memories))]["categories"] = ["music"]
    async with opened(mem0.url) as built:
        [record] = (await built.list_records(MemoryFilter(user_id="u"))).records
    assert record.version == 1
    assert record.item == MemoryItem(user_id="u", memory="Likes jazz", tags=["music"],
                                     metadata={"k": 1, "run_id": "r9"})


async def test_an_edit_made_outside_memdash_is_a_version_conflict(mem0: FakeMem0) -> None:
    async with opened(mem0.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory="Desk on floor 3", tags=["office"])])
        before = (await built.list_records(MemoryFilter(user_id="u"))).records[0]
        with _raw(mem0) as raw:  # e.g. Mem0's dashboard
            raw.put(f"/v1/memories/{before.id}/", json={"text": "Desk on floor 5"}).raise_for_status()
        with pytest.raises(VersionConflictError) as conflict:
            await built.update_record(before.id, MemoryPatch(memory="Desk on floor 4"), expected_version=before.version)
        current = conflict.value.current
        assert current is not None and (current.version, current.item.memory) == (before.version + 1, "Desk on floor 5")
        updated = await built.update_record(before.id, MemoryPatch(tags=["moved"]), expected_version=current.version)
        assert (updated.version, updated.item.memory, updated.item.tags) == (before.version + 2, "Desk on floor 5",
                                                                             ["moved"])
    assert "text" not in mem0.calls_to("PUT", rf"/v1/memories/{before.id}/")[-1].body, "unchanged text was resent"


async def test_a_metadata_edit_made_elsewhere_conflicts_where_the_old_record_was_served(mem0: FakeMem0) -> None:
    async with opened(mem0.url) as built, opened(mem0.url) as other_process:
        await built.add_items([MemoryItem(user_id="u", memory="Likes green tea", metadata={"k": "v"})])
        served = (await built.list_records(MemoryFilter(user_id="u"))).records[0]
        with _raw(mem0) as raw:  # same text, so memdash's version cannot tell
            raw.put(f"/v1/memories/{served.id}/", json={"metadata": {"k": "changed"}}).raise_for_status()
        with pytest.raises(VersionConflictError) as conflict:
            await built.update_record(served.id, MemoryPatch(tags=["tea"]), expected_version=served.version)
        assert conflict.value.current is not None and conflict.value.current.item.metadata == {"k": "changed"}
        # a process that never served the old record can only compare versions (the documented limit)
        updated = await other_process.update_record(served.id, MemoryPatch(tags=["tea"]),
                                                    expected_version=served.version)
        assert updated.item.tags == ["tea"]


async def test_update_cannot_move_a_memory_to_another_run(mem0: FakeMem0) -> None:
    async with opened(mem0.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory="In run one", metadata={"run_id": "r1"})])
        record = (await built.list_records(MemoryFilter(user_id="u"))).records[0]
        with pytest.raises(InvalidInputError, match="run_id"):
            await built.update_record(record.id, MemoryPatch(metadata={"run_id": "r2"}), expected_version=1)


async def test_memory_history_lists_mem0s_events(mem0: FakeMem0) -> None:
    async with opened(mem0.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory="Plays chess")])
        record = (await built.list_records(MemoryFilter(user_id="u"))).records[0]
        await built.update_record(record.id, MemoryPatch(memory="Plays chess and go"), expected_version=1)
        history = await built.memory_history(record.id)
        assert [(h.event, h.old_memory, h.new_memory) for h in history] == [
            ("ADD", None, "Plays chess"), ("UPDATE", "Plays chess", "Plays chess and go")]
        assert history[0].at.utcoffset() is not None and history[0].input[0]["content"] == "Plays chess"
        for missing in ("11111111-2222-3333-4444-555555555555", "nope"):
            with pytest.raises(NotFoundError):
                await built.memory_history(missing)


async def test_listing_follows_numbered_pages_and_sorts_locally(mem0: FakeMem0,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "LIST_PAGE", 3)
    async with opened(mem0.url) as built:
        for i in range(8):
            await built.add_items([MemoryItem(user_id="u", memory=f"Row {i}")])
        rows = (await built.list_records(MemoryFilter(user_id="u"), sort=Sort(field=SortField.CREATED,
                                                                               descending=False), limit=50)).records
        assert [r.item.memory for r in rows] == [f"Row {i}" for i in range(8)]
        assert await built.count_records(MemoryFilter(user_id="u")) == 8
    pages = [c.query["page"] for c in mem0.calls_to("POST", LIST) if c.query.get("page_size") == "3"]
    assert pages == ["1", "2", "3"]


async def test_too_many_memories_to_list_is_a_clear_error(mem0: FakeMem0) -> None:
    async with opened(mem0.url, max_scan=2) as built:
        await built.add_items([MemoryItem(user_id="u", memory=f"Row {i}") for i in range(3)])
        with pytest.raises(UnsupportedError, match="more than 2 memories to list; pick a user, or raise max_scan"):
            await built.list_records(MemoryFilter(user_id="u"))


async def test_bad_cursors_are_refused(mem0: FakeMem0) -> None:
    async with opened(mem0.url) as built:
        for cursor in ("%%%", "WzFd", "W10="):
            with pytest.raises(InvalidInputError, match="cursor"):
                await built.list_records(MemoryFilter(user_id="u"), cursor=cursor)
            with pytest.raises(InvalidInputError, match="cursor"):
                await built.list_users(cursor=cursor)


async def test_users_come_from_entities_across_pages_and_need_memories(mem0: FakeMem0) -> None:
    mem0.entities_page_size = 2
    async with opened(mem0.url) as built:
        for name in ("dora", "alma", "cleo", "bea", "eve"):
            await built.add_items([MemoryItem(user_id=name, memory=f"{name} was here")])
        await built.remove_items(user_id="cleo")
        page = await built.list_users(limit=3)
        assert [u.user_id for u in page.users] == ["alma", "bea", "dora"]
        rest = await built.list_users(limit=3, cursor=page.next_cursor)
        assert [(u.user_id, u.memory_count) for u in rest.users] == [("eve", 1)] and rest.next_cursor is None
    assert len(mem0.calls_to("GET", "/v1/entities/")) >= 6, "entity pages were not followed"


async def test_entity_pages_are_followed_on_our_host_whatever_host_the_links_name(mem0: FakeMem0) -> None:
    mem0.entities_page_size, mem0.links_to = 1, "https://public.example"
    async with opened(mem0.url) as built:
        await built.add_items([MemoryItem(user_id=name, memory="hello") for name in ("ann", "bob", "cy")])
        assert [u.user_id for u in (await built.list_users()).users] == ["ann", "bob", "cy"]
    assert [c.query.get("page") for c in mem0.calls_to("GET", "/v1/entities/")] == [None, "2", "3"]


async def test_batch_delete_counts_only_memories_that_existed(mem0: FakeMem0) -> None:
    async with opened(mem0.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory=f"Row {i}") for i in range(3)])
        ids = [r.id for r in (await built.list_records(MemoryFilter(user_id="u"))).records]
        assert await built.delete_records([ids[0], ids[0], ids[1], "not-an-id"]) == 2
    [batch] = mem0.calls_to("DELETE", "/v1/batch/")
    assert sorted(m["memory_id"] for m in batch.body["memories"]) == sorted(ids[:2])


# --- expiry: Mem0's own expiration_date ------------------------------------------------------------------------


async def test_an_expiry_is_mem0s_own_expiration_date_which_every_client_obeys(mem0: FakeMem0) -> None:
    now = dt.datetime.now(dt.UTC)
    when = dt.datetime.combine(now.date() + dt.timedelta(days=2), dt.time(8), tzinfo=dt.UTC)
    async with opened(mem0.url) as built:
        assert {Capability.EXPIRE} <= capabilities_of(built) and Capability.PAUSE not in capabilities_of(built)
        await built.add_items([MemoryItem(user_id="u", memory="Alice is in Paris this week")])
        [trip] = (await built.list_records(MemoryFilter(user_id="u"))).records
        trip = await built.update_record(trip.id, MemoryPatch(metadata=life.expiring_metadata({}, when, now)),
                                         expected_version=trip.version)
        day = when.date().isoformat()  # visible through that UTC day, hidden from the next midnight: never earlier
        assert mem0.calls_to("PUT", rf"/v1/memories/{trip.id}/")[-1].body["expiration_date"] == day
        assert life.expires_at(trip.item) == when

        mem0.project.memories[trip.id]["expiration_date"] = str(now.date() - dt.timedelta(days=1))  # days went by
        with _raw(mem0) as raw:  # the toolkit's mem0 plugin searches Mem0 directly
            found = raw.post("/v3/memories/search/", json={"query": "Paris", "filters": {"user_id": "u"}}).json()
        assert found["results"] == []
        [listed] = (await built.list_records(MemoryFilter(user_id="u"))).records  # operators still see it...
        assert life.expires_at(listed.item) == dt.datetime.combine(now.date(), dt.time(), tzinfo=dt.UTC)
        assert await expired_ids(built, now) == [trip.id]  # ...and the sweep moves it to the trash

        back = await built.update_record(listed.id, MemoryPatch(metadata=life.expiring_metadata({}, None, now)),
                                         expected_version=listed.version)
        assert mem0.calls_to("PUT", rf"/v1/memories/{trip.id}/")[-1].body["expiration_date"] is None
        assert life.expires_at(back.item) is None
        assert [i.memory for i in await built.search("Paris", top_k=3, user_id="u")] == ["Alice is in Paris this week"]
