"""Add: a memory with text, conversation turns, tags and metadata, validated field by field; after an add the
form is a new, empty one (a second click on the old one adds nothing)."""

from tests.helpers.dashboard import messages, ok


def submit(gen: int = 0) -> str:
    return f"FormSubmitter:add_form_{gen}-Add memory"


def fill(at, *, user="alice", memory="Likes tea.", tags=(), metadata=None, turns=None, gen=0):
    at.text_input(key=f"add_user_{gen}").input(user)
    at.text_area(key=f"add_memory_{gen}").input(memory)
    at.multiselect(key=f"add_tags_{gen}").set_value(list(tags))
    if metadata is not None:
        at.text_area(key=f"add_metadata_{gen}").input(metadata)
    if turns is not None:
        at.session_state[f"add_conversation_{gen}"] = {"edited_rows": {}, "added_rows": turns, "deleted_rows": []}
    at.button(key=submit(gen)).click().run()
    return ok(at)


def test_add_a_full_memory_and_link_to_it(dash):
    at = fill(ok(dash.app("add").run()), tags=["drinks", "new tag"], metadata='{"source": "ui", "score": 0.5}',
              turns=[{"role": "user", "content": "I love green tea"}, {"role": "assistant", "content": "Noted."}])
    [record] = dash.records()
    assert record.item.memory == "Likes tea." and record.item.tags == ["drinks", "new tag"]
    assert record.item.metadata == {"source": "ui", "score": 0.5}
    assert record.item.conversation == [{"role": "user", "content": "I love green tea"},
                                        {"role": "assistant", "content": "Noted."}]
    assert messages(at, "success") == ["Added “Likes tea.” for alice. The form below is empty: Add memory adds "
                                       "another one."]
    [link] = at.page_link
    assert (link.proto.page, link.proto.query_string) == ("memory", f"store=main&id={record.id}")
    assert at.text_area(key="add_memory_1").value == ""  # a new, empty form after a successful add
    assert at.text_area(key="add_metadata_1").value == "" and at.multiselect(key="add_tags_1").value == []
    assert at.text_input(key="add_user_1").value == "alice"  # the user stays: the next memory is often theirs


def test_after_an_add_only_a_new_form_can_submit(dash):
    at = fill(ok(dash.app("add").run()))
    assert [b.key for b in at.button if b.key.startswith("FormSubmitter")] == [submit(1)]  # form 0 is gone
    fill(at, memory="Likes coffee.", gen=1)
    assert sorted(r.item.memory for r in dash.records()) == ["Likes coffee.", "Likes tea."]


def test_a_failed_add_keeps_the_form_and_what_was_typed(dash, monkeypatch):
    from memory_core.errors import StoreUnavailableError

    def down(*args, **kwargs):
        raise StoreUnavailableError("backend at 10.0.0.1 refused the connection")

    monkeypatch.setattr("dashboard.services.memories.add_memory", down)
    at = fill(ok(dash.app("add").run()))
    assert messages(at, "error") == ["Store unavailable: backend at 10.0.0.1 refused the connection"]
    assert at.text_area(key="add_memory_0").value == "Likes tea." and dash.records() == []


def test_conversation_only_memory(dash):
    fill(ok(dash.app("add").run()), memory="", turns=[{"role": "user", "content": "hello"}])
    assert dash.records()[0].item.memory is None


def test_invalid_metadata_names_the_place_and_adds_nothing(dash):
    at = fill(ok(dash.app("add").run()), metadata='{"a": 1,}')
    assert messages(at, "error") == ["metadata is not valid JSON: Expecting property name enclosed in "
                                     "double quotes at line 1, column 9"]
    assert dash.records() == [] and at.text_area(key="add_memory_0").value == "Likes tea."


def test_each_bad_field_is_reported(dash):
    at = fill(ok(dash.app("add").run()), user="  ", memory="", metadata="[]",
              turns=[{"role": "user", "content": None}])
    errors = messages(at, "error")
    assert "conversation: turn 1 needs both a role and content" in errors
    assert "metadata must be a JSON object ({...}), not list" in errors
    assert "user_id: a user id is needed" in errors
    assert dash.records() == []


def test_nothing_to_remember_is_refused(dash):
    at = fill(ok(dash.app("add").run()), memory="   ")
    assert messages(at, "error") == ["memory: write a memory text or at least one conversation turn"]


def test_user_comes_from_the_url(dash):
    at = ok(dash.app("add", user="bob").run())
    assert at.text_input(key="add_user_0").value == "bob"


def test_store_without_ids_adds_without_a_link(make_dash):
    dash = make_dash({"toolkit": {"_type": "test_search_only"}})
    at = fill(ok(dash.app("add").run()), memory="tea time")
    assert messages(at, "success")[0].startswith("Added “tea time” for alice.") and not at.page_link
    editor = dash.hub.editor("toolkit")  # reading through the hub: search is not a change
    assert [i.memory for i in dash.hub.runner.run(editor.search("tea", user_id="alice"))] == ["tea time"]
