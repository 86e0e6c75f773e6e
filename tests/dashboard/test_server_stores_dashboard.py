"""The dashboard over the server stores (``postgres`` on PostgreSQL 18, ``redis_memory`` on Redis 8.2): browse,
search, edit, delete; and the note a PostgreSQL server without pgvector gets on the Stores page."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory_core.audit import AuditQuery
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter
from tests.helpers.dashboard import Dash, messages, ok, texts
from tests.helpers.servers_redis import RedisServer, redis_server  # noqa: F401

SEARCH = "FormSubmitter:search_form-Search"


def _store_config(kind: str, request: pytest.FixtureRequest) -> dict:
    """A fresh namespace (schema or key prefix) on the session's server of that kind."""
    fresh = f"dash{uuid.uuid4().hex[:8]}"
    if kind == "postgres":
        return {"_type": "postgres", "dsn": request.getfixturevalue("pgvector_server"), "schema": fresh}
    return {"_type": "redis_memory", "port": request.getfixturevalue("redis_server").port, "key_prefix": fresh}


@pytest.fixture(params=["postgres", "redis"])
def dash(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Dash]:
    made = Dash.create(tmp_path, {"pg": _store_config(request.param, request)})
    made.agent_write("pg", "add_items", [  # what an agent wrote before the operator came
        MemoryItem(user_id="alice", memory="Alice is allergic to peanuts", tags=["health"]),
        MemoryItem(user_id="alice", memory="Alice prefers window seats", tags=["travel"]),
        MemoryItem(user_id="bob", memory="Bob hikes every weekend")])
    yield made
    made.close()


def _record(dash: Dash, text: str):
    page = dash.hub.runner.run(dash.hub.editor("pg").list_records(MemoryFilter(user_id="alice")))
    return next(r for r in page.records if r.item.memory == text)


def test_browse_lists_one_users_memories(dash: Dash) -> None:
    at = ok(dash.app("browse", store="pg", user="alice").run())
    assert sorted(at.dataframe[0].value["memory"].tolist()) == ["Alice is allergic to peanuts",
                                                                "Alice prefers window seats"]


def test_search_shows_the_match_with_a_score(dash: Dash) -> None:
    at = ok(dash.app("search", store="pg").run())
    at.text_input(key="search_user").input("alice")
    at.text_input(key="search_query").input("peanut allergy")
    at.button(key=SEARCH).click().run()
    assert texts(ok(at))[0] == "Alice is allergic to peanuts"
    assert at.metric, "no score shown"


def test_edit_tags_saves_a_new_version(dash: Dash) -> None:
    record = _record(dash, "Alice prefers window seats")
    at = ok(dash.app("memory", store="pg", id=record.id).run())
    at.multiselect(key="detail_tags").set_value(["travel", "seating"])
    at.button(key="detail_save").click().run()
    assert messages(ok(at), "success") == ["Saved: this memory is now version 2."]
    saved = _record(dash, "Alice prefers window seats")
    assert (saved.item.tags, saved.version) == (["travel", "seating"], 2)


def test_delete_from_the_memory_page(dash: Dash) -> None:
    record = _record(dash, "Alice is allergic to peanuts")
    at = ok(dash.app("memory", store="pg", id=record.id).run())
    at.button(key="detail_delete").click().run()
    at.button(key="detail_delete_confirm").click().run()
    ok(at)
    remaining = dash.hub.runner.run(dash.hub.editor("pg").count_records(MemoryFilter(user_id="alice")))
    assert remaining == 1


def test_stores_page_says_why_vector_search_is_off(tmp_path: Path, plain_server) -> None:
    made = Dash.create(tmp_path, {
        "pg15": {"_type": "postgres", "dsn": plain_server.dsn, "password": plain_server.password,
                 "schema": f"dash_{uuid.uuid4().hex[:8]}", "embedder": "words"}})
    config = made.config.read_text() + "embedders:\n  words: {_type: hashing}\n"
    made.config.write_text(config)
    try:
        at = ok(made.app("stores").run())
        notes = messages(at, "warning")
        assert any("vector search is off" in n and "pgvector" in n for n in notes), notes
        assert any("healthy" in m for m in messages(at, "success"))
    finally:
        made.close()


def test_redis_memories_the_agent_cannot_find_are_counted_shown_and_given_vectors(
        tmp_path: Path, redis_server: RedisServer) -> None:  # noqa: F811
    """The toolkit's auto-memory wrote a conversation-only item (no vector): the Stores page counts it, its
    Memory page says why the agent cannot find it, and an admin's repair gives it a vector, audited."""
    prefix = f"reach{uuid.uuid4().hex[:8]}"
    made = Dash.create(tmp_path, {"r": {"_type": "redis_memory", "port": redis_server.port, "key_prefix": prefix,
                                        "embedder": "words"}})
    made.config.write_text(made.config.read_text() + "embedders:\n  words: {_type: hashing}\n")
    try:
        made.agent_write("r", "add_items", [MemoryItem(user_id="alice", memory="Alice keeps bees")])
        chat = {"conversation": [{"role": "user", "content": "I moved to Lisbon"}], "user_id": "alice", "tags": [],
                "metadata": {}, "memory": ""}
        with redis_server.client() as client:
            client.execute_command("JSON.SET", f"{prefix}:memory:c0ffee01", "$", json.dumps(chat))
        at = ok(made.app("stores").run())
        at.button(key="reach_r_count").click().run()
        assert "The agent's search cannot find 1 of 2 memories (no vector: 1)." in messages(ok(at), "warning")
        memory = ok(made.app("memory", store="r", id="c0ffee01").run())
        assert any(m.startswith("The agent's search cannot find this memory: no vector") for m in
                   messages(memory, "warning"))
        at.button(key="reach_r_repair").click().run()
        assert ("Gave 1 memory a vector (in the audit log): the agent's search can find them now."
                in messages(ok(at), "success"))
        assert "The agent's search can find all 2 memories." in messages(at, "success")
        [entry] = made.hub.audit.entries(AuditQuery(operation="vector"))
        assert (entry.memory_id, entry.user_id, entry.before, entry.after) == ("c0ffee01", "alice", None, None)
        assert not [m for m in messages(ok(made.app("memory", store="r", id="c0ffee01").run()), "warning")
                    if "cannot find" in m]
    finally:
        made.close()
