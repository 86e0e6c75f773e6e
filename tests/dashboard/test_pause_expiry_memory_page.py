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
