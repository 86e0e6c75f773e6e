"""Memory page: conversation, editing with a version check, metadata validation, delete, hostile text."""

import pytest

from dashboard.services import memories
from memory_core.access import LOCAL_ADMIN
from memory_core.records import MemoryPatch
from tests.helpers.dashboard import HOSTILE, assert_shown_as_text, messages, ok, texts

CONVERSATION = [{"role": "user", "content": "I hike on weekends"}, {"role": "assistant", "content": "Nice!"},
                {"role": "tool", "content": "weather: sunny"}, {"role": "Human", "content": "thanks"}]


@pytest.fixture
def memory(dash):
    return dash.add(memory="User hikes.", tags=["hobby"], metadata={"source": "chat", "n": 1},
                    conversation=CONVERSATION)


def open_page(dash, memory_id):
    return ok(dash.app("memory", id=memory_id).run())


def test_shows_the_memory_and_its_conversation(dash, memory):
    at = open_page(dash, memory)
    assert "id: m0000-alice" in texts(at) and "version: 1" in texts(at) and "user: alice" in texts(at)
    assert at.text_area(key="detail_memory").value == "User hikes."
    assert at.multiselect(key="detail_tags").value == ["hobby"]
    assert '"source": "chat"' in at.text_area(key="detail_metadata").value
    chats = [(c.name, c.avatar) for c in at.chat_message]
    assert chats == [("user", "user"), ("assistant", "assistant"), ("tool", "assistant"), ("Human", "user")]
    assert [c.value for c in at.caption if c.value in ("user", "assistant", "tool", "Human")] == \
        ["user", "assistant", "tool", "Human"]  # the role name is visible, whatever the avatar
    assert "weather: sunny" in texts(at)


def test_save_edits_memory_tags_and_metadata(dash, memory):
    at = open_page(dash, memory)
    at.text_area(key="detail_memory").input("User hikes every Sunday.")
    at.multiselect(key="detail_tags").set_value(["hobby", "weekly"])
    at.text_area(key="detail_metadata").input('{"source": "chat", "n": 2}')
    at.button(key="detail_save").click().run()
    assert messages(ok(at), "success") == ["Saved: this memory is now version 2."]
    saved = dash.get(memory)
    assert (saved.item.memory, saved.item.tags, saved.item.metadata, saved.version) == \
        ("User hikes every Sunday.", ["hobby", "weekly"], {"source": "chat", "n": 2}, 2)
    assert saved.item.conversation == CONVERSATION
    assert "version: 2" in texts(at)


def test_save_without_changes_writes_nothing(dash, memory):
    at = open_page(dash, memory)
    at.button(key="detail_save").click().run()
    assert messages(ok(at), "info") == ["Nothing changed."]
    assert dash.get(memory).version == 1


@pytest.mark.parametrize(("text", "where"), [('{"a": 1,\n  "b": }', "line 2, column 8"),
                                              ('{"a": 1', "line 1, column 8"),
                                              ("[1, 2]", "must be a JSON object")])
def test_invalid_metadata_is_refused_and_nothing_is_saved(dash, memory, text, where):
    at = open_page(dash, memory)
    at.text_area(key="detail_memory").input("changed too")
    at.text_area(key="detail_metadata").input(text)
    at.button(key="detail_save").click().run()
    errors = messages(ok(at), "error")
    assert len(errors) == 1 and errors[0].startswith("Not saved: metadata") and where in errors[0]
    assert dash.get(memory).version == 1 and dash.get(memory).item.memory == "User hikes."
    assert at.text_area(key="detail_memory").value == "changed too"  # the edit is kept for fixing


def test_version_conflict_shows_both_and_overwrites_nothing(dash, memory):
    at = open_page(dash, memory)
    memories.update_memory(dash.hub, LOCAL_ADMIN, "main", memory, MemoryPatch(memory="Someone else's text."),
                           expected_version=1)
    at.text_area(key="detail_memory").input("My text.")
    at.button(key="detail_save").click().run()
    errors = messages(ok(at), "error")
    assert any("changed this memory since you loaded it" in e and "version 2" in e for e in errors), errors
    diff = at.code[0].value
    assert "-Someone else's text." in diff and "+My text." in diff
    assert dash.get(memory).item.memory == "Someone else's text."
    at.button(key="detail_take_current").click().run()
    assert ok(at).text_area(key="detail_memory").value == "Someone else's text."
    assert "version: 2" in texts(at) and not messages(at, "error")  # the conflict and its diff are gone


def test_a_change_made_elsewhere_is_announced_before_saving(dash, memory):
    at = open_page(dash, memory)
    memories.update_memory(dash.hub, LOCAL_ADMIN, "main", memory, MemoryPatch(tags=["x"]), expected_version=1)
    at.run()
    assert any("changed since you loaded it (now version 2)" in w for w in messages(ok(at), "warning"))
    at.button(key="detail_reload").click().run()
    assert ok(at).multiselect(key="detail_tags").value == ["x"]


def test_memory_deleted_meanwhile(dash, memory):
    at = open_page(dash, memory)
    memories.delete_memories(dash.hub, LOCAL_ADMIN, "main", [memory])
    at.run()
    warnings = messages(ok(at), "warning")
    assert warnings == ["Memory m0000-alice does not exist in store 'main': it may have been deleted."]


def test_saving_a_memory_deleted_meanwhile(dash, memory):
    at = open_page(dash, memory)
    at.text_area(key="detail_memory").input("edited")
    memories.delete_memories(dash.hub, LOCAL_ADMIN, "main", [memory])
    at.button(key="detail_save").click().run()
    assert any("does not exist" in w for w in messages(ok(at), "warning"))
    assert dash.records() == []


def test_delete_asks_then_returns_to_browse(dash, memory):
    at = open_page(dash, memory)
    at.button(key="detail_delete").click().run()
    assert any("Delete this memory?" in m.value for m in ok(at).markdown)
    assert dash.records() != []
    at.button(key="detail_delete_confirm").click().run()
    assert dash.records() == []
    assert messages(ok(at), "success") == ["Deleted “User hikes.” (user alice)."]
    assert at.title[0].value == "Browse memories" and at.query_params["user"] == "alice"


def test_delete_cancelled(dash, memory):
    at = open_page(dash, memory)
    at.button(key="detail_delete").click().run()
    at.button(key="detail_delete_cancel").click().run()
    assert len(dash.records()) == 1 and "detail_delete_confirm" not in [b.key for b in ok(at).button]


def test_unknown_id(dash):
    at = open_page(dash, "does-not-exist")
    assert messages(at, "warning") == [
        "Memory does-not-exist does not exist in store 'main': it may have been deleted."]


def test_no_id_offers_to_open_one(dash, memory):
    at = ok(dash.app("memory").run())
    at.text_input(key="detail_open_id").input(memory)
    at.button(key="detail_open").click().run()
    assert at.query_params["id"] == memory
    assert ok(at).text_area(key="detail_memory").value == "User hikes."


def test_a_megabyte_of_text_is_shown_in_full(dash):
    memory_id = dash.add(memory="word " * 200_000)
    at = open_page(dash, memory_id)
    assert at.text_area(key="detail_memory").value == "word " * 200_000


def test_html_and_markdown_are_shown_as_text(dash):
    memory_id = dash.add(user="<b>eve</b>", memory=HOSTILE, tags=["**t**"], id="<i>x</i>",
                         conversation=[{"role": "<u>r</u>", "content": HOSTILE}])
    at = open_page(dash, memory_id)
    assert HOSTILE in texts(at) and "id: <i>x</i>" in texts(at)
    assert at.chat_message[0].avatar == "assistant"
    for payload in (HOSTILE, "<i>x</i>", "<u>r</u>", "**t**"):
        assert_shown_as_text(at, payload)
    at.button(key="detail_delete").click().run()
    assert_shown_as_text(ok(at), HOSTILE)


def test_a_viewer_sees_but_cannot_edit(dash, memory, monkeypatch):
    from dashboard import context
    from memory_core.access import Actor, Role

    monkeypatch.setattr(context, "actor", lambda: Actor("viv", Role.VIEWER))
    at = open_page(dash, memory)
    assert at.button(key="detail_save").disabled and at.multiselect(key="detail_tags").disabled
    assert "User hikes." in texts(at) and messages(at, "info") == ["Your role can read memories, not edit them."]


def test_after_a_save_the_page_says_whether_the_agent_still_finds_the_memory(dash, memory):
    at = open_page(dash, memory)
    at.text_area(key="detail_memory").input("User hikes in the Dolomites every Sunday.")
    at.button(key="detail_save").click().run()
    assert any(c.value.startswith("The agent's get_memory tool, asked for this text, returns it as hit 1 of")
               for c in ok(at).caption)
    [output] = [code.value for code in at.code if code.value.startswith("Memories as a JSON:")]
    assert "User hikes in the Dolomites every Sunday." in output
    at.run()
    assert not any(c.value.startswith("The agent's get_memory tool") for c in ok(at).caption)  # shown once


def test_a_conversation_written_one_message_per_memory_reads_as_one_thread(dash):
    """The toolkit's auto-memory stores each message as its own conversation-only memory; the conversation is
    named in metadata. The Memory page shows the whole thread in order, this message marked, others linked."""
    turns = [("user", "I moved to Lisbon"), ("assistant", "Noted: you live in Lisbon."), ("user", "And I'm vegan")]
    ids = [dash.add(user="alice", memory=None, minutes=i, conversation=[{"role": role, "content": text}],
                    metadata={"conversation_id": "c-42"}) for i, (role, text) in enumerate(turns)]
    dash.add(user="alice", memory=None, minutes=9, conversation=[{"role": "user", "content": "other chat"}],
             metadata={"conversation_id": "c-7"})
    at = ok(dash.app("memory", id=ids[1]).run())
    [thread] = [e for e in at.expander if e.label.startswith("The whole conversation")]
    assert thread.label == "The whole conversation: 3 memories (conversation_id c-42)"
    assert [t.value for t in thread.text] == [text for _, text in turns]
    assert [c.value for c in thread.caption if "UTC" in c.value][1].endswith("(this memory)")
    links = [link.label for link in thread.get("page_link")]
    assert [link.replace("\\", "") for link in links] == ["Open “user: I moved to Lisbon”",
                                                          "Open “user: And I'm vegan”"]  # markdown-escaped
