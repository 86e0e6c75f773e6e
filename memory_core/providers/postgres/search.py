"""Hybrid search in one statement: tsvector full text, trigram fuzzy words and pgvector cosine, for one user.

Each retriever is a CTE limited to :func:`memory_core.retrieval.candidate_pool` rows of that user; the
union comes back with every score, and :func:`memory_core.retrieval.rank` orders it as every store does.
The text score handed to ``rank`` is ``ts_rank_cd`` plus :data:`FUZZY_WEIGHT` times the summed trigram
word similarity of the query's words that none of the user's memories contains (after stemming; stopwords
left out): a misspelt word still finds its memory, and words that match exactly cost no trigram work.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from memory_core.items import tokens
from memory_core.models import MemoryItem
from memory_core.providers.common import kept
from memory_core.providers.postgres.rows import RECORD_COLUMNS, to_record
from memory_core.records import ScoredRecord
from memory_core.retrieval import FTS_WEIGHTS, Candidate, candidate_pool, document_fields, rank

FUZZY_WEIGHT = 0.5
FUZZY_MIN_LENGTH = 4  # shorter words match too much by trigrams
FUZZY_THRESHOLD = 0.45  # pg_trgm.word_similarity_threshold: "hikng" is 0.5 from "hiking"
UNUSED_WEIGHT = 0.1

_FTS = """fts AS (
    SELECT id, ts_rank_cd(%(weights)s::float4[], search_doc, q, 1) AS score
    FROM memories, to_tsquery(%(language)s::regconfig, %(tsquery)s) AS q
    WHERE user_id = %(user_id)s AND search_doc @@ q
    ORDER BY score DESC, id LIMIT %(pool)s)"""
# One check per word, its tsquery a constant, so the planner sees each word's frequency: a generic
# subquery over all words intersects the whole full-text index for common words.
_WORD = """CASE WHEN numnode(to_tsquery(%(language)s::regconfig, %(term{i})s)) = 0 OR EXISTS (
    SELECT 1 FROM memories WHERE user_id = %(user_id)s
    AND search_doc @@ to_tsquery(%(language)s::regconfig, %(term{i})s)) THEN NULL ELSE %(word{i})s END"""
_FUZZY = """words AS (SELECT array_remove(ARRAY[{checks}]::text[], NULL) AS ws),
fuzzy AS (
    SELECT id, score FROM (
        SELECT id, (SELECT sum(s) FROM (SELECT word_similarity(w, memory_folded) AS s
                                        FROM unnest((SELECT ws FROM words)::text[]) AS w) AS sims
                    WHERE s >= %(threshold)s::real) AS score
        FROM memories WHERE user_id = %(user_id)s AND memory_folded %%> ANY((SELECT ws FROM words)::text[])
    ) AS scored
    ORDER BY score DESC NULLS LAST, id LIMIT %(pool)s)"""
_VECTOR = """vec AS (
    SELECT id, 1 - (embedding <=> %(vector)s::vector) AS score FROM memories
    WHERE user_id = %(user_id)s AND embedding IS NOT NULL
    ORDER BY embedding <=> %(vector)s::vector LIMIT %(pool)s)"""


def ts_weights() -> list[float]:
    """``ts_rank_cd``'s weights ``{D, C, B, A}`` from :data:`FTS_WEIGHTS` (first FTS column = A)."""
    by_letter = [UNUSED_WEIGHT] * 4
    for i, weight in enumerate(FTS_WEIGHTS[:4]):
        by_letter[i] = weight
    return by_letter[::-1]


def analysed(text: str) -> list[str]:
    """The terms of ``text`` as the index stores a memory's (:func:`memory_core.retrieval.document_fields`)."""
    return tokens(document_fields(MemoryItem(user_id="query", memory=text)).get("memory", text))


def ts_terms(terms: list[str]) -> str:
    """Terms as a tsquery text; they are word characters only, so quoting each one makes it safe."""
    return " | ".join(f"'{t}'" for t in sorted(set(terms)))


@dataclasses.dataclass(frozen=True)
class SearchPlan:
    """What one search asks each retriever; an empty part is left out of the statement.

    ``words`` are the query's words long enough for trigrams, ``word_terms`` each one's tsquery (to tell
    whether the user's memories hold it already).
    """

    tsquery: str | None
    words: list[str]
    word_terms: list[str]
    vector: str | None

    @classmethod
    def of(cls, query: str, vector: str | None) -> SearchPlan:
        fuzzy = {w: ts_terms(analysed(w)) for w in tokens(query) if len(w) >= FUZZY_MIN_LENGTH}
        fuzzy = {w: terms for w, terms in sorted(fuzzy.items()) if terms}
        return cls(ts_terms(analysed(query)) or None, list(fuzzy), list(fuzzy.values()), vector)

    @property
    def empty(self) -> bool:
        return not (self.tsquery or self.words or self.vector)

    def statement(self) -> str:
        fuzzy = _FUZZY.format(checks=", ".join(_WORD.format(i=i) for i in range(len(self.words))))
        ctes = [(self.tsquery, "fts", _FTS), (self.words, "fuzzy", fuzzy), (self.vector, "vec", _VECTOR)]
        used = [(name, body) for wanted, name, body in ctes if wanted]
        union = " UNION ".join(f"SELECT id FROM {name}" for name, _ in used)
        scores = ", ".join(f"{name}.score" if any(n == name for n, _ in used) else "NULL::float8"
                           for _, name, _ in ctes)
        joins = " ".join(f"LEFT JOIN {name} USING (id)" for name, _ in used)
        return (f"WITH {', '.join(body for _, body in used)} "
                f"SELECT {RECORD_COLUMNS}, {scores} FROM ({union}) AS hit JOIN memories AS m USING (id) {joins} "
                f"WHERE m.user_id = %(user_id)s")

    def params(self, user_id: str, top_k: int, language: str) -> dict[str, Any]:
        words = {f"word{i}": w for i, w in enumerate(self.words)}
        terms = {f"term{i}": t for i, t in enumerate(self.word_terms)}
        return {"user_id": user_id, "pool": candidate_pool(top_k), "weights": ts_weights(), "language": language,
                "tsquery": self.tsquery, "vector": self.vector, "threshold": FUZZY_THRESHOLD, **words, **terms}


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def ranked(query: str, rows: Sequence[Sequence[Any]], top_k: int,
           threshold: float | None) -> list[ScoredRecord]:
    """Rows of :meth:`SearchPlan.statement` ranked by :func:`rank`, with every score part."""
    records, raw, candidates = {}, {}, []
    for row in rows:
        record = to_record(row)
        fts, fuzzy, vector = (_finite(v) for v in row[9:12])
        text = None if fts is None and fuzzy is None else (fts or 0.0) + FUZZY_WEIGHT * (fuzzy or 0.0)
        if text is None and vector is None:  # only a zero vector matched: no signal at all
            continue
        records[record.id] = record
        raw[record.id] = {k: v for k, v in (("fts", fts), ("trigram", fuzzy), ("cosine", vector)) if v is not None}
        candidates.append(Candidate(id=record.id, item=record.item, text_score=text, vector_score=vector))
    hits = [ScoredRecord(record=records[rid], score=score, parts={**parts, **raw[rid]})
            for rid, score, parts in rank(query, candidates, top_k)]
    return kept(hits, threshold)
