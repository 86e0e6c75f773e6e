"""Toolkit items to Agent Memory Server long-term memories and back.

A long-term memory holds one ``text`` with ``topics``, ``entities``, ``memory_type``, ``namespace``,
``session_id``, ``event_date`` and the server's own ``created_at`` / ``updated_at`` / ``last_accessed`` /
``access_count``. The toolkit's ``redis_agent_memory_backend`` writes an item's memory text (else its messages'
contents joined by spaces), its tags as topics, and ``session_id``, ``namespace``, ``entities``,
``memory_type`` and ``event_date`` from its metadata; memdash does the same. Read back, a record's item has the
text as ``memory``, topics as tags and the server's fields as metadata (what the toolkit's search puts there);
``version`` is always 1: the server keeps no version (updates are checked against ``updated_at``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from memory_core.errors import InvalidInputError
from memory_core.models import MemoryItem
from memory_core.records import MemoryPatch, MemoryRecord

WRITABLE = ("session_id", "namespace", "entities", "memory_type", "event_date")  # from metadata, as the toolkit
SHOWN = (*WRITABLE, "last_accessed", "access_count", "pinned", "extracted_from")
MEMORY_TYPES = ("semantic", "episodic", "message")


def text_of(item: MemoryItem) -> str:
    """The text the toolkit stores for an item: its memory, else its messages' contents joined by spaces."""
    if item.memory:
        return item.memory
    return " ".join(str(m.get("content", "")) for m in item.conversation or [] if m.get("content"))


def new_memory(memory_id: str, item: MemoryItem, namespace: str, where: str) -> dict[str, Any]:
    """The ``POST /v1/long-term-memory/`` entry for one item."""
    text = text_of(item)
    if not text.strip():
        raise InvalidInputError(f"{where}: the agent memory server needs a memory text or a message with content")
    fields = _writable(item.metadata, where)
    return {"id": memory_id, "text": text, "user_id": item.user_id, "topics": item.tags or None,
            "namespace": fields.pop("namespace", None) or namespace,
            "memory_type": fields.pop("memory_type", "semantic"), **fields}


def patch_body(patch: MemoryPatch, where: str) -> dict[str, Any]:
    """The ``PATCH /v1/long-term-memory/{id}`` body: text, topics and the writable metadata fields."""
    if patch.conversation is not None and patch.memory is None:
        raise InvalidInputError(f"{where}: the agent memory server keeps one text per memory, not messages: "
                                "edit the memory text")
    body: dict[str, Any] = {}
    if patch.memory is not None:
        if not patch.memory.strip():
            raise InvalidInputError(f"{where}: the agent memory server cannot keep a blank memory text")
        body["text"] = patch.memory
    if patch.tags is not None:
        body["topics"] = patch.tags
    if patch.metadata is not None:
        body.update(_writable(patch.metadata, where))
    return body


def _writable(metadata: dict[str, Any], where: str) -> dict[str, Any]:
    """The server's fields among ``metadata`` (others are not kept by the server: refused, not dropped)."""
    unknown = sorted(set(metadata) - set(SHOWN))
    if unknown:
        raise InvalidInputError(f"{where}: the agent memory server keeps no metadata of its own; it cannot store "
                                f"{', '.join(unknown)} (it keeps {', '.join(WRITABLE)})")
    fields = {key: metadata[key] for key in WRITABLE if metadata.get(key) is not None}
    if "memory_type" in fields and fields["memory_type"] not in MEMORY_TYPES:
        raise InvalidInputError(f"{where}: memory_type must be one of {', '.join(MEMORY_TYPES)}")
    if "entities" in fields and not (isinstance(fields["entities"], list)
                                     and all(isinstance(e, str) for e in fields["entities"])):
        raise InvalidInputError(f"{where}: entities must be a list of strings")
    return fields


def record(row: dict[str, Any]) -> MemoryRecord:
    """A server memory as a record."""
    metadata = {key: row[key] for key in SHOWN if row.get(key) not in (None, [], False)}
    item = MemoryItem(user_id=row.get("user_id") or "", memory=row.get("text") or "", tags=row.get("topics") or [],
                      metadata=metadata)
    return MemoryRecord(id=str(row["id"]), item=item, created_at=_when(row.get("created_at")),
                        updated_at=_when(row.get("updated_at")), version=1)


def agent_item(row: dict[str, Any], user_id: str) -> MemoryItem:
    """A search hit exactly as the toolkit's editor hands it to the agent (its ``search``)."""
    text = row.get("text") or ""
    metadata = {key: row[key] for key in ("id", *WRITABLE, "created_at", "updated_at", "last_accessed",
                                          "extracted_from") if row.get(key) is not None}
    score = row.get("dist")
    return MemoryItem(user_id=row.get("user_id") or user_id, memory=text,
                      conversation=[{"role": "user", "content": text}] if text else [], tags=row.get("topics") or [],
                      metadata=metadata, similarity_score=float(score) if score is not None else None)


def _when(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        return dt.datetime.fromtimestamp(0, dt.UTC)
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
