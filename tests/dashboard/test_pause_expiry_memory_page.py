"""Pause and expiry on the Memory page (AppTest): pausing is one audited edit after which the agent's search no
longer returns the memory, resuming brings it back, an expiry date is set and removed; a viewer gets no controls."""

from __future__ import annotations

import datetime as dt

from memory_core import life
from memory_core.audit import AuditQuery
from tests.helpers.dashboard import messages, ok


def agent_finds(dash, query: str) -> list[str]:
    return [i.memory for i in dash.hub.runner.run(dash.hub.editor("main").search(query, user_id="alice"))]


def test_pause_then_resume_for_the_agent(dash):
    tea = dash.add(memory="Alice drinks green tea")
    at = ok(dash.app("memory", id=tea).run())
    at.button(key="life_pause").click().run()
    assert "Paused: the memory is now version 2 (audited)." in messages(ok(at), "success")
    assert dash.get(tea).item.metadata == {life.PAUSED: True}
    assert agent_finds(dash, "green tea") == []
    assert any("Paused: the agent's search does not return" in w for w in messages(at, "warning"))
    [edit] = dash.hub.audit.entries(AuditQuery(memory_id=tea, operation="update"))
    assert edit.after["metadata"] == {life.PAUSED: True}
    at.button(key="life_pause").click().run()  # now labelled "Resume for the agent"
    assert dash.get(tea).item.metadata == {} and agent_finds(dash, "green tea") == ["Alice drinks green tea"]


def test_an_expiry_date_is_set_and_removed(dash):
    tea = dash.add(memory="Alice drinks green tea")
    at = ok(dash.app("memory", id=tea).run())
    later = dt.date.today() + dt.timedelta(days=30)
    at.date_input(key="life_day").set_value(later).run()
    at.button(key="life_set").click().run()
    assert life.expires_at(dash.get(tea).item).date() == later
    assert any(c.value.startswith("Expires ") for c in ok(at).caption)
    assert agent_finds(dash, "green tea") == ["Alice drinks green tea"]  # not yet
    at.button(key="life_clear").click().run()
    assert life.expires_at(dash.get(tea).item) is None


def test_the_trash_page_moves_expired_memories_there_and_they_can_be_restored(dash):
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    gone = dash.add(memory="Alice is in Paris this week", metadata={life.EXPIRES_AT: past})
    kept = dash.add(memory="Alice lives in Lisbon", minutes=1)
    at = ok(dash.app("trash").run())
    at.button(key="trash_sweep").click().run()
    assert "Moved 1 expired memory to the trash." in messages(ok(at), "success")
    assert [r.id for r in dash.records(user_id="alice")] == [kept]
    [deleted] = dash.hub.audit.entries(AuditQuery(operation="delete"))
    assert deleted.memory_id == gone
    assert at.dataframe[0].value.shape[0] == 1  # in the trash, restorable
    at.button(key="trash_sweep").click().run()
    assert "No memory has expired." in messages(ok(at), "info")


def test_a_mem0_memory_gets_an_expiry_date_mem0_enforces_and_no_pause(make_dash):
    """Mem0 has no pause an agent searching it directly would obey: only the expiry control, sent as Mem0's own
    expiration_date (docs/stores/mem0.md)."""
    from dashboard.services import memories
    from memory_core.access import LOCAL_ADMIN
    from memory_core.models import MemoryItem
    from tests.helpers.fake_mem0 import FakeMem0

    with FakeMem0("m0-key") as mem0:
        dash = make_dash({"m": {"_type": "mem0_memory", "host": mem0.url, "api_key": "m0-key", "timeout": 5}})
        memories.add_memory(dash.hub, LOCAL_ADMIN, "m", MemoryItem(user_id="alice", memory="Alice is in Paris"))
        [memory_id] = mem0.project.memories
        at = ok(dash.app("memory", store="m", id=memory_id).run())
        assert "life_pause" not in [b.key for b in at.button]
        later = dt.date.today() + dt.timedelta(days=30)
        at.date_input(key="life_day").set_value(later).run()
        at.button(key="life_set").click().run()
        assert any(c.value.startswith("Expires ") for c in ok(at).caption)
        assert mem0.project.memories[memory_id]["expiration_date"] in (str(later - dt.timedelta(days=1)), str(later))
        [edit] = dash.hub.audit.entries(AuditQuery(memory_id=memory_id, operation="update"))
        assert life.EXPIRES_AT in edit.after["metadata"]
