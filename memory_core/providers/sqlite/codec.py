"""How records map to rows: timestamps as integer microseconds (UTC), JSON for nested fields."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from memory_core.models import MemoryItem
from memory_core.records import MemoryRecord, from_micros

# Column order of every ``SELECT`` that builds records (``m`` = memories).
RECORD_COLUMNS = "m.rid, m.id, m.user_id, m.memory, m.conversation, m.tags, m.metadata, m.created_us, " \
                 "m.updated_us, m.version"
INSERT_MEMORY = ("INSERT INTO memories (rid, id, user_id, memory, conversation, tags, metadata, created_us, "
                 "updated_us, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def memory_row(rid: int, record_id: str, item: MemoryItem, created_us: int, updated_us: int,
               version: int) -> tuple[Any, ...]:
    """Parameters of :data:`INSERT_MEMORY`."""
    conversation = None if item.conversation is None else json.dumps(item.conversation)
    return (rid, record_id, item.user_id, item.memory, conversation, json.dumps(item.tags),
            json.dumps(item.metadata), created_us, updated_us, version)


def _item_fields(row: Sequence[Any]) -> dict[str, Any]:
    return {"user_id": row[2], "memory": row[3], "conversation": None if row[4] is None else json.loads(row[4]),
            "tags": json.loads(row[5]), "metadata": json.loads(row[6])}


def row_item(row: Sequence[Any]) -> MemoryItem:
    """The item of a row selected with :data:`RECORD_COLUMNS`."""
    return MemoryItem.model_validate(_item_fields(row))


def row_item_as_written(row: Sequence[Any]) -> MemoryItem:
    """The item of a row built without checking it again (it was checked when written): for the candidates a
    search ranks, of which only the few returned become records (:func:`row_record`)."""
    return MemoryItem.model_construct(**_item_fields(row))


def row_record(row: Sequence[Any]) -> MemoryRecord:
    return MemoryRecord(id=row[1], item=row_item(row), created_at=from_micros(row[7]),
                        updated_at=from_micros(row[8]), version=row[9])
