"""The dashboard's pages over a ``zep_memory`` store (against ``tests/helpers/fake_zep.py``): facts show as memories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memory_core.models import MemoryItem
from tests.helpers.dashboard import Dash, messages, ok, texts
from tests.helpers.fake_zep import FakeZep

KEY = "z-dash-key"


@pytest.fixture(scope="module")
def zep() -> Iterator[FakeZep]:
    with FakeZep(KEY) as server:
        yield server


@pytest.fixture
def dash(tmp_path: Path, zep: FakeZep) -> Iterator[Dash]:
    made = Dash.create(tmp_path, {"zep": {"_type": "zep_memory", "base_url": zep.url, "api_key": KEY}})
    made.agent_write("zep", "remove_items", user_id="alice")  # what an agent wrote before the operator came
    made.agent_write("zep", "add_items", [
        MemoryItem(user_id="alice", memory="Alice likes teal"),
        MemoryItem(user_id="alice", conversation=[{"role": "user", "content": "I moved to Oslo"},
                                                  {"role": "assistant", "content": "Welcome!"}])])
    yield made
    made.close()


def _fact_id(dash: Dash, text: str) -> str:
    hits = dash.hub.runner.run(dash.hub.editor("zep").search_records(text, user_id="alice"))
    return next(h.record.id for h in hits if h.record.item.memory == text)


@pytest.mark.parametrize("page", ["browse", "search", "memory", "add", "users", "transfer", "stores"])
def test_every_page_renders_over_zep(dash: Dash, page: str) -> None:
    params = {"id": _fact_id(dash, "Alice likes teal")} if page == "memory" else (
        {"user": "alice", "q": "teal"} if page == "search" else {})
    at = ok(dash.app(page, **params).run())
    assert not messages(at, "error")
    if page == "browse":
        assert sorted(at.dataframe[0].value["memory"].tolist()) == ["Alice likes teal", "I moved to Oslo"]
    if page == "memory":
        assert "user: alice" in texts(at)
        assert any("cannot edit memories" in m for m in messages(at, "info"))
