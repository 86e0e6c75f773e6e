"""The dashboard over the ``redis_memory`` store on a real Redis 8.2: browse, search, edit, delete."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_helpers import Dash, messages, ok, texts

from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter
from tests.servers_redis import RedisServer, redis_server  # noqa: F401

SEARCH = "FormSubmitter:search_form-Search"


@pytest.fixture
def dash(tmp_path: Path, redis_server: RedisServer) -> Iterator[Dash]:  # noqa: F811
    prefix = f"dash{uuid.uuid4().hex[:8]}"
    made = Dash.create(tmp_path, {"rd": {"_type": "redis_memory", "port": redis_server.port, "key_prefix": prefix}})
    editor = made.hub.editor("rd")
    made.hub.runner.run(editor.add_items([
        MemoryItem(user_id="alice", memory="Alice is allergic to peanuts", tags=["health"]),
        MemoryItem(user_id="alice", memory="Alice prefers window seats", tags=["travel"]),
        MemoryItem(user_id="bob", memory="Bob hikes every weekend")]))
    yield made
    made.close()


def _record(dash: Dash, text: str):
    page = dash.hub.runner.run(dash.hub.editor("rd").list_records(MemoryFilter(user_id="alice")))
    return next(r for r in page.records if r.item.memory == text)


def test_browse_lists_one_users_memories(dash: Dash) -> None:
    at = ok(dash.app("browse", store="rd", user="alice").run())
    assert sorted(at.dataframe[0].value["memory"].tolist()) == ["Alice is allergic to peanuts",
                                                                "Alice prefers window seats"]


def test_search_shows_the_match_with_a_score(dash: Dash) -> None:
    at = ok(dash.app("search", store="rd").run())
    at.text_input(key="search_user").input("alice")
    at.text_input(key="search_query").input("peanut allergy")
    at.button(key=SEARCH).click().run()
    assert texts(ok(at))[0] == "Alice is allergic to peanuts"
    assert at.metric, "no score shown"


def test_edit_tags_saves_a_new_version(dash: Dash) -> None:
    record = _record(dash, "Alice prefers window seats")
    at = ok(dash.app("memory", store="rd", id=record.id).run())
    at.multiselect(key="detail_tags").set_value(["travel", "seating"])
    at.button(key="detail_save").click().run()
    assert messages(ok(at), "success") == ["Saved: this memory is now version 2."]
    saved = _record(dash, "Alice prefers window seats")
    assert (saved.item.tags, saved.version) == (["travel", "seating"], 2)


def test_delete_from_the_memory_page(dash: Dash) -> None:
    record = _record(dash, "Alice is allergic to peanuts")
    at = ok(dash.app("memory", store="rd", id=record.id).run())
    at.button(key="detail_delete").click().run()
    at.button(key="detail_delete_confirm").click().run()
    ok(at)
    remaining = dash.hub.runner.run(dash.hub.editor("rd").count_records(MemoryFilter(user_id="alice")))
    assert remaining == 1
