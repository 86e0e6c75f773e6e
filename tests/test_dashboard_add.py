"""Add: a memory with text, conversation turns, tags and metadata, validated field by field."""

from dashboard_helpers import messages, ok

SUBMIT = "FormSubmitter:add_form-Add memory"


def fill(at, *, user="alice", memory="Likes tea.", tags=(), metadata=None, turns=None):
    at.text_input(key="add_user").input(user)
    at.text_area(key="add_memory").input(memory)
    at.multiselect(key="add_tags").set_value(list(tags))
    if metadata is not None:
        at.text_area(key="add_metadata").input(metadata)
    if turns is not None:
        at.session_state["add_conversation"] = {"edited_rows": {}, "added_rows": turns, "deleted_rows": []}
    at.button(key=SUBMIT).click().run()
    return ok(at)


def test_add_a_full_memory_and_link_to_it(dash):
    at = fill(ok(dash.app("add").run()), tags=["drinks", "new tag"], metadata='{"source": "ui", "score": 0.5}',
              turns=[{"role": "user", "content": "I love green tea"}, {"role": "assistant", "content": "Noted."}])
    [record] = dash.records()
    assert record.item.memory == "Likes tea." and record.item.tags == ["drinks", "new tag"]
    assert record.item.metadata == {"source": "ui", "score": 0.5}
    assert record.item.conversation == [{"role": "user", "content": "I love green tea"},
                                        {"role": "assistant", "content": "Noted."}]
    assert messages(at, "success") == ["Added a memory for alice."]
    [link] = at.page_link
    assert (link.proto.page, link.proto.query_string) == ("memory", f"store=main&id={record.id}")
    assert at.text_area(key="add_memory").value == ""  # the form is emptied after a successful add


def test_conversation_only_memory(dash):
    fill(ok(dash.app("add").run()), memory="", turns=[{"role": "user", "content": "hello"}])
    assert dash.records()[0].item.memory is None


def test_invalid_metadata_names_the_place_and_adds_nothing(dash):
    at = fill(ok(dash.app("add").run()), metadata='{"a": 1,}')
    assert messages(at, "error") == ["metadata is not valid JSON: Expecting property name enclosed in "
                                     "double quotes at line 1, column 9"]
    assert dash.records() == [] and at.text_area(key="add_memory").value == "Likes tea."


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
    assert at.text_input(key="add_user").value == "bob"


def test_store_without_ids_adds_without_a_link(make_dash):
    dash = make_dash({"toolkit": {"_type": "test_search_only"}})
    at = fill(ok(dash.app("add").run()), memory="tea time")
    assert messages(at, "success") == ["Added a memory for alice."] and not at.page_link
    editor = dash.hub.editor("toolkit")
    assert [i.memory for i in dash.hub.runner.run(editor.search("tea", user_id="alice"))] == ["tea time"]
