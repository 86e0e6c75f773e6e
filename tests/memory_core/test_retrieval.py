"""What ``memory_core.retrieval`` does that a user of a store notices."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from memory_core import retrieval
from memory_core.models import MemoryItem
from memory_core.providers.sqlite import SqliteMemory
from memory_core.retrieval import Candidate, document_fields, fts_query, query_dates, rank


def item(memory: str, **metadata: object) -> MemoryItem:
    return MemoryItem(user_id="u", memory=memory, metadata=metadata)


def turn(memory: str, before: str, session: int) -> MemoryItem:
    speaker, text = memory.split(": ", 1)
    return MemoryItem(user_id="u", memory=memory, metadata={"session": session},
                      conversation=[{"role": "Bo", "content": before}, {"role": speaker, "content": text}])


def ids(ranked: list[tuple[str, float, dict[str, float]]]) -> list[str]:
    return [rid for rid, _, _ in ranked]


def test_a_query_of_stopwords_only_searches_nothing() -> None:
    assert fts_query("What is it, and where was it?") is None
    assert fts_query("   ") is None
    assert fts_query('What did "Caroline" paint?') == '"caroline" OR "paint"'


async def test_a_stopword_query_finds_nothing_in_a_store(tmp_path: Path) -> None:
    async with await SqliteMemory.open(tmp_path / "m.db") as store:
        await store.add_items([item("What is it that you want?"), item("I painted a sunrise")])
        assert await store.search("what is that", user_id="u") == []
        assert [m.memory for m in await store.search("paintings of sunrises", user_id="u")] == ["I painted a sunrise"]


def test_items_found_by_both_retrievers_rank_first() -> None:
    candidates = [Candidate("text-only", item("a"), text_score=9.0),
                  Candidate("vector-only", item("b"), vector_score=0.9),
                  Candidate("both", item("c"), text_score=7.0, vector_score=0.8),
                  Candidate("weak", item("d"), text_score=1.0, vector_score=0.2)]
    assert ids(rank("q", candidates, 4))[0] == "both"


def test_scores_are_similarities_in_0_1_best_first() -> None:
    candidates = [Candidate(str(i), item(f"m{i}"), text_score=float(i) if i % 2 else None, vector_score=i / 10)
                  for i in range(8)]
    ranked = rank("q", candidates, 5)
    scores = [score for _, score, _ in ranked]
    assert len(ranked) == 5 and scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert {"text", "vector", "score"} <= set(ranked[0][2])


def test_without_vectors_the_order_is_bm25() -> None:
    candidates = [Candidate(name, item(name), text_score=score) for name, score in (("b", 2.0), ("a", 5.0))]
    ranked = rank("q", candidates, 10)
    assert ids(ranked) == ["a", "b"] and all(0 < s <= 1 for _, s, _ in ranked)
    assert ranked[0][1] == 1.0, "the best hit holds every query word: full confidence"
    assert rank("q", [], 5) == []


def test_session_dates_in_metadata_are_searchable_and_match_dated_questions() -> None:
    assert "8 may 2023" in document_fields(item("We met", date="2023-05-08T13:56"))["meta"]
    same = dict(text_score=3.0, vector_score=0.5)
    candidates = [Candidate("june", item("Went to the lake", date="2023-06-20T10:00"), **same),
                  Candidate("may", item("Went to the lake", date="2023-05-09T10:00"), **same)]
    assert ids(rank("Where did she go on 8 May, 2023?", candidates, 2)) == ["may", "june"]
    assert ids(rank("Where did she go in June 2023?", candidates, 2)) == ["june", "may"]


@pytest.mark.parametrize(("query", "spans"), [
    ("What happened on October 25, 2022?", [(date(2022, 10, 25), date(2022, 10, 25))]),
    ("news on 16th June, 2023", [(date(2023, 6, 16), date(2023, 6, 16))]),
    ("a class in December 2023", [(date(2023, 12, 1), date(2023, 12, 31))]),
    ("trips in 2022", [(date(2022, 1, 1), date(2022, 12, 31))]),
    ("the march on Sept. 3, 2023", [(date(2023, 9, 3), date(2023, 9, 3))]),
    ("marching 2023", [(date(2023, 1, 1), date(2023, 12, 31))]),
    ("When did she go camping?", []),
])
def test_query_dates(query: str, spans: list[tuple[date, date]]) -> None:
    assert query_dates(query) == spans


def test_conversation_context_speakers_and_memory_get_their_own_columns() -> None:
    fields = document_fields(turn("Ann: I adopted a puppy", "Do you have pets?", 1))
    assert set(fields) == set(retrieval.FTS_COLUMNS) and len(retrieval.FTS_WEIGHTS) == len(retrieval.FTS_COLUMNS)
    assert fields["memory"] == "ann adopted puppy"
    assert fields["context"] == "pets"  # the turn itself is not repeated
    assert fields["meta"] == "bo ann"
    chat = MemoryItem(user_id="u", conversation=[{"role": "user", "content": "I love hiking"}])
    assert document_fields(chat)["memory"] == "love hiking"
    assert retrieval.embedding_text(chat) == "I love hiking"


def test_a_strong_match_lifts_its_neighbours_and_session() -> None:
    best = turn("Ann: I adopted a puppy", "Any news?", 1)
    neighbour = MemoryItem(user_id="u", memory="Bo: What breed?", metadata={"session": 1},
                           conversation=[*best.conversation, {"role": "Bo", "content": "What breed?"}])
    other = turn("Cy: What breed?", "Hello", 2)
    candidates = [Candidate("best", best, text_score=10.0, vector_score=0.9),
                  Candidate("other", other, text_score=2.0, vector_score=0.3),
                  Candidate("neighbour", neighbour, text_score=2.0, vector_score=0.3)]
    ranked = rank("puppy", candidates, 3)
    assert ids(ranked) == ["best", "neighbour", "other"]
    assert ranked[1][2]["neighbour"] > 0 and ranked[1][2]["group"] > 0 and ranked[2][2]["group"] == 0


def test_similarity_is_anchored_to_absolute_evidence() -> None:
    """An unrelated query's best hit scores low, so similarity_threshold can tell 'nothing relevant'."""
    weak = [Candidate("w", item("Bob repaired the garden fence"), text_score=0.5, vector_score=0.12)]
    strong = [Candidate("s", item("Alice is allergic to peanuts"), text_score=0.5, vector_score=0.12)]
    [(_, unrelated, parts)] = rank("which fence paint colour did the neighbours choose", weak, 5)
    [(_, related, _)] = rank("peanuts allergic", strong, 5)
    assert unrelated < 0.3 < related == 1.0
    assert parts["confidence"] == unrelated


def test_a_lone_vector_candidate_keeps_its_cosine() -> None:
    [(_, score, parts)] = rank("automobile", [Candidate("v", item("A red car"), vector_score=0.62)], 5)
    assert score == parts["confidence"] == 0.62
