"""How memories become searchable text and how text and vector rankings combine.

Pure functions shared by the stores (sqlite today), so retrieval quality is tuned in one place and
measured by ``bench/locomo.py``. Nothing here may fit a particular data set: only general signals
(the memory, its conversation context, speakers, dates in metadata, tags) are used.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from memory_core.items import tokens
from memory_core.models import MemoryItem

# FTS5 columns of the search index and their BM25 weights (same order).
FTS_COLUMNS: tuple[str, ...] = ("memory", "context", "meta")
FTS_WEIGHTS: tuple[float, ...] = (1.0, 0.5, 0.5)

# Ranking (see docs/retrieval.md for how they were chosen): the share of BM25 against cosine in the base score,
# for a memory on its own and for one with conversation context (which only the text index sees), then the
# weights of the bonuses for a date the query names, a strong neighbouring turn and a strong same-session item.
TEXT_WEIGHT = 0.4
CONTEXT_TEXT_WEIGHT = 0.6
DATE_WEIGHT = 0.2
NEIGHBOUR_WEIGHT = 0.2
GROUP_WEIGHT = 0.3
DATE_SLACK = timedelta(days=8)  # people mention an event up to about a week after it happened

_STOPWORD_TEXT = """
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves s t ll ve re d m don didn doesn isn wasn
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_DATE_KEYS = ("date", "timestamp", "created_at", "time", "datetime")


def terms(text: str) -> list[str]:
    """Lower-cased content words of a text, in order (stopwords dropped)."""
    return [t for t in tokens(text) if t not in STOPWORDS]


def analyse(text: str) -> str:
    """Text as the index stores it: content words joined by spaces (the FTS tokenizer stems them)."""
    return " ".join(terms(text))


def item_date(item: MemoryItem) -> datetime | None:
    """The first ISO-8601 date found under a usual metadata key."""
    for key in _DATE_KEYS:
        value = item.metadata.get(key)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
    return None


def date_words(when: datetime) -> str:
    """A date as the words people use for it: ``"8 may 2023"``."""
    return f"{when.day} {_MONTHS[when.month - 1]} {when.year}"


def document_fields(item: MemoryItem) -> dict[str, str]:
    """Text per FTS column for one item: the memory, the rest of its conversation, and speakers, date and tags."""
    return {column: analyse(text) for column, text in document_texts(item).items()}


def document_texts(item: MemoryItem) -> dict[str, str]:
    """The text of each FTS column before analysis (:func:`document_fields`)."""
    conversation = item.conversation or []
    own = {item.memory} if item.memory else set()
    context = [m.get("content", "") for m in conversation
               if item.memory and not own & {m.get("content"), f"{m.get('role')}: {m.get('content')}"}]
    memory = item.memory or "\n".join(m.get("content", "") for m in conversation)
    when = item_date(item)
    speakers = " ".join(dict.fromkeys(m.get("role", "") for m in conversation))
    meta = f"{speakers} {date_words(when) if when else ''} {' '.join(item.tags)}"
    return {"memory": memory, "context": "\n".join(context), "meta": meta}


def embedding_text(item: MemoryItem) -> str:
    """The text embedded for an item's vector."""
    if item.memory:
        return item.memory
    return "\n".join(m.get("content", "") for m in item.conversation or [])


def fts_query(query: str) -> str | None:
    """An FTS5 MATCH expression for a free-text query; ``None`` when it has no searchable term."""
    words = sorted(set(terms(query)))
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


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

    Stores call this after gathering candidates; everything that decides order lives here. Order comes from
    scores relative to this query's candidates (BM25 over the best one, cosine min-max scaled, plus bonuses);
    the similarity reported is that order anchored to absolute evidence: the best hit scores the query's
    ``confidence`` (squashed BM25 and raw cosine of its strongest candidate), so an unrelated query scores low
    and ``similarity_threshold`` keeps its meaning.
    """
    if not candidates:
        return []
    parts = score_parts(query, candidates)
    confidence = _confidence(query, candidates)
    best = max(p["score"] for p in parts)
    for p in parts:
        p["confidence"] = confidence
        p["score"] = p["score"] / best * confidence if best > 0 else 0.0
    scored = sorted(zip(candidates, parts, strict=True), key=lambda pair: pair[1]["score"], reverse=True)
    return [(c.id, min(max(p["score"], 0.0), 1.0), p) for c, p in scored[:top_k]]


def _confidence(query: str, candidates: Sequence[Candidate]) -> float:
    """The strongest :func:`absolute_evidence` among the candidates, read strongest text match first and no
    further once one reaches the ceiling of 1 (usually the first: it holds every word of the query)."""
    query_words = {fold(w) for w in terms(query)}
    strongest = sorted(candidates, key=lambda c: c.text_score if c.text_score is not None else float("-inf"),
                       reverse=True)
    confidence = 0.0
    for candidate in strongest:
        confidence = max(confidence, absolute_evidence(candidate, query_words))
        if confidence >= 1.0:
            break
    return confidence


def absolute_evidence(candidate: Candidate, query_words: set[str]) -> float:
    """How well one candidate matches on an absolute scale, whatever the corpus: the share of the query's
    content words its indexed text holds (at least one when the text index matched it), or its cosine,
    whichever is stronger."""
    coverage = 0.0
    if candidate.text_score is not None and query_words:
        held = {fold(w) for text in document_texts(candidate.item).values() for w in terms(text)}
        coverage = max(len(query_words & held), 1) / len(query_words)
    vector = max(candidate.vector_score, 0.0) if candidate.vector_score is not None else 0.0
    return min(max(coverage, vector), 1.0)


_SUFFIXES = ("ing", "ies", "ied", "ed", "es", "ly", "s")


@functools.lru_cache(maxsize=65536)  # rank() folds every word of every candidate, mostly the same words
def fold(word: str) -> str:
    """A light stem so "running", "runs" and "run" (or "liked", "likes", "like") count as one word: drop one
    suffix, a final "e" and a doubled final consonant. Approximate; the index itself stems properly."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not (suffix == "s" and word.endswith("ss")):
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    return word


def score_parts(query: str, candidates: Sequence[Candidate]) -> list[dict[str, float]]:
    """Per candidate: normalised text and vector scores, bonuses, and the final ``score``."""
    parts = base_scores(candidates)
    spans = query_dates(query)
    for c, p in zip(candidates, parts, strict=True):  # an item's date is read only when the query names one
        p["date"] = DATE_WEIGHT * date_match(item_date(c.item), spans) if spans else 0.0
    neighbour = best_neighbour(candidates, parts)
    group = best_in_group(candidates, parts)
    for p, n, g in zip(parts, neighbour, group, strict=True):
        p["neighbour"], p["group"] = NEIGHBOUR_WEIGHT * n, GROUP_WEIGHT * g
        total = 1 + DATE_WEIGHT + NEIGHBOUR_WEIGHT + GROUP_WEIGHT
        p["score"] = (p["base"] + p["date"] + p["neighbour"] + p["group"]) / total
    return parts


def base_scores(candidates: Sequence[Candidate]) -> list[dict[str, float]]:
    """BM25 scaled by the best one and cosine min-max scaled over the candidates, mixed by the text weight."""
    text_max = max((c.text_score for c in candidates if c.text_score is not None), default=0.0)
    cosines = [c.vector_score for c in candidates if c.vector_score is not None]
    low, high = min(cosines, default=0.0), max(cosines, default=0.0)
    parts = []
    for c in candidates:
        weight = (CONTEXT_TEXT_WEIGHT if c.item.conversation else TEXT_WEIGHT) if cosines else 1.0
        text = max(c.text_score or 0.0, 0.0) / text_max if text_max > 0 else 0.0
        vector = _min_max(c.vector_score, low, high)
        parts.append({"text": text, "vector": vector, "base": weight * text + (1 - weight) * vector})
    return parts


def _min_max(value: float | None, low: float, high: float) -> float:
    """``value`` scaled to [0, 1] over the candidates; a lone (or tied) cosine keeps its absolute value."""
    if value is None:
        return 0.0
    return (value - low) / (high - low) if high > low else min(max(value, 0.0), 1.0)


_GROUP_KEYS = ("session_id", "session", "conversation_id", "thread_id")


def group_of(item: MemoryItem) -> str | None:
    """The session (or thread) an item belongs to, from its metadata."""
    for key in _GROUP_KEYS:
        if item.metadata.get(key) is not None:
            return f"{key}={item.metadata[key]}"
    return None


def best_in_group(candidates: Sequence[Candidate], parts: Sequence[dict[str, float]]) -> list[float]:
    """Per candidate, the best base score of another candidate of its session (0 if none)."""
    groups = [group_of(c.item) for c in candidates]
    members: dict[str, list[float]] = {}
    for group, p in zip(groups, parts, strict=True):
        if group is not None:
            members.setdefault(group, []).append(p["base"])
    for scores in members.values():
        scores.sort(reverse=True)
    best = []
    for group, p in zip(groups, parts, strict=True):
        scores = members.get(group, [])  # None is never a key
        first = 1 if scores and scores[0] == p["base"] else 0  # itself left out
        best.append(scores[first] if len(scores) > first else 0.0)
    return best


def best_neighbour(candidates: Sequence[Candidate], parts: Sequence[dict[str, float]]) -> list[float]:
    """Per candidate, the best base score of another candidate sharing a conversation message with it."""
    holders: dict[tuple[str, str], set[int]] = {}
    for i, c in enumerate(candidates):
        for m in c.item.conversation or []:
            holders.setdefault((m.get("role", ""), m.get("content", "")), set()).add(i)
    best = []
    for i, c in enumerate(candidates):
        near = set().union(*(holders[(m.get("role", ""), m.get("content", ""))] for m in c.item.conversation or []))
        best.append(max((parts[j]["base"] for j in near - {i}), default=0.0))
    return best


_MONTH = "(" + "|".join(f"{m}|{m[:3]}" for m in _MONTHS) + r"|sept)\.?"
_DAY_FIRST = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)? " + _MONTH + r",? (\d{4})\b", re.IGNORECASE)
_MONTH_FIRST = re.compile(r"\b" + _MONTH + r" (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})\b", re.IGNORECASE)
_MONTH_YEAR = re.compile(r"\b" + _MONTH + r",? (\d{4})\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")


def _month(name: str) -> int:
    return next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(name[:3].casefold()))


def query_dates(query: str) -> list[tuple[date, date]]:
    """Date spans a query names, at the most precise level it uses (days, else months, else years)."""
    days = [(int(y), _month(m), int(d)) for d, m, y in _DAY_FIRST.findall(query)]
    days += [(int(y), _month(m), int(d)) for m, d, y in _MONTH_FIRST.findall(query)]
    if days:
        return [_day_span(*ymd) for ymd in days]
    months = [date(int(y), _month(m), 1) for m, y in _MONTH_YEAR.findall(query)]
    if months:
        return [(start, (start + timedelta(days=31)).replace(day=1) - timedelta(days=1)) for start in months]
    return [(date(int(y), 1, 1), date(int(y), 12, 31)) for y in _YEAR.findall(query)]


def _day_span(year: int, month: int, day: int) -> tuple[date, date]:
    try:
        return date(year, month, day), date(year, month, day)
    except ValueError:  # "31 June": keep the month
        return date(year, month, 1), date(year, month, 28)


def date_match(when: datetime | None, spans: Sequence[tuple[date, date]]) -> float:
    """1 when the item's date falls in (or just after, as people talk about things later) a span the query names."""
    if when is None:
        return 0.0
    day = when.date()
    return float(any(start <= day <= end + DATE_SLACK for start, end in spans))
