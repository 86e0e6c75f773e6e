"""The ``zep_memory`` store against a local Zep (``tests/helpers/fake_zep.py``): conformance, faults, toolkit
semantics."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import httpx
import pytest
import pytest_asyncio

from memory_core.builder import MemoryBuilder
from memory_core.config import parse_config
from memory_core.errors import (
    ConfigError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
    UnsupportedError,
)
from memory_core.interfaces import BROWSE_ALL, Capability
from memory_core.models import MemoryItem
from memory_core.providers.zep import ZepMemory, ZepMemoryConfig, codec
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord, Sort, SortField, encode_cursor
from memory_core.testing import MemoryStoreConformance
from tests.helpers.fake_zep import FakeZep

KEY = "z-test-key"
FAST = {"retry_backoff": 0.01, "max_retry_wait": 0.5, "timeout": 5}
SEARCH, MESSAGES, EDGES = r"/graph/search", r"/threads/[^/]+/messages", r"/graph/edge/user/[^/]+"
NOT_KEPT = "Zep derives facts from messages and texts: an item's tags, metadata and conversation are not kept"
FULL = BROWSE_ALL - {Capability.UPDATE, Capability.IMPORT}


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeZep]:
    with FakeZep(KEY) as server:
        yield server


@pytest.fixture
def zep() -> Iterator[FakeZep]:
    with FakeZep(KEY) as server:
        yield server


def _yaml(base_url: str | None, **fields: Any) -> str:
    settings = {"base_url": base_url, "api_key": KEY, **FAST, **fields}
    lines = [f"    {k}: {v}" for k, v in settings.items() if v is not None]
    return "memory:\n  m:\n    _type: zep_memory\n" + "\n".join(lines) + "\n"


@asynccontextmanager
async def opened(base_url: str | None, **fields: Any) -> AsyncIterator[ZepMemory]:
    async with MemoryBuilder(parse_config(_yaml(base_url, **fields))) as builder:
        yield await builder.get_memory_client("m")


def _raw(server: FakeZep) -> httpx.Client:
    """Another Zep client (as the toolkit's editor or Zep's dashboard would write)."""
    return httpx.Client(base_url=server.api_url + "/", headers={"Authorization": f"Api-Key {KEY}"})


def _facts(server: FakeZep, user_id: str) -> list[str]:
    with server.project.lock:
        return [e["fact"] for e in server.project.edges.values() if e["_user"] == user_id]


class TestZepConformance(MemoryStoreConformance):
    capabilities = frozenset({Capability.COUNT, Capability.DELETE_BY_IDS, Capability.GET, Capability.LIST,
        Capability.LIST_ALL_USERS, Capability.LIST_USERS, Capability.PING, Capability.SEARCH_RECORDS,
        Capability.TEXT_SEARCH, Capability.VECTOR_SEARCH})
    not_applicable: ClassVar[dict[str, str]] = {  # not generated here; each names what is tested instead
        "test_toolkit_add_then_search_finds_it": NOT_KEPT,
        "test_toolkit_users_are_isolated": f"{NOT_KEPT} (isolation: test_users_are_isolated)",
        "test_toolkit_unicode_round_trips": f"{NOT_KEPT} (texts: test_unicode_facts_round_trip)",
        "test_toolkit_large_memory": "Zep takes at most 10,000 characters per text (test_memory_texts_are_checked)",
        "test_toolkit_fields_round_trip": NOT_KEPT,
        "test_toolkit_conversation_only_item_is_searchable":
            f"{NOT_KEPT}: a conversation becomes facts (test_conversations_go_to_threads)",
        "test_toolkit_results_are_copies": f"{NOT_KEPT}; every answer is decoded afresh",
        "test_browse_count_equals_listing": f"{NOT_KEPT}: tag filters match nothing (test_count_equals_listing)",
        "test_browse_get_record": f"{NOT_KEPT} (test_get_record_finds_the_owner)",
    }
    finds_words_in_every_script = False  # the service analyses text its own way

    @pytest_asyncio.fixture
    async def editor(self, shared: FakeZep) -> AsyncIterator[ZepMemory]:
        async with opened(shared.url) as built:
            yield built


# --- building -------------------------------------------------------------------------------------------------


async def test_builds_with_api_key_auth_and_truthful_capabilities(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        assert isinstance(built, ZepMemory)
        assert built.capabilities == FULL
        assert await built.ping() is None
    assert built._http._client.is_closed  # one client per store, closed when the builder closes
    ping = zep.calls_to("GET", "/users-ordered")[0]
    assert ping.headers["authorization"] == f"Api-Key {KEY}" and ping.query == {"pageNumber": "1", "pageSize": "1"}


@pytest.mark.parametrize(("fields", "search_records"), [
    ({"search_mode": "aggregated"}, False), ({"scope": "nodes"}, False), ({"scope": "episodes"}, False),
    ({"reranker": "rrf"}, True)])
async def test_capabilities_follow_the_search_settings(zep: FakeZep, fields: dict[str, str],
                                                       search_records: bool) -> None:
    async with opened(zep.url, **fields) as built:
        assert built.capabilities == (FULL if search_records else FULL - {Capability.SEARCH_RECORDS})
        if not search_records:
            with pytest.raises(UnsupportedError, match="search_mode 'facts' and scope 'edges'"):
                await built.search_records("x", user_id="u")


@pytest.mark.parametrize("form", ["{url}", "{url}/", "{url}/api/v2", "{url}/api/v2/"])
async def test_base_url_is_the_host_or_the_sdks_api_root(zep: FakeZep, form: str) -> None:
    async with opened(form.format(url=zep.url)) as built:
        await built.add_items([MemoryItem(user_id="u", memory="Base URLs are forgiving")])
    assert _facts(zep, "u") == ["Base URLs are forgiving"]


async def test_base_url_and_api_key_come_from_the_environment(zep: FakeZep, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEP_API_KEY", KEY)
    monkeypatch.setenv("ZEP_API_URL", zep.url)
    async with MemoryBuilder(parse_config("memory:\n  m:\n    _type: zep_memory\n")) as builder:
        await (await builder.get_memory_client("m")).ping()
    assert ZepMemoryConfig().resolved_base_url() == zep.url
    monkeypatch.delenv("ZEP_API_URL")
    assert ZepMemoryConfig().resolved_base_url() == "https://api.getzep.com"


async def test_missing_api_key_is_a_config_error(zep: FakeZep, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZEP_API_KEY", raising=False)
    config = parse_config(f"memory:\n  m:\n    _type: zep_memory\n    base_url: {zep.url}\n")
    with pytest.raises(ConfigError, match="ZEP_API_KEY"):
        async with MemoryBuilder(config) as builder:
            await builder.get_memory_client("m")
    assert zep.calls == []


async def test_a_rejected_key_fails_the_build_without_echoing_it(zep: FakeZep) -> None:
    secret = "z-very-secret-but-wrong"
    with pytest.raises(StoreUnavailableError) as failure:
        async with opened(zep.url, api_key=secret):
            pass
    message = str(failure.value)
    assert "API key was rejected (HTTP 401)" in message and "ZEP_API_KEY" in message and secret not in message
    assert zep.calls[0].headers["authorization"] == f"Api-Key {secret}"


async def test_an_unreachable_host_fails_the_build(zep: FakeZep) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreUnavailableError, match=r"zep store at http://127.0.0.1:\d+/api/v2: ping failed: host "
                                                    r"unreachable"):
        async with opened(f"http://127.0.0.1:{port}", num_retries=1):
            pass


# --- faults ---------------------------------------------------------------------------------------------------


async def test_429_is_retried_honouring_retry_after(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory="Retries keep the agent calm")])
        zep.fail(429, times=2, path=SEARCH, retry_after="0.2")
        started = time.monotonic()
        found = await built.search("agent calm", user_id="u")
    assert time.monotonic() - started >= 0.4
    assert [i.memory for i in found] == ["Retries keep the agent calm"]
    assert [c.status for c in zep.calls_to("POST", SEARCH)] == [429, 429, 200]


async def test_retry_after_is_bounded_by_max_retry_wait(zep: FakeZep) -> None:
    async with opened(zep.url, max_retry_wait=0.05) as built:
        zep.fail(429, times=1, path=SEARCH, retry_after="3600")
        started = time.monotonic()
        assert await built.search("anything", user_id="nobody") == []
    assert time.monotonic() - started < 1


async def test_5xx_are_retried_then_succeed_without_duplicates(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        for status in (500, 502, 503):
            zep.fail(status, times=1, method="POST", path=MESSAGES)
        await built.add_items([MemoryItem(user_id="u", conversation=[{"role": "user", "content": "Only once"}])])
    assert _facts(zep, "u") == ["Only once"]
    assert [c.status for c in zep.calls_to("POST", MESSAGES)] == [500, 502, 503, 200]


async def test_exhausted_retries_name_the_store_and_the_operation(zep: FakeZep) -> None:
    async with opened(zep.url, num_retries=2) as built:
        zep.fail(503, times=10, path=SEARCH)
        with pytest.raises(StoreUnavailableError, match=r"zep store at .*/api/v2: search failed: HTTP 503 after 3 "
                                                        r"attempts"):
            await built.search("anything", user_id="u")
    assert len(zep.calls_to("POST", SEARCH)) == 3


async def test_no_retry_when_auto_retry_is_off(zep: FakeZep) -> None:
    async with opened(zep.url, do_auto_retry=False) as built:
        zep.fail(500, times=5, path=SEARCH)
        with pytest.raises(StoreUnavailableError, match="HTTP 500: internal server error"):
            await built.search("anything", user_id="u")
    assert len(zep.calls_to("POST", SEARCH)) == 1


async def test_a_timeout_is_a_clear_error_at_once(zep: FakeZep) -> None:
    async with opened(zep.url, timeout=0.2) as built:
        zep.slow(1.0, times=2, path=SEARCH)
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match=r"search failed: no answer within the 0.2 s timeout$"):
            await built.search("anything", user_id="u")
    assert time.monotonic() - started < 1 and len(zep.calls_to("POST", SEARCH)) == 1


async def test_a_dropped_connection_is_retried_for_reads_only(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        zep.fail(500, times=1, path=SEARCH)
        zep.drop(times=1, path=SEARCH)
        assert await built.search("anything", user_id="u") == []
        zep.drop(times=1, method="POST", path=MESSAGES)
        with pytest.raises(StoreUnavailableError, match=r"add_items failed: connection lost \(RemoteProtocolError: "
                                                        r".*\); it may have been applied"):
            await built.add_items([MemoryItem(user_id="u", conversation=[{"role": "user", "content": "Once"}])])
    assert len(zep.calls_to("POST", SEARCH)) == 3 and len(zep.calls_to("POST", MESSAGES)) == 1


async def test_a_timed_out_add_is_not_sent_twice(zep: FakeZep) -> None:
    async with opened(zep.url, timeout=0.3) as built:
        zep.slow(0.6, times=1, method="POST", path=MESSAGES)
        with pytest.raises(StoreUnavailableError, match="may have been applied, check before retrying"):
            await built.add_items([MemoryItem(user_id="u", conversation=[{"role": "user", "content": "Slow one"}])])
    assert len(zep.calls_to("POST", MESSAGES)) == 1


async def test_401_mid_session_says_the_key_was_rejected(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        zep.fail(401, times=1, path=EDGES)
        with pytest.raises(StoreUnavailableError, match=r"list failed: the API key was rejected \(HTTP 401\)") as exc:
            await built.list_records(MemoryFilter(user_id="u"))
    assert KEY not in str(exc.value)


async def test_a_server_echoing_the_key_is_masked(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        zep.fail(400, path=SEARCH, body={"message": f"bad request: key {KEY} cannot search"})
        with pytest.raises(InvalidInputError) as refused:
            await built.search("anything", user_id="u")
    assert KEY not in str(refused.value) and "key *** cannot search" in str(refused.value)


async def test_failed_deletes_raise_and_change_nothing(zep: FakeZep) -> None:
    async with opened(zep.url, num_retries=1) as built:
        await built.add_items([MemoryItem(user_id="u", memory="Keep me safe"),
                               MemoryItem(user_id="u", conversation=[{"role": "user", "content": "Me too"}])])
        ids = [r.id for r in (await built.list_records(MemoryFilter(user_id="u"))).records]
        zep.fail(500, times=100, method="DELETE")
        with pytest.raises(StoreUnavailableError, match=r"delete_records failed: HTTP 500 after 2 attempts"):
            await built.delete_records(ids)
        for kwargs in ({"memory_id": ids[0]}, {"thread_id": "default_zep_thread-u"}, {"user_id": "u"}):
            with pytest.raises(StoreUnavailableError):
                await built.remove_items(**kwargs)
        with pytest.raises(StoreUnavailableError, match="delete_thread failed"):
            await built.delete_thread("default_zep_thread-u")
        with pytest.raises(StoreUnavailableError, match="delete_user failed"):
            await built.delete_user("u")
        zep.clear_faults()
    assert sorted(_facts(zep, "u")) == ["Keep me safe", "Me too"]


async def test_a_partly_failed_delete_says_how_many_went(zep: FakeZep) -> None:
    async with opened(zep.url, num_retries=0, max_concurrency=1) as built:
        await built.add_items([MemoryItem(user_id="u", memory=f"Fact number {i}") for i in range(3)])
        ids = [r.id for r in (await built.list_records(MemoryFilter(user_id="u"))).records]
        zep.fail(503, times=1, method="DELETE", path=f"/graph/edge/{ids[1]}")
        with pytest.raises(StoreUnavailableError, match=r"\(2 of 3 facts were deleted, the others were not\)"):
            await built.delete_records(ids)
    assert len(_facts(zep, "u")) == 1


async def test_a_partly_failed_batch_says_how_much_was_written(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        zep.fail(400, times=1, method="POST", path=MESSAGES, body={"message": "bad request: too long"})
        with pytest.raises(InvalidInputError, match=r"too long \(1 of 2 items were written before the failure\)"):
            await built.add_items([MemoryItem(user_id="a", memory="Written"),
                                   MemoryItem(user_id="b", conversation=[{"role": "user", "content": "Refused"}])])
    assert (_facts(zep, "a"), _facts(zep, "b")) == (["Written"], [])


# --- toolkit semantics ----------------------------------------------------------------------------------------


def _chat(*lines: str) -> list[dict[str, str]]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": line} for i, line in enumerate(lines)]


async def test_aggregated_mode_returns_one_item_like_the_toolkit(zep: FakeZep) -> None:
    chat = _chat("My name is Sam", "Hi Sam", "I enjoy cooking pasta", "Nice", "My sister Sam cooks too", "Cool")
    async with opened(zep.url, search_mode="aggregated") as built:
        await built.add_items([MemoryItem(user_id="sam", conversation=chat)])
        results = await built.search("Sam cooking", top_k=3, user_id="sam")
        assert await built.search("zebra", user_id="sam") == []
    assert len(results) == 1
    item = results[0]
    assert item.conversation == [] and item.user_id == "sam" and item.tags == []
    assert sorted(item.memory.split("\n")) == sorted(["My name is Sam", "I enjoy cooking pasta",
                                                      "My sister Sam cooks too"])
    assert item.metadata["source"] == "graph_search" and item.metadata["thread_id"] == "default_zep_thread-sam"
    assert len(item.metadata["uuids"]) == 3 and 0 < item.similarity_score <= 1
    body = zep.calls_to("POST", SEARCH)[0].body
    assert (body["user_id"], body["query"], body["limit"], body["scope"]) == ("sam", "Sam cooking", 3, "edges")


async def test_facts_mode_returns_one_item_per_fact_with_scores(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", conversation=_chat("I live in Lisbon", "ok",
                                                                          "Lisbon has trams", "ok"))])
        results = await built.search("I live in Lisbon", top_k=5, user_id="u")
    assert [r.memory for r in results] == ["I live in Lisbon", "Lisbon has trams"]
    assert results[0].similarity_score == 1.0 and 0 < results[1].similarity_score < 1
    assert set(results[0].metadata) >= {"name", "valid_at", "invalid_at", "episodes", "source_node_uuid"}
    assert zep.calls_to("POST", SEARCH)[0].body["reranker"] == "cross_encoder"


async def test_search_asks_zep_for_at_most_50_results(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory=f"Note {i} about tea") for i in range(55)])
        results = await built.search("tea", top_k=100, user_id="u")
    assert len(results) == 50 and zep.calls_to("POST", SEARCH)[0].body["limit"] == 50


async def test_rank_based_rerankers_score_by_position(zep: FakeZep) -> None:
    async with opened(zep.url, reranker="rrf") as built:
        await built.add_items([MemoryItem(user_id="u", memory=m) for m in ("red apple pie", "red apple",
                                                                           "red car")])
        results = await built.search("red apple pie", user_id="u", similarity_threshold=0.4)
        hits = await built.search_records("red apple pie", user_id="u")
    assert [r.similarity_score for r in results] == [1.0, 0.5]
    assert [h.score for h in hits] == pytest.approx([1.0, 0.5, 1 / 3])
    assert [h.parts["zep"] for h in hits] == pytest.approx([1 / 61, 1 / 62, 1 / 63], abs=1e-6)


async def test_similarity_threshold_keeps_facts_at_or_above_it(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory=m) for m in ("green tea", "green tea with mint",
                                                                           "black coffee")])
        everything = await built.search("green tea", user_id="u")
        kept = await built.search("green tea", user_id="u", similarity_threshold=everything[0].similarity_score)
    assert [r.memory for r in everything] == ["green tea", "green tea with mint"]
    assert [r.memory for r in kept] == ["green tea"]


async def test_search_needs_a_user_and_unknown_users_remember_nothing(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        with pytest.raises(InvalidInputError, match="user_id"):
            await built.search("anything")
        assert await built.search("anything", user_id="never-seen") == []
        assert await built.search("   ", user_id="never-seen") == []
    assert len(zep.calls_to("POST", SEARCH)) == 1  # a blank query is not sent


@pytest.mark.parametrize(("scope", "expected"), [("episodes", "Dinner with Ana on Friday"),
                                                 ("nodes", "Dinner with Ana: Dinner with Ana on Friday")])
async def test_other_scopes_search_episodes_or_entities(zep: FakeZep, scope: str, expected: str) -> None:
    async with opened(zep.url, scope=scope) as built:
        await built.add_items([MemoryItem(user_id="u", conversation=_chat("Dinner with Ana on Friday", "ok"))])
        results = await built.search("dinner Ana", user_id="u")
    assert results[0].memory == expected and results[0].metadata["uuid"]


async def test_conversations_go_to_threads_with_roles_and_names(zep: FakeZep) -> None:
    chat = [{"role": "user", "content": "I adopted a cat", "name": "Jane Doe"},
            {"role": "assistant", "content": "What is its name?"},
            {"role": "user", "content": "Her name is Miso", "created_at": "2025-06-01T13:11:12Z"}]
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="jane", conversation=chat, metadata={"thread_id": "t-1"})])
        page = await built.thread_messages("t-1")
    sent = zep.calls_to("POST", "/threads/t-1/messages")[0].body
    assert sent == {"messages": chat}
    assert [(m.role, m.name, m.content) for m in page.messages] == [(m["role"], m.get("name"), m["content"])
                                                                    for m in chat]
    assert page.user_id == "jane" and page.messages[2].created_at.year == 2025
    assert sorted(_facts(zep, "jane")) == ["Her name is Miso", "I adopted a cat"]


async def test_ignore_roles_is_passed_to_zep(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", conversation=_chat("Quiet please", "ok"))],
                              ignore_roles=["user"])
        with pytest.raises(InvalidInputError, match="ignore_roles"):
            await built.add_items([MemoryItem(user_id="u", conversation=_chat("x"))], ignore_roles=["human"])
    assert zep.calls_to("POST", MESSAGES)[0].body["ignore_roles"] == ["user"] and _facts(zep, "u") == []


async def test_the_thread_comes_from_metadata_then_the_call_then_the_users_default(zep: FakeZep) -> None:
    async with opened(zep.url, default_thread_id="chat-of-{user_id}") as built:
        await built.add_items([MemoryItem(user_id="u", conversation=_chat("one"), metadata={"thread_id": "mine"}),
                               MemoryItem(user_id="u", conversation=_chat("two"))], thread_id="call")
        await built.add_items([MemoryItem(user_id="u", conversation=_chat("three"))])
        await built.add_items([MemoryItem(user_id="v", conversation=_chat("four"))])
        threads = {t.thread_id: t.user_id for t in await built.list_threads("u")}
    assert threads == {"mine": "u", "call": "u", "chat-of-u": "u"}
    assert [c.body["thread_id"] for c in zep.calls_to("POST", "/threads")] == ["mine", "call", "chat-of-u",
                                                                                "chat-of-v"]


async def test_existing_users_and_threads_are_reused(zep: FakeZep) -> None:
    with _raw(zep) as raw:
        raw.post("users", json={"user_id": "u", "email": "u@example.com"}).raise_for_status()
        raw.post("threads", json={"thread_id": "t", "user_id": "u"}).raise_for_status()
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", conversation=_chat(f"m{i}"), metadata={"thread_id": "t"})
                               for i in range(3)])
    assert len(zep.calls_to("POST", "/users")) == 1 and len(zep.calls_to("POST", "/threads")) == 1
    assert len(zep.calls_to("GET", "/users/u")) == 1 and zep.project.users["u"]["email"] == "u@example.com"


async def test_users_and_threads_created_meanwhile_are_tolerated(zep: FakeZep) -> None:
    """Another writer creates them between our check and our create: 400 for the user, 409 for the thread."""
    with _raw(zep) as raw:
        raw.post("users", json={"user_id": "u"}).raise_for_status()
        raw.post("threads", json={"thread_id": "t", "user_id": "u"}).raise_for_status()
    zep.fail(404, times=1, method="GET", path="/users/u")
    zep.fail(404, times=1, method="GET", path="/threads/t/messages")
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", conversation=_chat("hello"), metadata={"thread_id": "t"})])
    assert [c.status for c in zep.calls_to("POST", "/users")] == [201, 400]  # the other writer's, then ours
    assert [c.status for c in zep.calls_to("POST", "/threads")] == [201, 409]
    assert _facts(zep, "u") == ["hello"]


async def test_another_users_thread_is_refused(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="a", conversation=_chat("mine"), metadata={"thread_id": "t"})])
        with pytest.raises(InvalidInputError, match="thread 't' belongs to user 'a', not 'b'"):
            await built.add_items([MemoryItem(user_id="b", conversation=_chat("yours"),
                                              metadata={"thread_id": "t"})])
    assert _facts(zep, "a") == ["mine"] and _facts(zep, "b") == []


async def test_long_conversations_go_30_messages_at_a_time_in_order(zep: FakeZep) -> None:
    chat = [{"role": "user", "content": f"line {i}"} for i in range(65)]
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", conversation=chat)])
        page = await built.thread_messages("default_zep_thread-u", limit=100)
    assert [len(c.body["messages"]) for c in zep.calls_to("POST", MESSAGES)] == [30, 30, 5]
    assert [m.content for m in page.messages] == [f"line {i}" for i in range(65)]


async def test_memory_texts_go_to_the_graph_and_bad_items_write_nothing(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory="x" * 10_000)])
        bad = [MemoryItem(user_id="u", memory="y" * 10_001), MemoryItem(user_id="u"),
               MemoryItem(user_id="u", memory="   "),
               MemoryItem(user_id="u", conversation=[{"role": "human", "content": "hi"}]),
               MemoryItem(user_id="u", conversation=[{"role": "user", "content": " "}]),
               MemoryItem(user_id="u", conversation=_chat("x"), metadata={"thread_id": 7})]
        for item in bad:
            with pytest.raises(InvalidInputError, match=r"item 1|thread_id"):
                await built.add_items([MemoryItem(user_id="u", memory="fine"), item])
    sent = zep.calls_to("POST", "/graph")
    assert len(sent) == 1 and sent[0].body == {"user_id": "u", "type": "text", "data": "x" * 10_000,
                                               "source_description": "memdash",
                                               "metadata": {"memdash_user_id": "u"}}
    assert len(_facts(zep, "u")) == 1


async def test_remove_items_takes_memory_id_then_thread_id_then_user_id(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory="A text fact"),
                               MemoryItem(user_id="u", conversation=_chat("A chat fact"), metadata={"thread_id": "t"}),
                               MemoryItem(user_id="v", memory="Another user")])
        text_id = next(r.id for r in (await built.list_records(MemoryFilter(user_id="u"))).records
                       if r.item.memory == "A text fact")
        await built.remove_items(memory_id=text_id, thread_id="t", user_id="u")
        assert _facts(zep, "u") == ["A chat fact"]
        await built.remove_items(thread_id="t", user_id="u")
        assert _facts(zep, "u") == [] and "u" in zep.project.users and "t" not in zep.project.threads
        await built.add_items([MemoryItem(user_id="u", memory="Back again")])
        await built.remove_items(user_id="u")
        assert "u" not in zep.project.users and _facts(zep, "v") == ["Another user"]
        for kwargs in ({"user_id": "u"}, {"thread_id": "t"}, {"memory_id": text_id}, {"memory_id": "not-a-uuid"}):
            await built.remove_items(**kwargs)  # already gone: what was asked for
        with pytest.raises(InvalidInputError):
            await built.remove_items(thread_id="")


async def test_users_are_isolated(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="alice", memory="The door code is 4512"),
                               MemoryItem(user_id="bob", memory="The door code is 4512"),
                               MemoryItem(user_id="bob", memory="Bob keeps a pet iguana")])
        for query in ("door code", "pet iguana"):
            assert all(r.user_id == "alice" for r in await built.search(query, user_id="alice"))
        alice = (await built.search("door code", user_id="alice"))[0]
        bob = await built.search_records("door code", user_id="bob")
    assert alice.metadata["episodes"] != bob[0].record.item.metadata["episodes"]
    assert {b.record.user_id for b in bob} == {"bob"}


async def test_unicode_facts_round_trip(zep: FakeZep) -> None:
    texts = ["我喜欢在京都喝抹茶", "Party 🎉 with the python club 🐍", "Zoe\u0308 runs the cafe\u0301"]
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="ü-user/1", memory=t) for t in texts])
        for text in texts:
            assert (await built.search(text, user_id="ü-user/1"))[0].memory == text
        listed = await built.list_records(MemoryFilter(user_id="ü-user/1"))
    assert sorted(r.item.memory for r in listed.records) == sorted(texts)


# --- browsing -------------------------------------------------------------------------------------------------


async def test_records_are_facts_with_zeps_fields(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", conversation=_chat("I run on Sundays"))])
        record = (await built.list_records(MemoryFilter(user_id="u"))).records[0]
    edge = next(iter(zep.project.edges.values()))
    assert record.id == edge["uuid"] and record.item.memory == "I run on Sundays" and record.version == 1
    assert record.item.metadata == {"name": "STATES", "valid_at": edge["valid_at"], "invalid_at": None,
                                    "expired_at": None, "episodes": edge["episodes"],
                                    "source_node_uuid": edge["source_node_uuid"],
                                    "target_node_uuid": edge["target_node_uuid"]}
    assert record.created_at == record.updated_at == codec.when(edge["created_at"])
    assert record.created_at.tzinfo is not None and edge["created_at"].endswith("000Z")  # nanoseconds


def test_an_expired_fact_was_updated_when_it_expired() -> None:
    edge = {"uuid": "e", "fact": "Old news", "created_at": "2025-01-01T00:00:00Z",
            "expired_at": "2025-02-01T00:00:00.123456789Z", "invalid_at": "2025-01-20T00:00:00Z",
            "attributes": {"k": "v"}}
    record = codec.fact_record(edge, "u")
    assert record.updated_at.isoformat() == "2025-02-01T00:00:00.123456+00:00"
    assert record.item.metadata["attributes"] == {"k": "v"} and record.item.metadata["episodes"] == []


async def test_listing_follows_zeps_cursor(zep: FakeZep) -> None:
    zep.max_page_size = 3
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory=f"Row {i}") for i in range(8)])
        page = await built.list_records(MemoryFilter(user_id="u"), sort=Sort(field=SortField.CREATED,
                                                                             descending=False), limit=50)
    assert [r.item.memory for r in page.records] == [f"Row {i}" for i in range(8)]
    bodies = [c.body for c in zep.calls_to("POST", EDGES)]
    assert len(bodies) == 3 and "cursor" not in bodies[0] and bodies[1]["cursor"] and bodies[2]["cursor"]


async def test_listing_from_servers_without_a_cursor_header_pages_by_uuid() -> None:
    with FakeZep(KEY, max_page_size=1000, cursor_header=False) as zep:
        async with opened(zep.url) as built:
            await built.add_items([MemoryItem(user_id="u", memory=f"Row {i}") for i in range(150)])
            assert await built.count_records(MemoryFilter(user_id="u")) == 150
        bodies = [c.body for c in zep.calls_to("POST", EDGES)]
    assert bodies[0] == {"limit": 100} and list(bodies[1]) == ["limit", "uuid_cursor"] and len(bodies) == 2


async def test_count_equals_listing(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="a", memory=f"Count row {i}") for i in range(7)]
                              + [MemoryItem(user_id="b", memory="Bob row")])
        filters = [MemoryFilter(user_id="a"), MemoryFilter(user_id="a", text_contains="ROW 3"),
                   MemoryFilter(user_id="b"), MemoryFilter(), MemoryFilter(metadata={"name": "STATES"})]
        counts = [await built.count_records(f) for f in filters]
        listed = [len((await built.list_records(f)).records) for f in filters]
        everyone = (await built.list_records(MemoryFilter())).records
    assert counts == listed == [7, 1, 1, 8, 8]
    assert sorted({r.user_id for r in everyone}) == ["a", "b"]


async def test_too_many_facts_is_a_clear_error(zep: FakeZep) -> None:
    async with opened(zep.url, max_scan=3) as built:
        await built.add_items([MemoryItem(user_id="u", memory=f"Row {i}") for i in range(4)])
        with pytest.raises(UnsupportedError, match="more than 3 facts to read; pick a user, or raise max_scan"):
            await built.list_records(MemoryFilter(user_id="u"))


async def test_users_are_listed_across_pages_with_counts(zep: FakeZep) -> None:
    zep.max_page_size = 2
    with _raw(zep) as raw:
        raw.post("users", json={"user_id": "p-empty"}).raise_for_status()
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id=u, memory=f"Memory {i} of {u}") for u, n in
                               (("p-c", 2), ("p-a", 3), ("other", 1), ("p-b", 1)) for i in range(n)])
        first = await built.list_users(prefix="p-", limit=2)
        rest = await built.list_users(prefix="p-", limit=2, cursor=first.next_cursor)
        everyone = await built.list_users()
        with pytest.raises(InvalidInputError, match="invalid page cursor"):
            await built.list_users(cursor=first.next_cursor[:-4] + "AAA=")
    assert [(u.user_id, u.memory_count) for u in first.users + rest.users] == [
        ("p-a", 3), ("p-b", 1), ("p-c", 2), ("p-empty", 0)]
    assert rest.next_cursor is None and len(everyone.users) == 5
    empty = rest.users[-1]
    assert empty.last_activity == codec.when(zep.project.users["p-empty"]["created_at"])
    assert zep.calls_to("GET", "/users-ordered")[1].query["search"] == "p-"


async def test_get_record_finds_the_owner(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory="From a text"),
                               MemoryItem(user_id="u", conversation=_chat("From a chat"))])
        records = {r.item.memory: r for r in (await built.list_records(MemoryFilter(user_id="u"))).records}
        for record in records.values():
            assert await built.get_record(record.id) == record
        with _raw(zep) as raw:
            raw.post("graph", json={"user_id": "u", "type": "text", "data": "Written elsewhere"}).raise_for_status()
        orphan = next(e["uuid"] for e in zep.project.edges.values() if e["fact"] == "Written elsewhere")
        with pytest.raises(UnsupportedError, match="none of its episodes says whose graph"):
            await built.get_record(orphan)
        for missing in ("not-a-uuid", "6f1f5b7e-0000-4000-8000-000000000000"):
            with pytest.raises(NotFoundError):
                await built.get_record(missing)


async def test_delete_records_counts_only_facts_that_existed(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", memory=f"Fact {i}") for i in range(3)])
        ids = [r.id for r in (await built.list_records(MemoryFilter(user_id="u"))).records]
        assert await built.delete_records([ids[0], ids[0].replace("-", ""), "junk",
                                           "6f1f5b7e-0000-4000-8000-000000000000"]) == 1
        assert await built.delete_records(ids) == 2
    assert _facts(zep, "u") == []


async def test_threads_messages_and_episodes_for_the_dashboard(zep: FakeZep) -> None:
    zep.max_page_size = 2
    async with opened(zep.url) as built:
        await built.add_items([MemoryItem(user_id="u", conversation=_chat("a", "b", "c"), metadata={"thread_id": "t"}),
                               MemoryItem(user_id="u", memory="a text")])
        assert [t.thread_id for t in await built.list_threads("u")] == ["t"]
        assert await built.list_threads("nobody") == []
        first = await built.thread_messages("t", limit=2)
        second = await built.thread_messages("t", limit=2, cursor=first.next_cursor)
        assert [m.content for m in first.messages + second.messages] == ["a", "b", "c"]
        assert (first.total_count, second.next_cursor) == (3, None)
        episodes, cursor = [], None
        for _ in range(5):
            page = await built.list_episodes("u", cursor=cursor)
            episodes += page.episodes
            cursor = page.next_cursor
            if cursor is None:
                break
        assert [(e.content, e.source, e.thread_id) for e in episodes] == [
            ("a text", "text", None), ("c", "message", "t"), ("b", "message", "t"), ("a", "message", "t")]
        assert (await built.list_episodes("nobody")).episodes == []
        with pytest.raises(NotFoundError):
            await built.thread_messages("nope")
        with pytest.raises(InvalidInputError, match="invalid page cursor"):
            await built.thread_messages("t", cursor=encode_cursor("x"))
        assert await built.delete_thread("t") is True and await built.delete_thread("t") is False
        assert _facts(zep, "u") == ["a text"]
        assert await built.delete_user("u") is True and await built.delete_user("u") is False


async def test_update_and_import_are_unsupported(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        with pytest.raises(UnsupportedError, match="no versioned update"):
            await built.update_record("x", MemoryPatch(memory="y"), expected_version=1)
        record = MemoryRecord.model_validate({"id": "x", "item": {"user_id": "u", "memory": "y"},
                                              "created_at": "2025-01-01T00:00:00Z",
                                              "updated_at": "2025-01-01T00:00:00Z"})
        with pytest.raises(UnsupportedError, match="cannot be imported losslessly"):
            await built.add_records([record])


async def test_bad_listing_arguments_are_refused(zep: FakeZep) -> None:
    async with opened(zep.url) as built:
        with pytest.raises(InvalidInputError, match="limit must be a whole number from 1 to 10,000, got 0"):
            await built.list_records(MemoryFilter(user_id="u"), limit=0)
        with pytest.raises(InvalidInputError, match="invalid page cursor"):
            await built.list_records(MemoryFilter(user_id="u"), cursor="bm90LWpzb24=")
