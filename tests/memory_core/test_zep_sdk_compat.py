"""The official ``zep-cloud`` SDK (3.x, the toolkit's ``zep-cloud~=3.0``) against ``tests/helpers/fake_zep.py``.

Every call the toolkit's Zep editor and memdash's store make is done here through the SDK, whose models parse
every answer: if the fake drifted from Zep's API, these tests would fail. They need ``zep-cloud`` (the ``dev``
extra) and never skip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from zep_cloud import BadRequestError, NotFoundError
from zep_cloud.client import AsyncZep
from zep_cloud.core.api_error import ApiError
from zep_cloud.types import Message

from memory_core.builder import MemoryBuilder
from memory_core.config import parse_config
from memory_core.models import MemoryItem
from tests.helpers.fake_zep import FakeZep

KEY = "z-sdk-key"


@pytest.fixture
def zep() -> Iterator[FakeZep]:
    with FakeZep(KEY) as server:
        yield server


@pytest_asyncio.fixture
async def client(zep: FakeZep, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncZep]:
    monkeypatch.delenv("ZEP_API_URL", raising=False)  # the SDK would prefer it to base_url
    yield AsyncZep(api_key=KEY, base_url=zep.api_url)


async def test_users_add_get_list_and_delete(client: AsyncZep, zep: FakeZep) -> None:
    added = await client.user.add(user_id="jane", email="jane@example.com", first_name="Jane", last_name="Doe")
    assert added.user_id == "jane" and added.uuid_ and added.created_at
    got = await client.user.get(user_id="jane")
    assert (got.user_id, got.email, got.first_name) == ("jane", "jane@example.com", "Jane")
    with pytest.raises(BadRequestError) as duplicate:
        await client.user.add(user_id="jane")
    assert duplicate.value.status_code == 400 and "already exists" in str(duplicate.value.body)
    await client.user.add(user_id="ann")
    listed = await client.user.list_ordered(page_number=1, page_size=1, order_by="user_id", asc=True)
    assert [u.user_id for u in listed.users or []] == ["ann"] and listed.total_count == 2
    assert (await client.user.delete(user_id="jane")).message == "OK"
    with pytest.raises(NotFoundError) as missing:
        await client.user.get(user_id="jane")
    assert missing.value.status_code == 404 and missing.value.body.message == "not found"
    assert zep.calls[0].headers["authorization"] == f"Api-Key {KEY}"


async def test_the_toolkit_editors_flow(client: AsyncZep) -> None:
    """What ``nat.plugins.zep_cloud.zep_editor.ZepEditor`` does: ensure the user, create the thread (409 when it
    exists), add messages, search the graph, fall back to the thread's context, delete the user's threads."""
    with pytest.raises(NotFoundError):
        await client.user.get(user_id="sam")
    await client.user.add(user_id="sam")
    thread = await client.thread.create(thread_id="conv-1", user_id="sam")
    assert (thread.thread_id, thread.user_id) == ("conv-1", "sam")
    with pytest.raises(ApiError) as exists:
        await client.thread.create(thread_id="conv-1", user_id="sam")
    assert exists.value.status_code == 409
    added = await client.thread.add_messages(thread_id="conv-1", messages=[
        Message(role="user", content="My name is Sam", name="Sam"),
        Message(role="assistant", content="Hello Sam"),
        Message(role="user", content="I enjoy cooking")], ignore_roles=["assistant"])
    assert len(added.message_uuids or []) == 3
    found = await client.graph.search(query="my name, and is cooking my hobby?", user_id="sam", limit=3)
    assert sorted(e.fact for e in found.edges or []) == ["I enjoy cooking", "My name is Sam"]
    context = await client.thread.get_user_context(thread_id="conv-1")
    assert "My name is Sam" in (context.context or "")
    threads = await client.user.get_threads(user_id="sam")
    assert [t.thread_id for t in threads] == ["conv-1"]
    for listed in threads:
        assert (await client.thread.delete(thread_id=listed.thread_id or "")).message == "OK"
    with pytest.raises(NotFoundError):
        await client.thread.get(thread_id="conv-1")
    assert (await client.graph.search(query="cooking", user_id="sam")).edges == []


async def test_messages_pages_and_episodes(client: AsyncZep) -> None:
    await client.user.add(user_id="u")
    await client.thread.create(thread_id="t", user_id="u")
    await client.thread.add_messages(thread_id="t", messages=[Message(role="user", content=f"line {i}")
                                                              for i in range(5)])
    page = await client.thread.get(thread_id="t", limit=2, cursor=2)
    assert [m.content for m in page.messages or []] == ["line 2", "line 3"]
    assert (page.total_count, page.user_id, page.row_count) == (5, "u", 2)
    assert [m.content for m in (await client.thread.get(thread_id="t", lastn=1)).messages or []] == ["line 4"]
    episodes = await client.graph.episode.get_by_user_id(user_id="u", lastn=2)
    assert [(e.content, e.thread_id, e.role_type) for e in episodes.episodes or []] == [
        ("line 3", "t", "user"), ("line 4", "t", "user")]
    one = await client.graph.episode.get(uuid_=(episodes.episodes or [])[0].uuid_)
    assert one.content == "line 3" and one.source == "message"
    listed = await client.graph.episode.with_raw_response.list_by_user_id(user_id="u", limit=3,
                                                                          order_by="created_at", direction="asc")
    assert [e.content for e in listed.data] == ["line 0", "line 1", "line 2"]
    rest = await client.graph.episode.list_by_user_id(user_id="u", limit=3,
                                                      cursor=listed.headers["zep-next-cursor"])
    assert [e.content for e in rest] == ["line 3", "line 4"]
    threads = await client.thread.list_all(page_number=1, page_size=10)
    assert [t.thread_id for t in threads.threads or []] == ["t"] and threads.total_count == 1


async def test_graph_add_search_scopes_and_edges(client: AsyncZep) -> None:
    await client.user.add(user_id="u")
    episode = await client.graph.add(user_id="u", type="text", data="Ana's favourite tea is oolong",
                                     metadata={"source": "crm"})
    assert episode.uuid_ and episode.source == "text" and episode.metadata == {"source": "crm"}
    await client.graph.add(user_id="u", type="text", data="Ana drinks coffee on Mondays")
    scored = await client.graph.search(query="favourite tea", user_id="u", reranker="cross_encoder", limit=5)
    assert [e.fact for e in scored.edges or []] == ["Ana's favourite tea is oolong"]
    assert scored.edges and 0 < (scored.edges[0].score or 0) <= 1
    nodes = await client.graph.search(query="oolong", user_id="u", scope="nodes")
    assert [n.summary for n in nodes.nodes or []] == ["Ana's favourite tea is oolong"]
    texts = await client.graph.search(query="coffee", user_id="u", scope="episodes")
    assert [e.content for e in texts.episodes or []] == ["Ana drinks coffee on Mondays"]
    edges = await client.graph.edge.get_by_user_id(user_id="u", limit=1)
    raw = await client.graph.edge.with_raw_response.get_by_user_id(user_id="u", limit=1)
    following = await client.graph.edge.get_by_user_id(user_id="u", limit=1, cursor=raw.headers["zep-next-cursor"])
    assert len(edges) == len(following) == 1 and edges[0].uuid_ != following[0].uuid_
    edge = await client.graph.edge.get(uuid_=edges[0].uuid_)
    assert edge.fact == edges[0].fact and edge.episodes
    assert (await client.graph.edge.delete(uuid_=edge.uuid_)).message == "OK"
    with pytest.raises(NotFoundError):
        await client.graph.edge.get(uuid_=edge.uuid_)
    with pytest.raises(BadRequestError):
        await client.graph.add(user_id="u", type="text", data="x" * 10_001)


async def test_a_wrong_key_is_401_with_zeps_body(zep: FakeZep, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZEP_API_URL", raising=False)
    wrong = AsyncZep(api_key="not-the-key", base_url=zep.api_url)
    with pytest.raises(ApiError) as rejected:
        await wrong.user.get(user_id="anyone")
    assert rejected.value.status_code == 401 and rejected.value.body == {"message": "unauthorized"}


async def test_the_sdk_reads_what_memdash_wrote(client: AsyncZep, zep: FakeZep) -> None:
    config = parse_config(f"memory:\n  m:\n    _type: zep_memory\n    base_url: {zep.url}\n    api_key: {KEY}\n")
    async with MemoryBuilder(config) as builder:
        store = await builder.get_memory_client("m")
        await store.add_items([MemoryItem(user_id="u", conversation=[{"role": "user", "content": "I like jazz"}]),
                               MemoryItem(user_id="u", memory="Jazz clubs open late")])
    threads = await client.user.get_threads(user_id="u")
    assert [t.thread_id for t in threads] == ["default_zep_thread-u"]
    found = await client.graph.search(query="jazz", user_id="u", limit=5)
    assert sorted(e.fact for e in found.edges or []) == ["I like jazz", "Jazz clubs open late"]
