"""Search: results with similarity scores and their parts, links to memories, clear empty results."""

import pytest

from tests.helpers.dashboard import HOSTILE, assert_shown_as_text, messages, ok, texts

SUBMIT = "FormSubmitter:search_form-Search"


@pytest.fixture
def seeded(dash):
    dash.add(user="alice", memory="Alice loves rock climbing in the Alps", minutes=1, tags=["sport"])
    dash.add(user="alice", memory="Alice is allergic to peanuts", minutes=2)
    dash.add(user="bob", memory="Bob loves climbing too", minutes=3)
    return dash


def test_results_with_scores_parts_and_links(seeded):
    at = ok(seeded.app("search", user="alice", q="climbing").run())
    assert texts(at)[:2] == ["Alice loves rock climbing in the Alps", "tags: sport"]
    [explained] = [c.value for c in at.caption if c.value.startswith("#1")]
    assert "score 0." in explained and "(from matching words 0." in explained
    assert float(at.metric[0].value) > 0
    assert [(link.proto.page, link.proto.query_string) for link in at.page_link] == [
        ("memory", "store=main&id=m0001-alice")]


def test_form_writes_the_url(seeded):
    at = ok(seeded.app("search").run())
    at.text_input(key="search_user").input("bob")
    at.text_input(key="search_query").input("climbing")
    at.number_input(key="search_top_k").set_value(3)
    at.button(key=SUBMIT).click().run()
    assert {k: at.query_params[k] for k in ("user", "q", "top_k")} == {"user": "bob", "q": "climbing", "top_k": "3"}
    assert texts(ok(at))[0] == "Bob loves climbing too"


def test_url_fills_the_form(seeded):
    at = ok(seeded.app("search", user="alice", q="peanuts", top_k="2", threshold="0.1").run())
    assert at.text_input(key="search_user").value == "alice"
    assert at.number_input(key="search_top_k").value == 2
    assert at.number_input(key="search_threshold").value == pytest.approx(0.1)


def test_top_k_and_threshold(seeded):
    at = ok(seeded.app("search", user="alice", q="alice", top_k="1").run())
    assert len(at.metric) == 1
    at = ok(seeded.app("search", user="alice", q="climbing", threshold="0.99").run())
    [info] = messages(at, "info")
    assert info.startswith("Nothing matched this query above the threshold.")


def test_a_words_only_store_says_so_when_nothing_matches(seeded):
    """The demo's store has no embedder: "mountaineering" means climbing but shares no word with it."""
    at = ok(seeded.app("search", user="alice", q="mountaineering").run())
    assert messages(at, "info") == ["Nothing matched this query. This store searches by words only (no embedder "
                                    "configured): a memory is found when it shares a word with the query, not when "
                                    "it means the same."]


def test_unknown_user(seeded):
    at = ok(seeded.app("search", user="nobody", q="climbing").run())
    assert messages(at, "info") == ["User 'nobody' has no memories in store 'main'."]


def test_query_without_user(seeded):
    at = ok(seeded.app("search", q="climbing").run())
    assert any("Enter both a user id and a query" in m for m in messages(at, "info"))


def test_store_without_ids_shows_results_without_links(make_dash):
    dash = make_dash({"toolkit": {"_type": "test_search_only"}})
    from dashboard.services import memories
    from memory_core.access import LOCAL_ADMIN
    from memory_core.models import MemoryItem

    memories.add_memory(dash.hub, LOCAL_ADMIN, "toolkit", MemoryItem(user_id="alice", memory="tea and biscuits"))
    at = ok(dash.app("search", user="alice", q="tea").run())
    assert texts(at)[0] == "tea and biscuits" and not at.page_link
    assert any("cannot link search results to their memories" in m for m in messages(at, "info"))


def test_html_and_markdown_are_shown_as_text(dash):
    dash.add(user="<b>eve</b>", memory=HOSTILE + " climbing", tags=["**t**"])
    at = ok(dash.app("search", user="<b>eve</b>", q="climbing").run())
    assert texts(at)[0] == HOSTILE + " climbing"
    for payload in (HOSTILE, "<b>eve</b>", "**t**"):
        assert_shown_as_text(at, payload)


@pytest.mark.parametrize(("params", "error"), [({"top_k": "lots"}, "top_k must be a number, not 'lots'"),
                                               ({"threshold": "nan"}, "threshold must be a number, not 'nan'"),
                                               ({"top_k": "0"},
                                                "top_k must be a whole number from 1 to 10,000, got 0")])
def test_bad_numbers_in_the_url(seeded, params, error):
    at = ok(seeded.app("search", user="alice", q="x", **params).run())
    assert messages(at, "error") == [error]


def test_score_parts_are_listed_not_summed_and_the_total_is_not_a_part(make_dash):
    dash = make_dash({"main": {"_type": "sqlite", "path": "main.db"}})
    dash.add(user="alice", memory="Alice loves rock climbing in the Alps", minutes=1)
    at = ok(dash.app("search", user="alice", q="climbing").run())
    [explained] = [c.value for c in at.caption if c.value.startswith("#1")]
    head, parts = explained.split(" (from ", 1)
    assert head == f"#1 · score {at.metric[0].value}"
    assert parts.startswith("matching words ") and "similar meaning " in parts  # words, not internal names
    assert "score" not in parts and "base" not in parts  # the total is not one of its parts


def test_what_the_agent_receives_is_its_get_memory_tools_exact_output(seeded):
    """The same string an agent's get_memory tool (the toolkit's 1.9 shape) hands its LLM."""
    import json

    at = ok(seeded.app("search", user="alice", q="climbing", top_k="2").run())
    [shown] = [code.value for code in at.code if code.value.startswith("Memories as a JSON: \n")]
    memories = json.loads(shown.split("\n", 1)[1])
    assert [(m["user_id"], m["memory"], m["tags"]) for m in memories] == [
        ("alice", "Alice loves rock climbing in the Alps", ["sport"])]
    assert set(memories[0]) == {"conversation", "tags", "metadata", "user_id", "memory", "similarity_score"}
