"""Browse: paging, sorting, filters from the URL and the form, links to memories, hostile text."""

import pytest

from tests.helpers.dashboard import HOSTILE, assert_shown_as_text, messages, ok


@pytest.fixture
def seeded(dash):
    for i in range(60):
        dash.add(user="alice" if i % 2 else "bob", memory=f"note {i}", minutes=i,
                 tags=["travel"] + (["food"] if i % 3 == 0 else []) if i % 2 else [],
                 metadata={"topic": "hiking" if i % 5 == 0 else "other", "n": i})
    return dash


def ids(at) -> list[str]:
    return at.dataframe[0].value["id"].tolist()


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def test_first_page_and_count(seeded):
    at = ok(seeded.app("browse").run())
    assert len(ids(at)) == 25
    assert ids(at)[0] == "m0059-alice"  # updated, newest first
    assert "Page 1 · rows 1–25 of 60 matching" in captions(at)


def test_keyset_paging_next_and_previous(seeded):
    at = ok(seeded.app("browse").run())
    seen = ids(at)
    at.button(key="browse_pager_next").click().run()
    seen += ids(ok(at))
    at.button(key="browse_pager_next").click().run()
    seen += ids(ok(at))
    assert len(seen) == len(set(seen)) == 60
    assert at.button(key="browse_pager_next").disabled
    assert "Page 3 · rows 51–60 of 60 matching" in captions(at)
    at.button(key="browse_pager_prev").click().run()
    assert ids(ok(at)) == seen[25:50]


def test_page_size_and_sort_from_the_url(seeded):
    at = ok(seeded.app("browse", size="50", sort="created_asc").run())
    assert len(ids(at)) == 50
    assert ids(at)[0] == "m0000-bob"
    assert at.selectbox(key="browse_size").value == 50


def test_page_size_choice_writes_the_url(seeded):
    at = ok(seeded.app("browse").run())
    at.selectbox(key="browse_size").select(100).run()
    assert at.query_params["size"] == "100"
    assert len(ids(ok(at))) == 60


def test_changing_the_filter_goes_back_to_page_one(seeded):
    at = ok(seeded.app("browse").run())
    at.button(key="browse_pager_next").click().run()
    at.text_input(key="filter_user").input("alice")
    at.button(key="FormSubmitter:filter_form-Apply").click().run()
    assert at.query_params["user"] == "alice"
    assert "Page 1 · rows 1–25 of 30 matching" in captions(ok(at))


@pytest.mark.parametrize(("params", "expected"), [
    ({"user": "alice"}, 30),
    ({"tags": "food"}, 10),
    ({"tags": "travel,food", "tags_mode": "all"}, 10),
    ({"tags": "travel,food"}, 30),
    ({"meta": "topic:hiking"}, 12),
    ({"meta": ["topic:hiking", "n:10"]}, 1),
    ({"text": "NOTE 1"}, 11),
    ({"created_from": "2024-01-01", "created_to": "2024-01-01"}, 60),
    ({"created_to": "2023-12-31"}, 0),
])
def test_filters_from_the_url(seeded, params, expected):
    at = ok(seeded.app("browse", size="100", **params).run())
    if expected:
        assert len(ids(at)) == expected
        assert f"of {expected} matching" in " ".join(captions(at))
    else:
        assert messages(at, "info") == ["No memories match this filter."]


def test_filter_form_fills_from_the_url_and_writes_it(seeded):
    at = ok(seeded.app("browse", tags="travel,food", tags_mode="all", meta="topic:hiking").run())
    assert at.text_input(key="filter_tags").value == "travel,food"
    assert at.radio(key="filter_tags_mode").value == "all"
    assert at.text_area(key="filter_meta").value == "topic:hiking"
    at.text_input(key="filter_text").input("note")
    at.text_area(key="filter_meta").input("topic:other\nn:3")
    at.button(key="FormSubmitter:filter_form-Apply").click().run()
    assert at.query_params["meta"] == ["topic:other", "n:3"]
    assert at.query_params["text"] == "note"
    assert ids(ok(at)) == ["m0003-alice"]
    at.button(key="FormSubmitter:filter_form-Clear").click().run()
    assert "meta" not in at.query_params and "tags" not in at.query_params
    assert len(ids(ok(at))) == 25


def test_unknown_user_says_so(seeded):
    at = ok(seeded.app("browse", user="nobody").run())
    assert messages(at, "info") == ["User 'nobody' has no memories in store 'main'. Check the id on the Users page."]
    assert not at.dataframe
    assert not [c.value for c in at.caption if c.value.startswith("Page ")]  # no "Page 1 of 0 matching"


@pytest.mark.parametrize("params", [{"tags_mode": "some"}, {"meta": "no-colon"}, {"created_from": "yesterday"},
                                    {"created_from": "2024-02-01", "created_to": "2024-01-01"}, {"sort": "random"}])
def test_bad_filter_in_a_link_is_an_error_message(seeded, params):
    at = ok(seeded.app("browse", **params).run())
    assert any(e.startswith("This link's filter is not valid") or "sort must be" in e for e in messages(at, "error"))


def test_selecting_rows_links_to_their_memories(seeded):
    at = ok(seeded.app("browse").run())
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [0, 2], "columns": [], "cells": []}}
    at.run()
    links = [(link.proto.page, link.proto.query_string) for link in ok(at).page_link]
    assert ("memory", "store=main&id=m0059-alice") in links
    assert ("memory", "store=main&id=m0057-alice") in links


def test_one_click_on_a_memorys_text_opens_it(seeded):
    at = ok(seeded.app("browse").run())
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [], "columns": [], "cells": [(2, "memory")]}}
    at.run()
    assert ok(at).query_params["id"] == "m0057-alice" and [t.value for t in at.title] == ["Memory"]


def test_a_click_on_another_column_opens_nothing(seeded):
    at = ok(seeded.app("browse").run())
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [], "columns": [], "cells": [(2, "id")]}}
    at.run()
    assert [t.value for t in ok(at).title] == ["Browse memories"]


def test_selection_does_not_follow_to_the_next_page(seeded):
    at = ok(seeded.app("browse").run())
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.button(key="browse_pager_next").click().run()
    assert not [link for link in ok(at).page_link if link.proto.page == "memory"]


def test_long_text_is_cut_in_the_table(dash):
    dash.add(memory="x" * 1_000_000)
    at = ok(dash.app("browse").run())
    cell = at.dataframe[0].value["memory"][0]
    assert len(cell) == 160 and cell.endswith("…")


def test_html_and_markdown_are_shown_as_text(dash):
    dash.add(user="<b>eve</b>", memory=HOSTILE, tags=["<script>alert(1)</script>", "**t**"], id="<i>id</i>")
    at = ok(dash.app("browse").run())
    assert at.dataframe[0].value["memory"][0] == HOSTILE
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    ok(at.run())
    for payload in (HOSTILE, "<i>id</i>", "<b>eve</b>", "<script>"):
        assert_shown_as_text(at, payload)
    at = ok(dash.app("browse", user="<b>eve</b>x").run())
    assert_shown_as_text(at, "<b>eve</b>")


def test_a_conversation_only_memory_reads_as_its_messages(dash):
    """What the toolkit's auto-memory writes (one item per message, no memory text) reads as the messages, in
    Browse and in the audit log."""
    dash.add(memory=None, conversation=[{"role": "user", "content": "I moved to Oslo last week"}], id="chat")
    at = ok(dash.app("browse").run())
    assert at.dataframe[0].value["memory"].tolist() == ["user: I moved to Oslo last week"]
    audit = ok(dash.app("audit").run())
    assert audit.dataframe[0].value["memory"].tolist() == ["user: I moved to Oslo last week"]


def test_the_page_number_is_in_the_url_and_a_link_to_it_opens_that_page(seeded):
    at = ok(seeded.app("browse").run())
    first = ids(at)
    at.button(key="browse_pager_next").click().run()
    at.button(key="browse_pager_next").click().run()
    assert at.query_params["page"] in ("3", ["3"])
    third = ids(ok(at))
    linked = ok(seeded.app("browse", page="3").run())
    assert ids(linked) == third
    assert "Page 3 · rows 51–60 of 60 matching" in captions(linked)
    linked.button(key="browse_pager_prev").click().run()
    assert linked.query_params["page"] in ("2", ["2"])
    linked.button(key="browse_pager_prev").click().run()
    assert "page" not in linked.query_params
    assert ids(ok(linked)) == first


def test_a_link_past_the_last_page_opens_the_last_page(seeded):
    at = ok(seeded.app("browse", page="9").run())
    assert "Page 3 · rows 51–60 of 60 matching" in captions(at)
    assert at.query_params["page"] in ("3", ["3"])


def test_a_link_to_a_huge_page_number_walks_a_bounded_number_of_pages(seeded, monkeypatch):
    from dashboard.components import pager

    monkeypatch.setattr(pager, "MAX_WALK", 2)
    at = ok(seeded.app("browse", page=str(10**12)).run())
    assert "Page 2 · rows 26–50 of 60 matching" in captions(at)
