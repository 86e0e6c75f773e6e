"""Memory records as the toolkit's JSON documents, plus memdash's extra fields.

A document holds the toolkit's fields ``conversation, user_id, tags, metadata, memory, embedding`` and, when
memdash wrote or adopted it, ``created_at`` and ``updated_at`` (integer microseconds since the epoch, UTC),
``version``, ``seq`` (the unique tie-breaker of keyset paging), ``user_key`` (the SHA-1 of the user id:
a tag any user id can be queried by exactly, control characters and all) and ``size`` (characters of the text
and conversation, :func:`memory_core.stats.item_size`, which the statistics sort by). The record id is the
key's last part.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
from pydantic import ValidationError

from memory_core.errors import InvalidInputError
from memory_core.items import check_item
from memory_core.models import MemoryItem
from memory_core.records import MemoryRecord, from_micros
from memory_core.stats import item_size

EXTRA_FIELDS = ("created_at", "updated_at", "version", "seq")
ITEM_FIELDS = ("conversation", "user_id", "tags", "metadata", "memory")
READ_PATHS = tuple(f"$.{name}" for name in (*ITEM_FIELDS, *EXTRA_FIELDS))  # everything but the embedding


class InvalidDocument(ValueError):
    """A key under the memory prefix whose value is not a memory document."""


def encode(item: MemoryItem, *, created_us: int, updated_us: int, version: int,
           vector: np.ndarray | None) -> dict[str, Any]:
    """The document for an item, fields in the toolkit's order (``seq`` is added by the write script)."""
    doc: dict[str, Any] = {"conversation": item.conversation, "user_id": item.user_id, "tags": item.tags,
                           "metadata": item.metadata, "memory": item.memory}
    if vector is not None:
        doc["embedding"] = [float(x) for x in vector]
    doc.update(created_at=created_us, updated_at=updated_us, version=version, user_key=user_key(item.user_id),
               size=item_size(item))
    return doc


def user_key(user_id: str) -> str:
    """What ``redis.sha1hex`` gives for the id in Lua (the adoption script computes it there)."""
    return hashlib.sha1(user_id.encode(), usedforsecurity=False).hexdigest()


def dumps(doc: dict[str, Any], where: str) -> str:
    """Compact JSON text of a document. Refused: text that is not valid UTF-8 (lone surrogates), and NUL
    characters in the user id or tags, which RediSearch cuts tags at."""
    text = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    try:
        text.encode()
    except UnicodeEncodeError:
        raise InvalidInputError(f"{where}: text is not valid UTF-8") from None
    if "\x00" in doc["user_id"] or any("\x00" in tag for tag in doc["tags"]):
        raise InvalidInputError(f"{where}: user_id and tags must not contain NUL characters")
    return text


def loads(reply: str | None) -> Any:
    """The value of a ``JSON.GET key $`` / ``JSON.MGET ... $`` reply; ``None`` for a missing key."""
    if reply is None:
        return None
    values = json.loads(reply)
    return values[0] if values else None


def from_paths(reply: str) -> Any:
    """A document from a multi-path ``JSON.GET`` reply: the fields it has."""
    return {path[2:]: found[0] for path, found in json.loads(reply).items() if found}


def decode(record_id: str, doc: Any) -> MemoryRecord:
    """The record a document holds. Missing timestamps read as the epoch ("unknown") and a missing version
    as 1: what a document written by the toolkit looks like before memdash adopts it."""
    if not isinstance(doc, dict):
        raise InvalidDocument(f"not a JSON object but {type(doc).__name__}")
    fields = {key: doc[key] for key in ("conversation", "tags", "metadata", "memory") if doc.get(key) is not None}
    try:
        item = MemoryItem.model_validate({**fields, "user_id": doc.get("user_id")})
        check_item(item, "document")
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidDocument(f"field '{'.'.join(map(str, first['loc']))}': {first['msg']}") from None
    except InvalidInputError as exc:
        raise InvalidDocument(str(exc)) from None
    extras = {name: doc.get(name) for name in EXTRA_FIELDS}
    for name, value in extras.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidDocument(f"field '{name}' is not an integer")
    return MemoryRecord(id=record_id, item=item, created_at=from_micros(extras["created_at"] or 0),
                        updated_at=from_micros(extras["updated_at"] or 0), version=extras["version"] or 1)


def is_adopted(doc: Any) -> bool:
    """Whether memdash's fields are there (a toolkit-written document lacks them until adopted)."""
    return isinstance(doc.get("seq"), int)


def is_stranger(doc: Any) -> bool:
    """A memory document written by someone else (the toolkit): it has a user but no memdash fields yet."""
    return isinstance(doc, dict) and isinstance(doc.get("user_id"), str) and not is_adopted(doc)
