"""Playground page (AppTest): offline agent turns write and retrieve memories through the tools (audited, with
links), each turn's trace inside that turn, a contradicting fact proposed as an update of the old memory
(applied, undone or declined by the operator), a known fact not stored twice, the agent banner, a viewer
refused, snapshot save/restore round trip, the user's timeline."""

from __future__ import annotations

import json

import yaml

from dashboard import context
from dashboard.services import memories, timeline
from memory_core.access import Actor, Role
from memory_core.audit import AuditQuery
from memory_core.records import MemoryPatch
from tests.helpers.dashboard import HOSTILE, LOCAL_ADMIN, assert_shown_as_text, messages, ok


def chat(at, text: str):
    at.chat_input(key="playground_input").set_value(text).run()
    return ok(at)


def links(at) -> list[dict[str, str]]:
    return [dict(link.proto.query_string and [p.split("=", 1) for p in link.proto.query_string.split("&")])
            for link in at.page_link if link.proto.page.endswith("memory")]


def turns(at) -> list[tuple[str, str, list[str]]]:
    """Each assistant message as (the user's message before it, its reply, the texts of its trace)."""
    said = at.chat_message
    return [(said[i - 1].text[0].value, said[i].text[0].value, [t.value for t in said[i].expander[0].text])
            for i in range(1, len(said), 2)]


def test_a_turn_writes_a_preference_and_the_next_retrieves_it(dash):
    dash.add(user="alice", memory="Alice lives in Lisbon")
    at = ok(dash.app("playground").run())
    assert messages(at, "info") == ["Offline agent (no LLM configured)"]
    assert at.selectbox(key="playground_user").value == "alice"
    chat(at, "Hello! I love green tea and jazz.")
    [record] = [r for r in dash.records(user_id="alice") if r.item.memory != "Alice lives in Lisbon"]
    assert record.item.memory == "Alice loves green tea and jazz." and record.item.tags == ["preference"]
    assert record.item.conversation == [{"role": "user", "content": "Hello! I love green tea and jazz."}]
    [(_, reply, trace)] = turns(at)
    assert reply == "Noted. I'll remember: Alice loves green tea and jazz."
    assert "+ Alice loves green tea and jazz.  [preference]" in trace
    assert {"store": "main", "id": record.id} in links(at)
    [entry] = dash.hub.audit.entries(AuditQuery(memory_id=record.id))
    assert entry.operation == "add" and entry.actor == "local (auth off)"

    chat(at, "Which tea do I like?")
    first, second = turns(at)
    assert first[0] == "Hello! I love green tea and jazz."
    assert "+ Alice loves green tea and jazz.  [preference]" in first[2]
    assert second[0] == "Which tea do I like?"
    assert second[1] == "From what I remember: Alice loves green tea and jazz."  # words, no scores
    scored = [t for t in second[2] if t.endswith("Alice loves green tea and jazz.") and t[0].isdigit()]
    assert scored and float(scored[0].split()[0]) > 0  # the score is in the turn's trace
    assert len(dash.records(user_id="alice")) == 2  # a question is not a preference


def test_a_contradicting_fact_is_proposed_as_an_update_of_the_old_memory_not_added(dash):
    old = dash.add(user="alice", memory="Alice always books a window seat.", tags=["travel", "preference"])
    at = ok(dash.app("playground").run())
    chat(at, "Please remember: I now prefer aisle seats.")
    assert [r.item.memory for r in dash.records(user_id="alice")] == ["Alice always books a window seat."]
    assert len(list(dash.hub.audit.entries(AuditQuery()))) == 1  # the seed: the agent changed nothing
    [(_, reply, trace)] = turns(at)
    assert reply == ("Noted — this changes what I had: “Alice always books a window seat.” I propose to update it "
                     "to “Alice now prefers aisle seats.”")
    assert "old  Alice always books a window seat." in trace and "new  Alice now prefers aisle seats." in trace
    assert not any(t.startswith("+ ") for t in trace)
    [answer] = [m for m in at.chat_message if m.name == "assistant"]
    assert [b.label for b in answer.expander[0].button] == ["Update the old memory", "Keep both"]
    assert {"store": "main", "id": old} in links(at)

    chat(at, "Which seats do I prefer?")  # the first turn keeps its proposal
    assert [b.label for b in at.chat_message[1].expander[0].button] == ["Update the old memory", "Keep both"]
    assert not at.chat_message[3].expander[0].button

    at.chat_message[1].expander[0].button[0].click().run()
    assert any("Updated “Alice always books a window seat.” to “Alice now prefers aisle seats.”" in m
               for m in messages(ok(at), "success"))
    [record] = dash.records(user_id="alice")
    assert (record.id, record.item.memory, record.version) == (old, "Alice now prefers aisle seats.", 2)
    assert record.item.tags == ["travel", "preference"]
    [edit] = dash.hub.audit.entries(AuditQuery(operation="update"))
    assert edit.memory_id == old and edit.actor == "local (auth off)" and edit.batch
    assert [b.label for b in at.chat_message[1].expander[0].button] == ["Undo the edit"]

    at.chat_message[1].expander[0].button[0].click().run()
    assert any("Undone 1 change." in m for m in messages(ok(at), "success"))
    assert [r.item.memory for r in dash.records(user_id="alice")] == ["Alice always books a window seat."]
    assert [b.label for b in at.chat_message[1].expander[0].button] == ["Update the old memory", "Keep both"]


def test_keep_both_adds_the_fact_as_a_memory_of_its_own(dash):
    dash.add(user="alice", memory="Alice always books a window seat.")
    at = ok(dash.app("playground").run())
    chat(at, "Please remember: I now prefer aisle seats.")
    at.chat_message[1].expander[0].button[1].click().run()
    assert sorted(r.item.memory for r in dash.records(user_id="alice")) == [
        "Alice always books a window seat.", "Alice now prefers aisle seats."]
    trace = turns(ok(at))[0][2]
    assert "+ Alice now prefers aisle seats.  [preference]" in trace
    assert not at.chat_message[1].expander[0].button


def test_an_update_of_a_memory_changed_since_the_turn_is_refused(dash):
    old = dash.add(user="alice", memory="Alice always books a window seat.")
    at = ok(dash.app("playground").run())
    chat(at, "Please remember: I now prefer aisle seats.")
    memories.update_memory(dash.hub, LOCAL_ADMIN, "main", old, MemoryPatch(memory="Alice books window seats."),
                           expected_version=1)
    at.chat_message[1].expander[0].button[0].click().run()
    assert messages(ok(at), "error") == ["Nothing was changed: that memory changed since this turn; open it to "
                                         "decide"]
    assert dash.get(old).item.memory == "Alice books window seats."

def test_a_fact_already_remembered_is_not_stored_twice(dash):
    dash.add(user="alice", memory="Alice loves green tea.")
    at = ok(dash.app("playground").run())
    chat(at, "I love green tea.")
    assert [r.item.memory for r in dash.records(user_id="alice")] == ["Alice loves green tea."]
    [(_, reply, trace)] = turns(at)
    assert "= Alice loves green tea.  (already remembered: not stored twice)" in trace
    assert "I'll remember" not in reply

def test_a_typed_user_and_hostile_text(dash):
    at = ok(dash.app("playground").run())
    at.text_input(key="playground_user_typed").set_value(HOSTILE).run()
    chat(at, "I like " + HOSTILE)
    assert dash.records(user_id=HOSTILE)
    assert_shown_as_text(at, HOSTILE)


def test_the_llm_banner_names_model_and_url_never_the_key(dash, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_KEY", "sk-secret-123")
    config = yaml.safe_load(dash.config.read_text())
    config["llms"] = {"chat": {"_type": "openai", "base_url": "http://127.0.0.1:9/v1", "model_name": "demo-model",
                               "api_key": "${PLAYGROUND_KEY}"}}
    dash.config.write_text(yaml.safe_dump(config))
    at = ok(dash.app("playground").run())
    assert messages(at, "info") == ["LLM: demo-model at http://127.0.0.1:9/v1"]
    at.text_input(key="playground_user_typed").set_value("bob").run()
    chat(at, "I prefer window seats.")
    assert any("The LLM failed, the offline agent answered: llm endpoint" in m for m in messages(at, "warning"))
    assert [r.item.memory for r in dash.records(user_id="bob")] == ["Bob prefers window seats."]
    assert all("sk-secret-123" not in body for kind in ("info", "warning", "text") for body in
               [getattr(e, "value", "") for e in getattr(at, kind)])


def test_a_viewer_cannot_chat(dash, monkeypatch):
    dash.add(user="alice")
    monkeypatch.setattr(context, "actor", lambda: Actor("viv", Role.VIEWER))
    at = ok(dash.app("playground").run())
    assert any("viv is a viewer on store 'main' and may not chat" in m for m in messages(at, "error"))
    assert not at.chat_input


def test_snapshot_save_and_restore_round_trip(dash):
    dash.add(user="alice", memory="first", id="a1")
    dash.add(user="bob", memory="second", id="b1", minutes=1)
    before = [r.model_dump() for r in dash.records()]
    at = ok(dash.app("playground").run())
    at.text_input(key="snapshot_name").set_value("demo-start").run()
    at.button(key="snapshot_save").click().run()
    assert messages(ok(at), "success") == ["Snapshot demo-start saved: 2 memories."]
    assert (dash.config.parent / "snapshots" / "main" / "demo-start.jsonl").is_file()
    chat(at, "I hate rain.")
    dash.add(user="carol", memory="third", id="c1", minutes=2)
    assert len(dash.records()) == 4
    at.selectbox(key="snapshot_choice").set_value("demo-start").run()
    at.button(key="snapshot_restore").click().run()
    assert messages(ok(at), "success") == ["Snapshot demo-start restored: 2 memories."]
    assert [r.model_dump() for r in dash.records()] == before
    assert [e.operation for e in dash.hub.audit.entries(AuditQuery(operation="export"))] == ["export"]
    assert len(list(dash.hub.audit.entries(AuditQuery(operation="delete")))) == 4


def test_an_editor_cannot_restore(dash, monkeypatch):
    dash.add(user="alice", memory="first")
    at = ok(dash.app("playground").run())
    at.button(key="snapshot_save").click().run()
    monkeypatch.setattr(context, "actor", lambda: Actor("ed", Role.EDITOR))
    at.button(key="snapshot_restore").click().run()
    assert any("may not restore snapshots" in m for m in messages(ok(at), "error"))
    assert len(dash.records()) == 1


def test_timeline_renders_audit_and_timestamp_events(dash):
    dash.add(user="alice", memory="old one", id="old")
    at = ok(dash.app("playground").run())
    chat(at, "I always walk to work.")
    [chart] = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert chart["encoding"]["y"]["field"] == "change"
    table = at.dataframe[0].value  # the timeline's table comes before the snapshots'
    assert list(table["change"]) == ["added", "added"]
    assert list(table["memory"]) == ["old one", "Alice always walks to work."]
    assert set(table["source"]) == {"audit log"}


def test_timeline_falls_back_to_timestamps(dash):
    dash.add(user="alice", memory="edited outside", id="x")
    record = dash.get("x")
    later = record.model_copy(update={"updated_at": record.updated_at.replace(year=2025)})
    events = timeline.user_timeline(dash.hub, "main", "alice")
    assert [(e.kind, e.source) for e in events] == [("added", "audit log")]
    dash.agent_write("main", "remove_items", user_id="alice")  # outside memdash: no audit
    dash.agent_write("main", "add_records", [later.model_copy(update={"id": "y"})])
    events = timeline.user_timeline(dash.hub, "main", "alice")
    assert [(e.kind, e.memory_id, e.source) for e in events] == [
        ("added", "y", "timestamps"), ("edited", "y", "timestamps"), ("added", "x", "audit log")]


def test_the_guided_demo_walks_remember_recall_correct_and_the_answer_changes(dash):
    dash.add(user="sam", memory="Sam likes jazz.")  # taken: the demo picks a user with no memories
    at = ok(dash.app("playground").run())
    at.button(key="playground_demo_start").click().run()
    for _ in range(3):
        at.button(key="playground_demo_next").click().run()
        ok(at)
    user = "sam.rivera"
    assert at.text_input(key="playground_user_typed").value == user
    assert "playground_demo_next" not in [b.key for b in at.button]  # waits for the operator's decision
    assert any("Apply the agent's proposal first" in m for m in messages(at, "warning"))
    [_, recall, correct] = turns(at)
    assert recall[1] == "From what I remember: Sam Rivera always books a window seat."
    assert "I propose to update it to “Sam Rivera now prefers an aisle seat.”" in correct[1]
    [update] = [b for b in at.chat_message[5].expander[0].button if b.label == "Update the old memory"]
    update.click().run()
    at.button(key="playground_demo_next").click().run()
    assert turns(ok(at))[-1][1] == "From what I remember: Sam Rivera now prefers an aisle seat."
    assert sorted(r.item.memory for r in dash.records(user_id=user)) == ["Sam Rivera is vegetarian.",
                                                                        "Sam Rivera now prefers an aisle seat."]
    operations = sorted(e.operation for e in dash.hub.audit.entries(AuditQuery(user_id=user)))
    assert operations == ["add", "add", "update"]
    assert any("That is the whole demo" in m for m in messages(at, "success"))


def test_the_playground_agents_recall_counts_as_the_agent_using_a_memory(dash):
    tea = dash.add(user="alice", memory="Alice loves green tea.")
    at = ok(dash.app("playground").run())
    chat(at, "Which tea do I like?")
    page = ok(dash.app("memory", id=tea).run())
    assert any(c.value.startswith("Used by the agent 1 time") for c in page.caption)
