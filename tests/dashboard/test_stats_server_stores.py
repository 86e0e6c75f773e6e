"""The Analytics page over the server stores (``postgres`` on PostgreSQL 18, ``redis_memory`` on Redis 8.2): the
headline, charts and lists come from the store's own aggregates, and the agent's use shows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory_core.models import MemoryItem
from tests.helpers.dashboard import Dash, ok
from tests.helpers.servers_postgres import pgvector_server  # noqa: F401 - fixture
from tests.helpers.servers_redis import redis_server  # noqa: F401 - fixture


@pytest.fixture(params=["postgres", "redis"])
def dash(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Dash]:
    fresh = f"stats{uuid.uuid4().hex[:8]}"
    config = ({"_type": "postgres", "dsn": request.getfixturevalue("pgvector_server"), "schema": fresh}
              if request.param == "postgres" else
              {"_type": "redis_memory", "port": request.getfixturevalue("redis_server").port, "key_prefix": fresh})
    made = Dash.create(tmp_path, {"srv": config})
    made.agent_write("srv", "add_items", [
        MemoryItem(user_id="alice", memory="Alice is allergic to peanuts", tags=["health"]),
        MemoryItem(user_id="alice", memory="Alice prefers window seats", tags=["travel", "health"]),
        MemoryItem(user_id="bob", memory="Bob hikes every weekend")])
    yield made
    made.close()


def test_stats_page_of_a_server_store(dash: Dash) -> None:
    dash.hub.runner.run(dash.hub.editor("srv").search("peanuts", top_k=1, user_id="alice"))  # the agent's search
    at = ok(dash.app("stats", store="srv").run())
    headline = {m.label: m.value for m in at.metric}
    assert (headline["Memories"], headline["Users"]) == ("3", "2")
    assert len(at.get("vega_lite_chart")) == 3  # memories per user, top tags, growth
    assert at.dataframe(key="stats_largest").value["preview"].tolist()[0] == "Alice is allergic to peanuts"
    assert at.dataframe(key="stats_most_used").value["preview"].tolist() == ["Alice is allergic to peanuts"]
    assert sorted(at.dataframe(key="stats_never").value["preview"].tolist()) == ["Alice prefers window seats",
                                                                                 "Bob hikes every weekend"]
