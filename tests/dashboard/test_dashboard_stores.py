"""Every page with an empty store, a store that lacks capabilities, a broken store, and no config at all."""

import pytest

from tests.helpers.dashboard import messages, ok

PAGES = ("browse", "search", "memory", "add", "users", "transfer", "stores")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_an_empty_store(dash, page):
    at = ok(dash.app(page).run())
    assert not messages(at, "error")
    assert at.sidebar.selectbox(key="store_picker").value == "main"
    assert at.query_params["store"] == "main"


def test_empty_store_says_so(dash):
    assert "Store 'main' is empty" in messages(ok(dash.app("browse").run()), "info")[0]
    assert "has no users yet" in messages(ok(dash.app("users").run()), "info")[0]


@pytest.mark.parametrize(("page", "cannot"), [
    ("browse", "cannot list memories"),
    ("users", "cannot list users"),
    ("transfer", "cannot list memories"),
])
def test_store_without_browsing_says_what_it_cannot_do(make_dash, page, cannot):
    dash = make_dash({"toolkit": {"_type": "test_search_only"}})
    at = ok(dash.app(page).run())
    assert any(cannot in m for m in messages(at, "info")), messages(at, "info")
    assert not messages(at, "error")


def test_memory_page_on_a_store_without_get(make_dash):
    dash = make_dash({"toolkit": {"_type": "test_search_only"}})
    at = ok(dash.app("memory", id="abc").run())
    assert any("cannot open a memory by id" in m for m in messages(at, "info"))


def test_store_that_cannot_list_all_users_asks_for_one(make_dash):
    dash = make_dash({"per_user": {"_type": "test_per_user"}})
    dash.add("per_user", user="alice", memory="hello")
    at = ok(dash.app("browse").run())
    assert any("every user's memories at once (pick a user)" in m for m in messages(at, "info"))
    at = ok(dash.app("browse", user="alice").run())
    assert at.dataframe[0].value["memory"].tolist() == ["hello"]


@pytest.mark.parametrize("page", ("browse", "users", "memory", "search", "add", "transfer"))
def test_broken_store_is_reported_and_the_other_store_still_works(make_dash, page):
    dash = make_dash({"broken": {"_type": "test_broken"}, "main": {"_type": "in_memory"}})
    dash.add("main", user="alice", memory="still here")
    params = {"id": "m0000-alice"} if page == "memory" else {"user": "alice", "q": "still"} if page == "search" else {}
    at = ok(dash.app(page, store="broken", **params).run())
    if page != "add":  # the Add page touches the store only when the operator adds
        errors = messages(at, "error")
        assert any(e.startswith("Store unavailable") and "refused the connection" in e for e in errors), errors
    at.sidebar.selectbox(key="store_picker").select("main").run()
    ok(at)
    assert at.query_params["store"] == "main"
    assert not messages(at, "error")


def test_stores_page_shows_health(make_dash):
    dash = make_dash({"broken": {"_type": "test_broken"}, "main": {"_type": "in_memory"}})
    dash.add("main")
    at = ok(dash.app("stores").run())
    assert any("unavailable" in e and "refused the connection" in e for e in messages(at, "error"))
    assert [m.value for m in at.metric] == ["1"]


def test_missing_config_file_is_an_error_not_a_traceback(tmp_path):
    from tests.helpers.dashboard import Dash

    dash = Dash(tmp_path / "nope.yml")
    at = ok(dash.app("browse").run())
    assert any("config file not found" in e for e in messages(at, "error"))


def test_config_without_stores(make_dash):
    dash = make_dash({})
    at = ok(dash.app("users").run())
    assert any("No store is configured" in m for m in messages(at, "info"))


def test_opening_another_config_switches_the_stores(make_dash):
    first = make_dash({"main": {"_type": "in_memory"}})
    second = make_dash({"other": {"_type": "in_memory"}})
    at = ok(first.app("stores").run())
    at.text_input(key="config_input").input(str(second.config))
    at.button(key="load_config").click().run()
    assert ok(at).sidebar.selectbox(key="store_picker").value == "other"
    assert at.query_params["store"] == "other"
    assert [link.proto.query_string for link in at.page_link] == ["store=other"]


@pytest.mark.parametrize("page", ("browse", "users", "search", "memory", "transfer"))
def test_pages_on_a_sqlite_store(make_dash, page):
    dash = make_dash({"disk": {"_type": "sqlite", "path": "memories.db"}})
    memory_id = dash.add("disk", user="alice", memory="Alice keeps bees", tags=["hobby"])
    at = ok(dash.app(page, user="alice", q="bees", id=memory_id).run())
    assert not messages(at, "error")
    shown = {"browse": lambda: at.dataframe[0].value["memory"].tolist() == ["Alice keeps bees"],
             "users": lambda: at.dataframe[0].value["memories"].tolist() == [1],
             "search": lambda: at.text[0].value == "Alice keeps bees",
             "memory": lambda: at.text_area(key="detail_memory").value == "Alice keeps bees",
             "transfer": lambda: "1 memory to export." in [c.value for c in at.caption]}
    assert shown[page]()


def test_stores_page_says_where_the_audit_log_lives(dash):
    from tests.helpers.dashboard import texts

    dash.add(memory="one change")
    at = ok(dash.app("stores").run())
    assert f"file: {dash.config.parent / 'memdash-audit.sqlite3'}" in texts(at)
    assert any(c.value.startswith("1 entry · deleted memories stay restorable") for c in at.caption)
    assert not messages(at, "warning")


def test_a_copied_config_with_a_fresh_audit_log_is_flagged(make_dash, tmp_path):
    original = make_dash({"main": {"_type": "sqlite", "path": str(tmp_path / "shared.sqlite3")}})
    original.add(memory="written through the first config")
    copy = make_dash({"main": {"_type": "sqlite", "path": str(tmp_path / "shared.sqlite3")}})  # elsewhere
    [warning] = messages(ok(copy.app("stores").run()), "warning")
    assert warning.startswith("This audit log is empty although the stores hold memories")
    assert not messages(ok(original.app("stores").run()), "warning")


def test_the_stores_page_says_what_a_store_can_do_in_words(dash):
    at = ok(dash.app("stores").run())
    [can] = [c.value for c in at.caption if c.value.startswith("Can: ")]
    assert can.startswith("Can: list its users, list memories, list every user's memories at once, count, open a "
                          "memory, edit, delete single memories, import keeping ids and times, search by words")
    assert "_" not in can  # no identifiers such as list_all_users
