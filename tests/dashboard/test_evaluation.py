"""Retrieval regression: golden files (YAML, JSONL, LoCoMo), recall@k per user and overall, memdash eval."""

from __future__ import annotations

import json

import pytest
import yaml

from memdash.cli import main
from memory_core.errors import InvalidInputError
from memory_core.evaluation import GoldenQuery, Hit, evaluate, parse_golden, read_history, score
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.records import MemoryRecord, utcnow
from memory_core.transfer import dump_jsonl_line

GOLDEN = [
    {"query": "what does alice eat", "user_id": "alice", "expect": ["vegetarian"], "k": 3},
    {"query": "alice travel", "user_id": "alice", "expect": [{"id": "a2"}, {"text": "Lisbon"}], "k": 1},
    {"query": "bob coffee", "user_id": "bob", "expect": ["espresso"]},
]


def record(rid: str, user: str, text: str, **meta) -> MemoryRecord:
    now = utcnow()
    item = MemoryItem(user_id=user, memory=text, metadata=meta)
    return MemoryRecord(id=rid, created_at=now, updated_at=now, item=item)


@pytest.fixture
async def store() -> InMemoryEditor:
    editor = InMemoryEditor()
    await editor.add_records([
        record("a1", "alice", "Alice is vegetarian and eats no meat"),
        record("a2", "alice", "Alice loves travel, mostly to Lisbon"),
        record("b1", "bob", "Bob drinks espresso every morning (coffee)"),
    ])
    return editor


async def test_recall_per_user_and_overall(store):
    report = await evaluate(store, parse_golden(yaml.safe_dump(GOLDEN), "g.yml"), store="s", golden="g.yml")
    assert [r.recall for r in report.queries] == [1.0, 1.0, 1.0]
    assert report.per_user == {"alice": 1.0, "bob": 1.0}
    assert report.queries[1].hits[0].id == "a2"


def test_matching_rules():
    hit = Hit(item=MemoryItem(user_id="u", memory="Likes GREEN tea"), id="x1")
    query = GoldenQuery(query="q", user_id="u", expect=["green tea", {"id": "x1"}, {"text": "coffee"}, "x1"], k=1)
    result = score(query, [hit])
    assert result.recall == 0.75
    assert [e.text for e in result.missing] == ["coffee"]
    beyond_k = score(GoldenQuery(query="q", user_id="u", expect=["tea"], k=1),
                     [Hit(item=MemoryItem(user_id="u", memory="x")), hit])
    assert beyond_k.recall == 0.0


async def test_texts_match_on_a_store_without_ids(store):
    from tests.helpers.dashboard import SearchOnlyEditor

    plain = SearchOnlyEditor()
    await plain.add_items([MemoryItem(user_id="alice", memory="Alice loves travel, mostly to Lisbon")])
    report = await evaluate(plain, [GoldenQuery(**GOLDEN[1])])
    assert report.overall == 0.5  # the text is found; an id cannot be without search_records


def test_jsonl_and_errors_name_the_line():
    text = "\n".join(json.dumps(q) for q in GOLDEN)
    assert len(parse_golden(text, "g.jsonl")) == 3
    with pytest.raises(InvalidInputError, match=r"g.jsonl: line 2: expect"):
        parse_golden(text.replace('"expect": [{"id": "a2"}, {"text": "Lisbon"}]', '"expect": []'), "g.jsonl")
    with pytest.raises(InvalidInputError, match="exactly one"):
        parse_golden(yaml.safe_dump([{"query": "q", "user_id": "u", "expect": [{"id": "1", "text": "t"}]}]), "g.yaml")
    with pytest.raises(InvalidInputError, match="golden files are"):
        parse_golden("", "g.txt")


def locomo_sample() -> dict:
    return {"sample_id": "conv-1", "conversation": {}, "qa": [
        {"question": "Where did Caroline go?", "evidence": ["D1:3; D1:4"], "category": 1},
        {"question": "Adversarial?", "evidence": ["D1:2"], "category": 5},
        {"question": "No evidence", "evidence": [], "category": 2},
    ]}


async def test_locomo_questions_match_dia_ids():
    queries = parse_golden(json.dumps([locomo_sample()]), "locomo.json")
    assert [(q.user_id, q.k, [e.dia_id for e in q.expect]) for q in queries] == [
        ("locomo-conv-1", 10, ["D1:3", "D1:4"])]
    editor = InMemoryEditor()
    await editor.add_items([MemoryItem(user_id="locomo-conv-1", memory="Caroline went to the support group",
                                       metadata={"dia_id": "D1:3"})])
    report = await evaluate(editor, queries)
    assert report.overall == 0.5


def test_cli_table_json_history_and_floor(tmp_path, capsys):
    config = tmp_path / "m.yml"
    data = tmp_path / "data.jsonl"
    data.write_text(dump_jsonl_line(record("a1", "alice", "Alice is vegetarian")))
    config.write_text(yaml.safe_dump({"memory": {"db": {"_type": "sqlite", "path": str(tmp_path / "s.sqlite3")}}}))
    assert main(["import", "--config", str(config), str(data), "db"]) == 0
    golden = tmp_path / "g.yml"
    golden.write_text(yaml.safe_dump(GOLDEN[:1] + GOLDEN[2:]))
    history, out = tmp_path / "h.jsonl", tmp_path / "r.json"
    args = ["eval", "--config", str(config), "--store", "db", str(golden), "--history", str(history)]
    assert main([*args, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "alice" in printed and "overall        2     0.500" in printed
    assert json.loads(out.read_text())["per_user"] == {"alice": 1.0, "bob": 0.0}
    assert main([*args, "--min-recall", "0.6"]) == 1
    assert "below --min-recall 0.600" in capsys.readouterr().err
    assert [row["overall"] for row in read_history(history)] == [0.5, 0.5]
