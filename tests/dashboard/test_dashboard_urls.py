"""Every view is a URL: the store, filters, search and memory id come from the query string and go back to it."""

import pytest

from tests.helpers.dashboard import messages, ok, texts


@pytest.fixture
def two_stores(make_dash):
    dash = make_dash({"main": {"_type": "in_memory"}, "second": {"_type": "in_memory"}})
    dash.add("main", user="alice", memory="in main")
    dash.add("second", user="bob", memory="in second")
    return dash


def memories(at) -> list[str]:
    return at.dataframe[0].value["memory"].tolist()


def test_a_link_picks_the_store(two_stores):
    at = ok(two_stores.app("browse", store="second").run())
    assert at.sidebar.selectbox(key="store_picker").value == "second"
    assert memories(at) == ["in second"]


def test_picking_a_store_writes_the_url_and_the_back_button_undoes_it(two_stores):
    at = ok(two_stores.app("browse").run())
    assert at.query_params["store"] == "main"
    at.sidebar.selectbox(key="store_picker").select("second").run()
    assert at.query_params["store"] == "second" and memories(ok(at)) == ["in second"]
    at.query_params["store"] = "main"  # what the browser's back button does
    at.run()
    assert at.sidebar.selectbox(key="store_picker").value == "main" and memories(ok(at)) == ["in main"]


def test_the_store_survives_a_page_switch(two_stores):
    at = ok(two_stores.app("browse", store="second").run())
    at.query_params.clear()  # navigation drops the page's query string
    at.switch_page("app_pages/users.py").run()
    assert at.query_params["store"] == "second"
    assert ok(at).dataframe[0].value["user_id"].tolist() == ["bob"]


def test_an_unknown_store_in_a_link_falls_back_to_the_first_and_says_so(two_stores):
    at = ok(two_stores.app("browse", store="no*pe").run())
    assert at.query_params["store"] == "main" and memories(at) == ["in main"]
    assert messages(at.sidebar, "warning") == [
        "This link names the store no*pe, which is not one you can open here: showing main."]
    at.run()  # the URL now names the store shown: nothing more to say
    assert messages(ok(at).sidebar, "warning") == []


def test_filter_widgets_follow_the_url(dash):
    dash.add(user="alice", memory="a")
    dash.add(user="bob", memory="b", minutes=1)
    at = ok(dash.app("browse", user="alice").run())
    assert at.text_input(key="filter_user").value == "alice" and memories(at) == ["a"]
    at.query_params["user"] = "bob"
    at.run()
    assert at.text_input(key="filter_user").value == "bob" and memories(ok(at)) == ["b"]


def test_a_memory_link_opens_the_same_memory_in_a_new_session(dash):
    dash.add(user="alice", memory="shared")
    at = ok(dash.app("browse").run())
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    [link] = [link for link in ok(at.run()).page_link if link.proto.page == "memory"]
    params = dict(pair.split("=") for pair in link.proto.query_string.split("&"))
    fresh = ok(dash.app(link.proto.page, **params).run())
    assert fresh.text_area(key="detail_memory").value == "shared"


def test_browse_links_to_an_export_of_the_same_filter(dash):
    dash.add(user="alice", memory="a", tags=["x"])
    at = ok(dash.app("browse", user="alice", tags="x").run())
    [link] = [link for link in at.page_link if link.proto.page == "transfer"]
    assert link.proto.query_string == "store=main&user=alice&tags=x"


def test_search_is_a_link(dash):
    dash.add(user="alice", memory="tea with milk")
    at = ok(dash.app("search", user="alice", q="tea").run())
    assert texts(at)[0] == "tea with milk"
