"""``MemoryFilter``, sort and cursor rules as SQL (the same rules as ``MemoryFilter.matches``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg.types.json import Jsonb

from memory_core.errors import InvalidInputError
from memory_core.records import MemoryFilter, Sort, SortField, decode_cursor, encode_cursor


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
    if flt.retrieved is not None:
        add(("" if flt.retrieved else "NOT ") + "EXISTS (SELECT 1 FROM retrievals r WHERE r.id = memories.id)")
    return clauses, params


def sort_column(sort: Sort) -> str:
    """The sort key of a row of ``memories`` (selected last, for the next page's cursor)."""
    if sort.field is SortField.RETRIEVALS:
        return "coalesce((SELECT r.count FROM retrievals r WHERE r.id = memories.id), 0)"
    return sort.field.value


def page_query(flt: MemoryFilter, sort: Sort, limit: int, cursor: str | None,
               columns: str) -> tuple[str, list[Any]]:
    """One keyset page (plus one row, to know whether another page follows); each row ends with its sort key."""
    clauses, params = where(flt)
    column = sort_column(sort)
    if cursor:
        key, rid = _decode(cursor, sort)
        clauses.append(f"({column}, id) {'<' if sort.descending else '>'} (%s, %s)")
        params.extend([key, rid])
    direction = "DESC" if sort.descending else "ASC"
    condition = " AND ".join(clauses) or "TRUE"
    query = (f"SELECT {columns}, {column} FROM memories WHERE {condition} "
             f"ORDER BY {column} {direction}, id {direction} LIMIT %s")
    return query, [*params, limit + 1]


def cursor_after(row: tuple[Any, ...]) -> str:
    """The cursor after a row of :func:`page_query` (its id first, its sort key last)."""
    key = row[-1]
    return encode_cursor(key.isoformat() if isinstance(key, dt.datetime) else key, row[0])


def _decode(cursor: str, sort: Sort) -> tuple[dt.datetime | int, str]:
    values = decode_cursor(cursor)
    try:
        key, rid = values
        if sort.field is SortField.RETRIEVALS:
            if isinstance(key, bool) or not isinstance(key, int):
                raise ValueError(key)
            return key, str(rid)
        return dt.datetime.fromisoformat(key), str(rid)
    except (TypeError, ValueError):
        raise InvalidInputError(f"invalid page cursor {cursor!r}") from None
