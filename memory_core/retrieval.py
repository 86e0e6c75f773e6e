"""How memories become searchable text and how text and vector rankings combine.

Pure functions shared by the stores (sqlite today), so retrieval quality is tuned in one place and
measured by ``bench/locomo.py``. Nothing here may fit a particular data set: only general signals
(the memory, its conversation context, speakers, dates in metadata) are used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from memory_core.models import MemoryItem
from memory_core.providers.common import tokens

# FTS5 columns of the search index and their BM25 weights (same order).
FTS_COLUMNS: tuple[str, ...] = ("memory", "context")
FTS_WEIGHTS: tuple[float, ...] = (1.0, 0.5)


def document_fields(item: MemoryItem) -> dict[str, str]:
    """Text per FTS column for one item."""
    context = "\n".join(m.get("content", "") for m in item.conversation or [])
    return {"memory": item.memory or "", "context": context}


def embedding_text(item: MemoryItem) -> str:
    """The text embedded for an item's vector."""
    return item.memory or document_fields(item)["context"]


def fts_query(query: str) -> str | None:
    """An FTS5 MATCH expression for a free-text query; ``None`` when it has no searchable term."""
    terms = sorted(set(tokens(query)))
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def candidate_pool(top_k: int) -> int:
    """How many candidates each retriever (text, vector) should hand to :func:`rank`."""
    return max(50, 5 * top_k)


@dataclasses.dataclass
class Candidate:
    """One memory a retriever found, with every signal a store has for it.

    ``text_score`` is the raw BM25 (higher better, ``None`` when the text index did not match it);
    ``vector_score`` the cosine similarity (``None`` without an embedder).
    """

    id: str
    item: MemoryItem
    text_score: float | None = None
    vector_score: float | None = None


def rank(query: str, candidates: Sequence[Candidate], top_k: int) -> list[tuple[str, float, dict[str, float]]]:
    """Final ranking of a store's candidates: ``(id, similarity in [0, 1], score parts)``, best first.

    Stores call this after gathering candidates; everything that decides order lives here.
    """
    text = sorted(((c.id, c.text_score) for c in candidates if c.text_score is not None),
                  key=lambda pair: pair[1], reverse=True)
    vector = sorted(((c.id, c.vector_score) for c in candidates if c.vector_score is not None),
                    key=lambda pair: pair[1], reverse=True)
    if not vector:
        return [(rid, squash_bm25(score), {"text": score}) for rid, score in text[:top_k]]
    return fuse(text, vector)[:top_k]


def squash_bm25(score: float) -> float:
    """Map a BM25 score (>= 0, higher better) to ``[0, 1)``."""
    score = max(score, 0.0)
    return score / (score + 1.0)


def fuse(text_hits: Sequence[tuple[str, float]], vector_hits: Sequence[tuple[str, float]], *,
         k: int = 60) -> list[tuple[str, float, dict[str, float]]]:
    """Reciprocal-rank fusion of two ranked lists of ``(id, similarity)``, best first.

    Returns ``(id, fused score in [0, 1], {"text": s, "vector": s})``.
    """
    parts: dict[str, dict[str, float]] = {}
    fused: dict[str, float] = {}
    for name, hits in (("text", text_hits), ("vector", vector_hits)):
        for rank, (rid, score) in enumerate(hits):
            fused[rid] = fused.get(rid, 0.0) + 1.0 / (k + rank + 1)
            parts.setdefault(rid, {})[name] = score
    best = 2.0 / (k + 1)
    ranked = sorted(fused.items(), key=lambda pair: pair[1], reverse=True)
    return [(rid, score / best, parts[rid]) for rid, score in ranked]
