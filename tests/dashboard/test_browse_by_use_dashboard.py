"""Browse by the agent's use: "never returned" / "returned at least once" as a filter bound to ``?used=``, most
and least used as sorts, links from Analytics; a store that does not count the agent's use offers neither and a
link asking for it says why instead of listing everything."""

import pytest

from tests.helpers.dashboard import messages, ok

TEXTS = ["Alice drinks green tea", "Alice rides a red bicycle", "Alice has a cat", "Alice plays piano"]


def seed(dash, store: str = "main") -> dict[str, str]:
    ids = {text: dash.add(store, user="alice", memory=text, minutes=i) for i, text in enumerate(TEXTS)}
    dash.add(store, user="bob", memory="Bob drinks green tea", minutes=9)
    editor = dash.hub.editor(store)
    for query, times in (("green tea", 3), ("red bicycle", 1)):
        for _ in range(times):  # the agent's own search, as the toolkit calls it
            dash.hub.runner.run(editor.search(query, top_k=1, user_id="alice"))
    return ids


def shown(at) -> list[str]:
    return at.dataframe[0].value["id"].tolist()


@pytest.fixture(params=["in_memory", "sqlite"])
def used_dash(request, make_dash, tmp_path):
    if request.param == "in_memory":
        return make_dash()
    return make_dash({"main": {"_type": "sqlite", "path": str(tmp_path / "s.sqlite3")}})


def test_never_returned_memories_are_one_choice_away_and_in_the_url(used_dash):
    ids = seed(used_dash)
    at = ok(used_dash.app("browse", user="alice").run())
    at.selectbox(key="browse_used").select("never").run()
    assert at.query_params["used"] == "never"
    assert sorted(shown(ok(at))) == sorted([ids["Alice has a cat"], ids["Alice plays piano"]])
    assert any("of 2 matching" in c.value for c in at.caption)
    at.selectbox(key="browse_used").select("yes").run()
    assert sorted(shown(ok(at))) == sorted([ids["Alice drinks green tea"], ids["Alice rides a red bicycle"]])


def test_most_used_first_and_a_shared_link_opens_the_same_view(used_dash):
    ids = seed(used_dash)
    at = ok(used_dash.app("browse", user="alice", sort="most_used").run())
    assert shown(at)[:2] == [ids["Alice drinks green tea"], ids["Alice rides a red bicycle"]]
    assert at.dataframe[0].value["used"].tolist() == [3, 1, 0, 0]  # the counts beside the texts
    assert "used" not in ok(used_dash.app("browse", user="alice").run()).dataframe[0].value  # not asked for: no column
    assert at.selectbox(key="browse_sort").value == "most_used"
    least = ok(used_dash.app("browse", user="alice", sort="least_used", used="yes").run())
    assert shown(least) == [ids["Alice rides a red bicycle"], ids["Alice drinks green tea"]]


def test_bulk_delete_of_the_never_returned_deletes_exactly_those(used_dash):
    ids = seed(used_dash)
    at = ok(used_dash.app("browse", user="alice", used="never").run())
    at.radio(key="bulk_scope").set_value("filter").run()
    at.button(key="bulk_delete").click().run()
    assert any("Delete 2 memories matching the filter?" in m.value.replace("**", "") for m in ok(at).markdown)
    at.button(key="bulk_confirm").click().run()
    assert messages(ok(at), "success") == ["Deleted 2 memories."]
    assert sorted(r.id for r in used_dash.records(user_id="alice")) == sorted(
        [ids["Alice drinks green tea"], ids["Alice rides a red bicycle"]])
    assert len(used_dash.records(user_id="bob")) == 1  # never returned too, but not in the filter


def test_analytics_links_to_browse_by_use(used_dash):
    seed(used_dash)
    at = ok(used_dash.app("stats").run())
    links = {link.proto.label: link.proto.query_string for link in at.page_link}
    assert links["Browse, most used first"] == "store=main&sort=most_used"
    assert links["Browse all never retrieved"] == "store=main&used=never"


def test_a_store_that_does_not_count_use_offers_no_such_view_and_says_why(make_dash, tmp_path):
    dash = make_dash({"db": {"_type": "sqlite", "path": str(tmp_path / "s.sqlite3"), "track_retrievals": False}})
    seed(dash, "db")
    at = ok(dash.app("browse", store="db").run())
    assert "browse_used" not in [s.key for s in at.selectbox]
    assert "most_used" not in at.selectbox(key="browse_sort").options
    linked = ok(dash.app("browse", store="db", used="never").run())
    assert not linked.dataframe  # never everything, as if the filter were not there
    assert any("cannot list or sort memories by the agent's use" in m for m in messages(linked, "info"))


def test_a_bad_used_value_in_a_link_is_named(used_dash):
    at = ok(used_dash.app("browse", used="often").run())
    assert any("used must be 'yes' or 'never', not 'often'" in m for m in messages(at, "error"))
