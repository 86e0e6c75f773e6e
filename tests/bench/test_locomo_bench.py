"""``bench.locomo`` end to end on a tiny synthetic LoCoMo conversation, with the BM25-only config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import locomo

SAMPLE = {
    "speaker_a": "Ava",
    "speaker_b": "Ben",
    "session_1_date_time": "1:56 pm on 8 May, 2023",
    "session_1": [
        {"speaker": "Ava", "dia_id": "D1:1", "text": "I adopted a kitten named Pixel yesterday!"},
        {"speaker": "Ben", "dia_id": "D1:2", "text": "Congrats! I just started learning the violin."},
        {"speaker": "Ava", "dia_id": "D1:3", "text": "Pixel keeps chasing the vacuum cleaner."},
    ],
    "session_2_date_time": "10:00 am on 20 June, 2023",
    "session_2": [
        {"speaker": "Ben", "dia_id": "D2:1", "text": "My violin recital went well last weekend."},
        {"speaker": "Ava", "dia_id": "D2:2", "text": "Amazing, I went hiking in the Alps."},
    ],
    "session_3_date_time": "9:00 am on 1 July, 2023",
    "session_3": [],
    "session_1_observation": {
        "Ava": [["Ava adopted a kitten named Pixel.", "D1:1"], ["Pixel chases the vacuum cleaner.", "D1:3"]],
        "Ben": [["Ben is learning the violin.", "D1:2"]],
    },
    "session_2_observation": {
        "Ben": [["Ben had a violin recital.", "D2:1"]],
        "Ava": [["Ava went hiking in the Alps.", ["D2:2"]]],
    },
    "qa": [
        {"question": "What is the name of Ava's kitten?", "answer": "Pixel", "evidence": ["D1:1"], "category": 4},
        {"question": "What instrument does Ben play?", "answer": "violin", "evidence": ["D1:2; D2:1"],
         "category": 1},
        {"question": "Where did Ava go hiking?", "answer": "Alps", "evidence": ["D2:2", "D9:99"], "category": 2},
        {"question": "What did Ben adopt?", "adversarial_answer": "a kitten", "evidence": ["D1:1"], "category": 5},
        {"question": "What is unknown?", "answer": "x", "evidence": ["D"], "category": 4},
    ],
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "locomo"
    folder.mkdir()
    (folder / "7.json").write_text(json.dumps(SAMPLE), encoding="utf-8")
    return folder


def test_items_follow_the_fixed_mapping(data_dir: Path) -> None:
    (conv,) = locomo.load_conversations(data_dir)
    turns, facts = locomo.turn_items(conv), locomo.fact_items(conv)
    assert [t.metadata["dia_id"] for t in turns] == ["D1:1", "D1:2", "D1:3", "D2:1", "D2:2"]
    first = turns[0]
    assert first.user_id == "locomo-7" and first.memory == "Ava: I adopted a kitten named Pixel yesterday!"
    assert [m["role"] for m in first.conversation] == ["Ava", "Ben", "Ava"]  # itself and two after, same session
    assert first.metadata == {"dia_id": "D1:1", "session": 1, "date": "2023-05-08T13:56"}
    assert len(turns[3].conversation) == 2  # session 2 has two turns
    assert [f.metadata["dia_ids"] for f in facts] == [["D1:1"], ["D1:3"], ["D1:2"], ["D2:1"], ["D2:2"]]
    assert facts[0].conversation is None and facts[0].metadata["date"] == "2023-05-08T13:56"


def test_questions_keep_categories_1_to_4_and_known_evidence(data_dir: Path) -> None:
    (conv,) = locomo.load_conversations(data_dir)
    assert [(q.category, sorted(q.evidence)) for q in conv.questions()] == [
        (4, ["D1:1"]), (1, ["D1:2", "D2:1"]), (2, ["D2:2"])]


def test_bench_runs_end_to_end_and_writes_json(data_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "result.json"
    locomo.main(["--data", str(data_dir), "--config", str(locomo.COMPARE_CONFIG), "--json", str(out)])
    result = json.loads(out.read_text())
    assert set(result) == {"turns", "facts", "baseline"}
    assert result["baseline"]["config"] == locomo.BASELINE
    for figures in (result["turns"], result["facts"], result["baseline"]["turns"], result["baseline"]["facts"]):
        assert {"R@5", "R@10", "E@5", "E@10"} <= set(figures)
        assert figures["R@10"] == 1.0  # five memories per granularity: top 10 holds them all
    assert "locomo-bm25.yml" in capsys.readouterr().out
    assert not (locomo.COMPARE_CONFIG.parent / "locomo.db").exists()  # the run used a temporary copy


def test_recall_counts_a_question_with_any_evidence_turn_returned_and_e_counts_the_share() -> None:
    evidence = frozenset({"D1:2", "D2:1"})
    returned = [locomo.MemoryItem(user_id="u", memory=m, metadata={"dia_ids": ids})
                for m, ids in (("a", ["D1:1"]), ("b", ["D2:1"]))]
    assert locomo.figures(evidence, returned) == (1.0, 1.0, 0.5, 0.5)
    assert locomo.figures(evidence, returned[:1]) == (0.0, 0.0, 0.0, 0.0)


def test_raw_bm25_baseline_ranks_the_matching_memory_first(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locomo, "TOP_K", 1)  # only the first result counts: every question's evidence must be it
    conversations = locomo.load_conversations(data_dir)
    assert locomo.raw_bm25(conversations, "facts")["all"]["R@5"] == 1.0
