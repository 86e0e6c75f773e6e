"""Argument handling every store shares, so all of them follow the same toolkit conventions (the rules for
the items themselves are :mod:`memory_core.items`)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from memory_core.errors import InvalidInputError, StoreUnavailableError, UnsupportedError
from memory_core.items import check_item, check_text
from memory_core.life import hidden_from_agent
from memory_core.models import MemoryItem
from memory_core.records import BY_USE, MemoryFilter, MemoryPatch, MemoryRecord, ScoredRecord, Sort, by_use, utcnow
from memory_core.usage import Deferred, RetrievalLog, counting

MAX_LIMIT = 10_000  # results of one search or one page: more is a mistake (or an attack), never a need


def search_args(query: Any, top_k: Any, kwargs: dict[str, Any]) -> tuple[str, int, str, float | None]:
    """``(query, top_k, user_id, similarity_threshold)`` from a ``search`` call, checked."""
    user_id = kwargs.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise InvalidInputError("search needs user_id=...: memories are always searched for one user")
    if not isinstance(query, str):
        raise InvalidInputError("search query must be a string")
    check_text(user_id, "the user_id")
    check_text(query, "the search query")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_LIMIT:
        raise InvalidInputError(f"top_k must be a whole number from 1 to {MAX_LIMIT:,}, got {top_k!r}")
    threshold = kwargs.get("similarity_threshold")
    if threshold is not None and (not isinstance(threshold, int | float) or math.isnan(threshold)):
        raise InvalidInputError(f"similarity_threshold must be a number, got {threshold!r}")
    return query, top_k, user_id, threshold


def remove_target(kwargs: dict[str, Any]) -> tuple[str, list[str] | str]:
    """What ``remove_items`` should delete: ``("ids", [...])`` or ``("user", user_id)``.

    ``memory_id`` (or ``memory_ids``) wins over ``user_id``, as in the toolkit's mem0 store. A call with
    neither is refused rather than silently ignored or, worse, allowed to clear the store.
    """
    if kwargs.get("memory_id") is not None:
        return "ids", [str(kwargs["memory_id"])]
    if kwargs.get("memory_ids") is not None:
        return "ids", [str(i) for i in kwargs["memory_ids"]]
    user_id = kwargs.get("user_id")
    if isinstance(user_id, str) and user_id:
        check_text(user_id, "the user_id")
        return "user", user_id
    raise InvalidInputError("remove_items needs memory_id=... or user_id=...")


async def ready_for_use(flt: MemoryFilter, sort: Sort, tracking: bool, writes: Deferred) -> None:
    """Before a listing by the agent's use (:func:`memory_core.records.by_use`): refused when the store does not
    count retrievals (never answered as if nothing were used), else waits for the counts still being written."""
    if by_use(flt, sort):
        if not tracking:
            raise UnsupportedError(BY_USE)
        await writes.settled()


def is_hit(score: float | None, threshold: float | None) -> bool:
    """The one rule for every store: a hit scoring 0 shares nothing with the query and is no hit; with a
    ``similarity_threshold``, hits scoring at or above it are kept."""
    return score is not None and score > 0 and (threshold is None or score >= threshold)


def kept(hits: Iterable[ScoredRecord], threshold: float | None) -> list[ScoredRecord]:
    """The hits :func:`is_hit` keeps, in their order."""
    return [hit for hit in hits if is_hit(hit.score, threshold)]


class RecordSearch:
    """The toolkit's ``search`` for a store that implements ``search_records``: its hits' items, each carrying
    its score, in rank order (mixed in before ``MemoryEditor``, so every such store searches the same way), paused
    and expired memories left out (a store whose agents read only through here declares it as
    :class:`~memory_core.life.HidesFromAgent`); a store that is a :class:`~memory_core.usage.RetrievalLog` records
    the retrieval of each hit."""

    async def search(self, query: str, top_k: int = 5, **kwargs: Any) -> list[MemoryItem]:
        hits = await self._agent_hits(query, top_k, kwargs.get("user_id"), kwargs.get("similarity_threshold"))
        if hits and isinstance(self, RetrievalLog) and self.tracks_retrievals and counting():  # the agent's search
            await self.note_retrieved([hit.record.id for hit in hits], utcnow(), query)
        return [with_score(hit.record.item, hit.score) for hit in hits]

    async def _agent_hits(self, query: str, top_k: int, user_id: Any, threshold: Any) -> list[ScoredRecord]:
        """The best ``top_k`` hits the agent may get: paused and expired memories left out (memory_core.life),
        asking the store for twice as many each time they crowd the others out, until it has no more."""
        asked, now = top_k, utcnow()
        while True:
            hits = await self.search_records(query, user_id=user_id, top_k=asked,  # type: ignore[attr-defined]
                                             similarity_threshold=threshold)
            shown = [hit for hit in hits if not hidden_from_agent(hit.record.item, now)]
            if len(shown) >= top_k or len(hits) < asked or asked >= MAX_LIMIT:
                return shown[:top_k]
            asked = min(asked * 2, MAX_LIMIT)


def with_score(item: MemoryItem, score: float) -> MemoryItem:
    """A copy of ``item`` carrying ``score``; deep, so callers changing it never change the stored item."""
    return item.model_copy(update={"similarity_score": score}, deep=True)


def check_limit(limit: Any) -> None:
    """A page size must be a positive integer."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be a whole number from 1 to {MAX_LIMIT:,}, got {limit!r}")


def patched_item(record: MemoryRecord, patch: MemoryPatch) -> MemoryItem:
    """The record's item after ``patch``, checked like a new item; errors name the memory and the field."""
    where = f"memory {record.id}"
    try:
        item = patch.apply(record.item)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInputError(f"{where}: field '{'.'.join(map(str, first['loc']))}': {first['msg']}") from None
    check_item(item, where)
    return item


def checked_vectors(vectors: Any, count: int, embedder: Any) -> Any:
    """An embedder's answer as float32 of the promised shape, or a clear error naming the embedder."""
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape != (count, embedder.dimension):
        raise StoreUnavailableError(f"embedder {embedder.model_id} returned vectors of shape {vectors.shape}, "
                                    f"expected {(count, embedder.dimension)}")
    return vectors
