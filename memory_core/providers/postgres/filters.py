"""``MemoryFilter``, sort and cursor rules as SQL (the same rules as ``MemoryFilter.matches``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg.types.json import Jsonb

from memory_core.errors import InvalidInputError
from memory_core.records import MemoryFilter, MemoryRecord, Sort, decode_cursor, encode_cursor


def like_escape(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (default escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where(flt: MemoryFilter) -> tuple[list[str], list[Any]]:
    """SQL conditions (ANDed) and their parameters."""
    clauses: list[str] = []
    params: list[Any] = []

    def add(clause: str, *values: Any) -> None:
        clauses.append(clause)
        params.extend(values)

    if flt.user_id is not None:
        add("user_id = %s", flt.user_id)
    if flt.tags_any:
        add("tags && %s::text[]", list(flt.tags_any))
    if flt.tags_all:
        add("tags @> %s::text[]", list(flt.tags_all))
    for key, value in flt.metadata.items():
        # containment uses the GIN index; the equality keeps "an array holding the value" out
        add("metadata @> %s AND metadata -> %s::text = %s", Jsonb({key: value}), key, Jsonb(value))
    if flt.text_contains:
        add("memory_folded LIKE %s", f"%{like_escape(flt.text_contains.casefold())}%")
    for column, lo, hi in (("created_at", flt.created_from, flt.created_to),
                           ("updated_at", flt.updated_from, flt.updated_to)):
        if lo is not None:
            add(f"{column} >= %s", lo)
        if hi is not None:
            add(f"{column} <= %s", hi)
    return clauses, params


def page_query(flt: MemoryFilter, sort: Sort, limit: int, cursor: str | None,
               columns: str) -> tuple[str, list[Any]]:
    """One keyset page (plus one row, to know whether another page follows)."""
    clauses, params = where(flt)
    column = sort.field.value
    if cursor:
        when, rid = _decode(cursor)
        clauses.append(f"({column}, id) {'<' if sort.descending else '>'} (%s, %s)")
        params.extend([when, rid])
    direction = "DESC" if sort.descending else "ASC"
    condition = " AND ".join(clauses) or "TRUE"
    query = (f"SELECT {columns} FROM memories WHERE {condition} "
             f"ORDER BY {column} {direction}, id {direction} LIMIT %s")
    return query, [*params, limit + 1]


def cursor_after(record: MemoryRecord, sort: Sort) -> str:
    return encode_cursor(getattr(record, sort.field.value).isoformat(), record.id)


def _decode(cursor: str) -> tuple[dt.datetime, str]:
    values = decode_cursor(cursor)
    try:
        when, rid = values
        return dt.datetime.fromisoformat(when), str(rid)
    except (TypeError, ValueError):
        raise InvalidInputError(f"invalid page cursor {cursor!r}") from None
