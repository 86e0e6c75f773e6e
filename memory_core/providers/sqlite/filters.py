"""``MemoryFilter`` and ``Sort`` as SQL over ``memories m``, with the rules of ``MemoryFilter.matches``."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from memory_core.errors import InvalidInputError
from memory_core.records import MemoryFilter, Sort, SortField, decode_cursor, encode_cursor, to_micros

_INT64 = 2**63
_NUMERIC = "('integer', 'real', 'true', 'false')"
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-.:/@ ]+")
_USED = "EXISTS (SELECT 1 FROM retrievals r WHERE r.id = m.id)"


def contains(text: str | None, folded_needle: str) -> bool:
    """SQL function ``memdash_contains``: case-insensitive (casefold) substring test."""
    return folded_needle in (text or "").casefold()


def where(f: MemoryFilter, is_common: Callable[[Sequence[str]], bool] = lambda tags: False) -> tuple[str, list[Any]]:
    """A WHERE expression (never empty) and its parameters; ``is_common(tags)`` says a tag is on many rows."""
    clauses: list[str] = []
    params: list[Any] = []

    def add(clause: str, *values: Any) -> None:
        clauses.append(clause)
        params.extend(values)

    if f.user_id is not None:
        add("m.user_id = ?", f.user_id)
    if f.tags_any:
        tags = sorted(set(f.tags_any))
        add(_has_tag(f, tags, is_common), *tags)
    for tag in sorted(set(f.tags_all)):
        add(_has_tag(f, [tag], is_common), tag)
    for key, value in f.metadata.items():
        add(*_metadata(key, value))
    if f.text_contains:
        add("memdash_contains(m.memory, ?)", f.text_contains.casefold())
    for column, lo, hi in (("created_us", f.created_from, f.created_to), ("updated_us", f.updated_from, f.updated_to)):
        if lo is not None:
            add(f"m.{column} >= ?", to_micros(lo))
        if hi is not None:
            add(f"m.{column} <= ?", to_micros(hi))
    if f.retrieved is not None:
        add(_USED if f.retrieved else f"NOT {_USED}")
    return " AND ".join(clauses) or "1", params


def _has_tag(f: MemoryFilter, tags: Sequence[str], is_common: Callable[[Sequence[str]], bool]) -> str:
    """Within one user, or for tags on many rows, check each row met in sort order (a page stops early);
    for rare tags across users, let the tag index drive."""
    test = "= ?" if len(tags) == 1 else "IN (" + ", ".join("?" * len(tags)) + ")"
    if f.user_id is not None or is_common(tags):
        return f"EXISTS (SELECT 1 FROM memory_tags t WHERE t.rid = m.rid AND t.tag {test})"
    return f"m.rid IN (SELECT t.rid FROM memory_tags t WHERE t.tag {test})"


def _metadata(key: str, value: Any) -> tuple[Any, ...]:
    """``key in metadata and metadata[key] == value`` in SQL: Python's equality (``1 == 1.0 == True``).

    Plain keys use ``json_type``/``json_extract`` (3x faster); others go through ``json_each``, which
    compares keys unescaped.
    """
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        value = float(value)
    types = "= 'null'" if value is None else "= 'text'" if isinstance(value, str) else f"IN {_NUMERIC}"
    if _PLAIN_KEY.fullmatch(key):
        path = f'$."{key}"'
        if value is None:
            return f"json_type(m.metadata, ?) {types}", path
        return f"json_type(m.metadata, ?) {types} AND json_extract(m.metadata, ?) = ?", path, path, value
    head = f"EXISTS (SELECT 1 FROM json_each(m.metadata) j WHERE j.key = ? AND j.type {types}"
    if value is None:
        return head + ")", key
    return head + " AND j.value = ?)", key, value


def sort_column(sort: Sort) -> str:
    """The sort key of a row of ``memories m``, an integer (selected last, for the next page's cursor)."""
    if sort.field is SortField.RETRIEVALS:
        return "coalesce((SELECT r.count FROM retrievals r WHERE r.id = m.id), 0)"
    return f"m.{'created_us' if sort.field is SortField.CREATED else 'updated_us'}"


def keyset(sort: Sort, cursor: str | None) -> tuple[str, str, list[Any]]:
    """``(extra WHERE expression or "", ORDER BY expression, params)`` for a keyset page."""
    column = sort_column(sort)
    direction = "DESC" if sort.descending else "ASC"
    order = f"{column} {direction}, m.id {direction}"
    if not cursor:
        return "", order, []
    values = decode_cursor(cursor)
    if len(values) != 2 or not isinstance(values[0], int) or not isinstance(values[1], str):
        raise InvalidInputError(f"invalid page cursor {cursor!r}")
    return f"({column}, m.id) {'<' if sort.descending else '>'} (?, ?)", order, values


def next_cursor(row: tuple[Any, ...]) -> str:
    """Cursor after a row selected as ``RECORD_COLUMNS, sort_column(sort)``."""
    return encode_cursor(row[-1], row[1])
