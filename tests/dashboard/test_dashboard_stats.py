"""Analytics page: per-store aggregates from the store, stores without statistics, hostile text as data."""

from __future__ import annotations

import datetime as dt
import json

from dashboard.services import memories
from tests.helpers.dashboard import HOSTILE, T0, assert_shown_as_text, messages, ok


def seed(dash, store: str = "main") -> None:
    for i in range(6):
        for n in range(i + 1):
            dash.add(store, user=f"u{i}", memory=("long " * 40 if (i, n) == (5, 0) else f"m{n}"),
                     minutes=n * 60 * 24 * 3 + i, tags=["diet"] if n % 2 else ["diet", "work"], id=f"{i}-{n}")


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def test_aggregates_of_an_in_memory_store(dash):
    seed(dash)
    at = ok(dash.app("stats").run())
    assert [s.value for s in at.subheader][:2] == ["Memories per user", "Top tags"]
    headline = {m.label: m.value for m in at.metric}
    assert headline["Memories"] == str(sum(1 for _ in dash.records())) and headline["Users"] == str(
        len({r.user_id for r in dash.records()}))
    assert len(charts(at)) == 3
    largest = at.dataframe[0].value
    assert largest["id"].tolist()[0] == "5-0"
    assert largest["size"].tolist()[0] == len("long " * 40)
    assert {"Most used by the agent", "Never retrieved"} <= {s.value for s in at.subheader}


def test_which_memories_the_agent_uses(dash):
    seed(dash)
    dash.hub.runner.run(dash.hub.editor("main").search("long", top_k=1, user_id="u5"))  # the agent's search
    at = ok(dash.app("stats").run())
    used = at.dataframe(key="stats_most_used").value
    assert used["id"].tolist() == ["5-0"] and used["retrievals"].tolist() == [1]
    assert "5-0" not in at.dataframe(key="stats_never").value["id"].tolist()
    page = ok(dash.app("memory", id="5-0").run())
    assert any(c.value.startswith("Used by the agent 1 time, last on") for c in page.caption)
    other = ok(dash.app("memory", id="0-0").run())
    assert "Never returned by the agent's search yet." in [c.value for c in other.caption]


def test_a_store_that_does_not_count_retrievals_says_so(make_dash, tmp_path):
    dash = make_dash({"db": {"_type": "sqlite", "path": str(tmp_path / "s.sqlite3"), "track_retrievals": False}})
    seed(dash, "db")
    at = ok(dash.app("stats", store="db").run())
    assert any("does not record when the agent's search returns a memory" in m for m in messages(at, "info"))


def test_sqlite_store_and_selecting_the_largest_links_to_it(make_dash, tmp_path):
    dash = make_dash({"db": {"_type": "sqlite", "path": str(tmp_path / "s.sqlite3")}})
    seed(dash, "db")
    at = ok(dash.app("stats", store="db").run())
    at.radio(key="stats_bucket").set_value("week").run()
    assert "Memories created per week" in [s.value for s in ok(at).subheader]
    at.session_state["stats_largest"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    links = [link.proto for link in ok(at).page_link]
    assert any(link.page == "memory" and link.query_string == "store=db&id=5-0"
               and link.label.startswith("Open “long long") for link in links)  # named by its text, not its id


def test_a_store_without_statistics_says_so(make_dash):
    dash = make_dash({"plain": {"_type": "test_search_only"}})
    at = ok(dash.app("stats", store="plain").run())
    assert messages(at, "info") == ["store 'plain' cannot compute statistics"]
    assert not at.slider


def test_empty_store(dash):
    at = ok(dash.app("stats").run())
    assert any("is empty" in m for m in messages(at, "info"))


def test_user_data_is_never_markdown(dash):
    dash.add(user=HOSTILE, memory=HOSTILE, tags=[HOSTILE])
    at = ok(dash.app("stats").run())
    assert_shown_as_text(at, HOSTILE)
    assert at.dataframe[0].value["preview"].tolist() == [HOSTILE[:120]]


def test_histogram_labels_are_upright_and_count_axes_whole(dash):
    for user in ("a", "b"):  # one bin, labelled "2"; rotated, the demo data's "8" read as "∞"
        for n in range(2):
            dash.add(user=user, memory=f"m{n}", minutes=n, id=f"{user}{n}", tags=["t"])
    histogram, _, growth = charts(ok(dash.app("stats").run()))
    assert histogram["encoding"]["x"]["axis"]["labelAngle"] == 0
    for chart in (histogram, growth):
        assert chart["encoding"]["y"]["axis"] == {"format": "d", "tickMinStep": 1}


def test_headline_counts_the_last_week_and_the_review_queue(dash):
    seed(dash)  # dated 2024: none in the last week
    yesterday = int((dt.datetime.now(dt.UTC) - T0).total_seconds() // 60) - 24 * 60
    dash.add(user="u0", memory="Alice's e-mail is alice@example.com", minutes=yesterday)
    at = ok(dash.app("stats").run())
    headline = {m.label: m.value for m in at.metric}
    assert headline["Added in the last 7 days"] == "1"
    assert headline["Flagged in review"] == "not scanned"
    assert any(link.proto.label.startswith("Browse the memories added in the last 7 days") for link in at.page_link)
    assert not at.slider and not at.expander  # no chart settings for a reader to fiddle with
    at.switch_page("app_pages/review.py").run()
    at.button(key="review_scan").click().run()
    at.switch_page("app_pages/stats.py").run()
    assert {m.label: m.value for m in ok(at).metric}["Flagged in review"] == "1"


def test_an_operator_previewing_what_the_agent_gets_is_not_the_agent_using_it(dash):
    tea = dash.add(user="alice", memory="Alice loves green tea.")
    shown = memories.agent_view(dash.hub, "main", user_id="alice", query="green tea")
    assert "Alice loves green tea." in shown
    page = ok(dash.app("memory", id=tea).run())
    assert "Never returned by the agent's search yet." in [c.value for c in page.caption]


def test_the_memory_page_lists_the_agents_last_retrievals_where_the_store_logs_them(make_dash, tmp_path):
    dash = make_dash({"db": {"_type": "sqlite", "path": str(tmp_path / "s.sqlite3"), "retrieval_log": 5}})
    seed(dash, "db")
    for query in ("long", "long memory"):
        dash.hub.runner.run(dash.hub.editor("db").search(query, top_k=1, user_id="u5"))  # the agent's search
    at = ok(dash.app("memory", store="db", id="5-0").run())
    [box] = [e for e in at.expander if e.label == "The agent's last 2 retrievals"]
    logged = box.dataframe[0].value
    assert logged["rank"].tolist() == [1, 1]
    assert all(q.startswith("#") and len(q) == 17 for q in logged["query"])  # hashes: no query text by default
    plain = make_dash({"db": {"_type": "sqlite", "path": str(tmp_path / "p.sqlite3")}})
    seed(plain, "db")
    page = ok(plain.app("memory", store="db", id="5-0").run())
    assert not [e for e in page.expander if "retrievals" in e.label]  # counts only: no log to show
