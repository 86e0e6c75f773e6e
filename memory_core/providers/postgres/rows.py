"""Records to rows and back, the bulk (COPY) write path, and re-analysis of stored rows."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types import TypeInfo
from psycopg.types.json import Jsonb

from memory_core.models import MemoryItem
from memory_core.records import MemoryRecord
from memory_core.retrieval import FTS_COLUMNS, document_fields

RECORD_COLUMNS = "id, user_id, memory, conversation, tags, metadata, created_at, updated_at, version"
WRITE_COLUMNS = ("id", "user_id", "memory", "conversation", "tags", "metadata", "search_fields", "memory_folded",
                 "created_at", "updated_at", "version")
WRITE_TYPES = ("text", "text", "text", "jsonb", "text[]", "jsonb", "text[]", "text", "timestamptz", "timestamptz",
               "int8")
_REANALYSE_BATCH = 2000


def search_fields(item: MemoryItem) -> list[str]:
    """The analysed text of each FTS column, in :data:`FTS_COLUMNS` order."""
    fields = document_fields(item)
    return [fields.get(name, "") for name in FTS_COLUMNS]


def folded(item: MemoryItem) -> str:
    """The memory text as ``text_contains`` and fuzzy matching compare it."""
    return (item.memory or "").casefold()


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form of one vector."""
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


class VectorBytes(bytes):
    """A vector in pgvector's binary form (dimension, a reserved 0, big-endian float32s), for a binary COPY:
    formatting 384 floats as text cost more than everything else a row of a bulk import does."""

    @classmethod
    def of(cls, vector: np.ndarray) -> VectorBytes:
        return cls(struct.pack(">HH", len(vector), 0) + np.asarray(vector, dtype=">f4").tobytes())


async def _register_vector(conn: psycopg.AsyncConnection) -> int:
    """Teach the connection pgvector's type and :class:`VectorBytes`; returns the type's oid (per database)."""
    info = await TypeInfo.fetch(conn, "vector")
    if info is None:
        raise psycopg.errors.UndefinedObject("type vector does not exist")
    info.register(conn)

    class VectorDumper(Dumper):
        format = Format.BINARY
        oid = info.oid

        def dump(self, obj: VectorBytes) -> bytes:
            return obj

    conn.adapters.register_dumper(VectorBytes, VectorDumper)
    return info.oid


def write_row(record: MemoryRecord, vector: str | VectorBytes | None, with_vector: bool) -> tuple[Any, ...]:
    """The values of :data:`WRITE_COLUMNS` (plus ``embedding`` when ``with_vector``) for one record."""
    item = record.item
    conversation = Jsonb(item.conversation) if item.conversation is not None else None
    row = (record.id, item.user_id, item.memory, conversation, list(item.tags), Jsonb(item.metadata),
           search_fields(item), folded(item), record.created_at, record.updated_at, record.version)
    return (*row, vector) if with_vector else row


async def copy_records(conn: psycopg.AsyncConnection, records: Sequence[MemoryRecord],
                       vectors: Sequence[np.ndarray | None] | None) -> None:
    """Write rows with COPY; ``vectors`` fills ``embedding`` when given (a binary COPY then)."""
    if vectors is None:
        async with conn.cursor().copy(f"COPY memories ({', '.join(WRITE_COLUMNS)}) FROM STDIN") as copy:
            for record in records:
                await copy.write_row(write_row(record, None, False))
        return
    oid = await _register_vector(conn)
    statement = f"COPY memories ({', '.join(WRITE_COLUMNS)}, embedding) FROM STDIN (FORMAT BINARY)"
    async with conn.cursor().copy(statement) as copy:
        copy.set_types([*WRITE_TYPES, oid])
        for record, vector in zip(records, vectors, strict=True):
            await copy.write_row(write_row(record, None if vector is None else VectorBytes.of(vector), True))


def to_record(row: Sequence[Any]) -> MemoryRecord:
    """A record from a row of :data:`RECORD_COLUMNS`."""
    rid, user_id, memory, conversation, tags, metadata, created_at, updated_at, version = row[:9]
    item = MemoryItem(user_id=user_id, memory=memory, conversation=conversation, tags=tags, metadata=metadata)
    return MemoryRecord(id=rid, item=item, created_at=created_at, updated_at=updated_at, version=version)


async def reanalyse(conn: psycopg.AsyncConnection) -> None:
    """Recompute ``search_fields`` of every row (after :mod:`memory_core.retrieval` changed), in id order."""
    last = ""
    while True:
        cur = await conn.execute(f"SELECT {RECORD_COLUMNS} FROM memories WHERE id > %s ORDER BY id LIMIT %s",
                                 (last, _REANALYSE_BATCH))
        batch = [to_record(row) for row in await cur.fetchall()]
        if not batch:
            return
        async with conn.cursor() as up:
            await up.executemany("UPDATE memories SET search_fields = %s WHERE id = %s",
                                 [(search_fields(r.item), r.id) for r in batch])
        last = batch[-1].id
