"""Argument handling every store shares, so all of them follow the same toolkit conventions."""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from memory_core.errors import InvalidInputError, StoreUnavailableError
from memory_core.models import MemoryItem
from memory_core.records import MemoryPatch, MemoryRecord

_TOKEN = re.compile(r"\w+", re.UNICODE)


def new_id() -> str:
    """A new record id: 32 hex digits, time-ordered enough for humans, unique for machines."""
    return uuid.uuid4().hex


def validate_items(items: Sequence[Any]) -> list[MemoryItem]:
    """Validate a whole batch before anything is written: each must be a toolkit ``MemoryItem`` whose
    metadata is JSON. Errors name the item's position and the field."""
    if isinstance(items, MemoryItem | dict) or not isinstance(items, Sequence):
        raise InvalidInputError("add_items expects a list of MemoryItem")
    valid = []
    for index, item in enumerate(items):
        try:
            valid.append(item if isinstance(item, MemoryItem) else MemoryItem.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise InvalidInputError(f"item {index}: field '{field}': {first['msg']}") from None
        check_item(valid[-1], f"item {index}")
    return valid


def check_item(item: MemoryItem, where: str) -> None:
    """Reject what a store could not persist faithfully."""
    if not item.user_id.strip():
        raise InvalidInputError(f"{where}: user_id must not be empty")
    try:
        json.dumps(item.metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{where}: metadata is not JSON: {exc}") from None
    for message in item.conversation or []:
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise InvalidInputError(f"{where}: each conversation message needs 'role' and 'content'")


def search_args(query: Any, top_k: Any, kwargs: dict[str, Any]) -> tuple[str, int, str, float | None]:
    """``(query, top_k, user_id, similarity_threshold)`` from a ``search`` call, checked."""
    user_id = kwargs.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise InvalidInputError("search needs user_id=...: memories are always searched for one user")
    if not isinstance(query, str):
        raise InvalidInputError("search query must be a string")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InvalidInputError(f"top_k must be a positive integer, got {top_k!r}")
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
        return "user", user_id
    raise InvalidInputError("remove_items needs memory_id=... or user_id=...")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (unicode aware)."""
    return _TOKEN.findall(text.casefold())


def item_text(item: MemoryItem) -> str:
    """The text a store indexes for an item: its memory, else its conversation."""
    if item.memory:
        return item.memory
    return "\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in item.conversation or [])


def with_score(item: MemoryItem, score: float) -> MemoryItem:
    """A copy of ``item`` carrying ``score``; deep, so callers changing it never change the stored item."""
    return item.model_copy(update={"similarity_score": score}, deep=True)


def check_limit(limit: Any) -> None:
    """A page size must be a positive integer."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(f"limit must be a positive integer, got {limit!r}")


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


def as_record(record: object, position: int) -> MemoryRecord:
    """A record to import, validated; errors name its position in the batch and the field."""
    if isinstance(record, MemoryRecord):
        return record
    try:
        return MemoryRecord.model_validate(record)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInputError(f"record {position}: field '{'.'.join(map(str, first['loc']))}': "
                                f"{first['msg']}") from None


def checked_vectors(vectors: Any, count: int, embedder: Any) -> Any:
    """An embedder's answer as float32 of the promised shape, or a clear error naming the embedder."""
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape != (count, embedder.dimension):
        raise StoreUnavailableError(f"embedder {embedder.model_id} returned vectors of shape {vectors.shape}, "
                                    f"expected {(count, embedder.dimension)}")
    return vectors
