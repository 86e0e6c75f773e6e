"""Retrieval evaluation page: run a golden file, recall per user and per query, history over runs."""

from __future__ import annotations

import json

import yaml

from memory_core.evaluation import read_history
from tests.helpers.dashboard import HOSTILE, assert_shown_as_text, messages, ok


def golden(tmp_path, queries) -> str:
    path = tmp_path / "golden.yml"
    path.write_text(yaml.safe_dump(queries))
    return str(path)


def test_run_shows_recall_per_user_and_records_history(dash, tmp_path):
    dash.add(user="alice", memory="Alice is vegetarian")
    dash.add(user="bob", memory="Bob likes espresso", minutes=1)
    path = golden(tmp_path, [{"query": "vegetarian", "user_id": "alice", "expect": ["vegetarian"]},
                             {"query": "tea", "user_id": "bob", "expect": ["green tea"]}])
    at = ok(dash.app("eval").run())
    assert "eval_run" not in [b.key for b in at.button]  # nothing to run yet
    at.text_input(key="eval_path").input(path).run()
    at.button(key="eval_run").click().run()
    ok(at)
    assert at.metric[0].value == "0.500"
    assert at.dataframe[0].value["recall"].tolist() == [1.0, 0.0]
    history = dash.config.parent / "eval-history.jsonl"
    assert [row["per_user"] for row in read_history(history)] == [{"alice": 1.0, "bob": 0.0}]
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(charts) == 2  # recall per user, recall over time


def test_bad_golden_file_is_a_message(dash, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"query": "q"}\n')
    at = ok(dash.app("eval").run())
    at.text_input(key="eval_path").input(str(path)).run()
    assert any("bad.jsonl: line 1: user_id" in m for m in messages(ok(at), "error"))


def test_hostile_queries_are_text(dash, tmp_path):
    path = golden(tmp_path, [{"query": HOSTILE, "user_id": HOSTILE, "expect": [HOSTILE]}])
    at = ok(dash.app("eval").run())
    at.text_input(key="eval_path").input(path).run()
    at.button(key="eval_run").click().run()
    assert_shown_as_text(ok(at), HOSTILE)
