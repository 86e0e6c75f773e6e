"""The store's SQL, as plain functions ``fn(conn, ...)`` run by :class:`.pool.Pool` inside one transaction."""

from __future__ import annotations

import dataclasses
import itertools
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from memory_core import retrieval
from memory_core.errors import VersionConflictError
from memory_core.models import MemoryItem
from memory_core.providers.sqlite import filters, index, vectors
from memory_core.providers.sqlite.codec import (
    INSERT_MEMORY,
    RECORD_COLUMNS,
    memory_row,
    row_item,
    row_item_as_written,
    row_record,
)
from memory_core.records import MemoryFilter, MemoryRecord, Sort, SortField

_CHUNK = 500  # ids per IN (...) list
# A tag on this many rows is scanned for in sort order when listing across users; rarer ones drive the query.
_COMMON_TAG = 5000


@dataclasses.dataclass
class NewRow:
    """A memory about to be inserted, with its vector when an embedder is configured."""

    id: str
    item: MemoryItem
    created_us: int
    updated_us: int
    version: int = 1
    vector: np.ndarray | None = None


# --- reads ---------------------------------------------------------------------------------------------

def get(conn: sqlite3.Connection, record_id: str) -> MemoryRecord | None:
    row = conn.execute(f"SELECT {RECORD_COLUMNS} FROM memories m WHERE m.id = ?", (record_id,)).fetchone()
    return row_record(row) if row else None


def get_many(conn: sqlite3.Connection, record_ids: Sequence[str]) -> dict[str, MemoryRecord]:
    """The records among ``record_ids`` that exist, a few hundred ids per statement."""
    found: dict[str, MemoryRecord] = {}
    ids = list(dict.fromkeys(record_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = conn.execute(f"SELECT {RECORD_COLUMNS} FROM memories m WHERE m.id IN ({', '.join('?' * len(chunk))})",
                            chunk).fetchall()
        found.update((record.id, record) for record in map(row_record, rows))
    return found


def page(conn: sqlite3.Connection, f: MemoryFilter, sort: Sort, limit: int,
         cursor: str | None) -> tuple[list[MemoryRecord], str | None]:
    clause, params = filters.where(f, lambda tags: _tagged_rows(conn, tags) >= _COMMON_TAG)
    if f.user_id is not None and sort.field is SortField.UPDATED:
        # Edited rows from their partial index by update; the others (updated = created) by creation; merged.
        # Each index is named: from statistics the planner may read the edited rows by creation, then sort them.
        edited, edited_params = _ordered(clause, params, sort, cursor, limit,
                                         "m.updated_us <> m.created_us", "memories_user_edited")
        by_creation = Sort(field=SortField.CREATED, descending=sort.descending)
        unedited, unedited_params = _ordered(clause, params, by_creation, cursor, limit,
                                             "m.updated_us = m.created_us", "memories_user_created")
        direction = "DESC" if sort.descending else "ASC"
        sql = (f"SELECT * FROM ({edited}) UNION ALL SELECT * FROM ({unedited}) "
               f"ORDER BY sort_key {direction}, id {direction} LIMIT ?")
        rows = conn.execute(sql, (*edited_params, *unedited_params, limit + 1)).fetchall()
    else:
        sql, sql_params = _ordered(clause, params, sort, cursor, limit)
        rows = conn.execute(sql, sql_params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return [row_record(r) for r in rows], filters.next_cursor(rows[-1]) if more else None


def _ordered(clause: str, params: list[Any], sort: Sort, cursor: str | None, limit: int,
             extra: str = "", index: str = "") -> tuple[str, list[Any]]:
    """One page's ``SELECT`` (``RECORD_COLUMNS``, then ``sort_key``) of the rows matching ``clause`` and ``extra``,
    read through ``index`` when one is named."""
    after, order, after_params = filters.keyset(sort, cursor)
    where = " AND ".join(part for part in (clause, extra, after) if part)
    source = f"memories m INDEXED BY {index}" if index else "memories m"
    return (f"SELECT {RECORD_COLUMNS}, {filters.sort_column(sort)} AS sort_key FROM {source} WHERE {where} "
            f"ORDER BY {order} LIMIT ?", [*params, *after_params, limit + 1])


def _tagged_rows(conn: sqlite3.Connection, tags: Sequence[str]) -> int:
    """How many rows carry any of the tags, counted up to :data:`_COMMON_TAG`."""
    return conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM memory_tags WHERE tag IN ({', '.join('?' * len(tags))}) "
                        "LIMIT ?)", (*tags, _COMMON_TAG)).fetchone()[0]


def count(conn: sqlite3.Connection, f: MemoryFilter) -> int:
    clause, params = filters.where(f)
    return conn.execute(f"SELECT count(*) FROM memories m WHERE {clause}", params).fetchone()[0]


def users(conn: sqlite3.Connection, prefix: str, limit: int, after: str | None) -> list[tuple[str, int, int]]:
    """``(user_id, memory count, last activity)`` in user id order, from the indexes alone. The last activity is
    the latest update or creation of a memory of the user: its last update, as a memory is updated after it is
    created (an imported record whose update time is before its creation counts its creation time)."""
    clauses, params = ["1"], []
    if prefix:
        clauses += ["user_id >= ?", "substr(user_id, 1, ?) = ?"]
        params += [prefix, len(prefix), prefix]
        upper = _prefix_end(prefix)
        if upper is not None:
            clauses.append("user_id < ?")
            params.append(upper)
    if after is not None:
        clauses.append("user_id > ?")
        params.append(after)
    # Per user: the latest update among edited rows (their partial index), the latest creation (created index).
    return conn.execute(
        "SELECT u.user_id, u.n, max("
        "coalesce((SELECT max(e.updated_us) FROM memories e INDEXED BY memories_user_edited "
        "WHERE e.user_id = u.user_id AND e.updated_us <> e.created_us), 0), "
        "(SELECT max(c.created_us) FROM memories c WHERE c.user_id = u.user_id)) "
        f"FROM (SELECT user_id, count(*) AS n FROM memories WHERE {' AND '.join(clauses)} "
        "GROUP BY user_id ORDER BY user_id LIMIT ?) u ORDER BY u.user_id",
        (*params, limit),
    ).fetchall()


def _prefix_end(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix`` (code point order = UTF-8 order)."""
    code = ord(prefix[-1]) + 1
    if code > 0x10FFFF:
        return None
    return prefix[:-1] + chr(0xE000 if 0xD800 <= code < 0xE000 else code)


def candidates(conn: sqlite3.Connection, user_id: str, query: str, pool: int,
               query_vector: np.ndarray | None) -> list[tuple[retrieval.Candidate, tuple[Any, ...]]]:
    """The user's best text and vector matches, each with every score the store has for it and its row
    (``RECORD_COLUMNS``: :func:`.codec.row_record` makes the record of the few a search returns)."""
    text = dict(index.text_hits(conn, user_id, query, pool))
    similarity = vectors.scores(conn, user_id, query_vector) if query_vector is not None else {}
    rids = list(dict.fromkeys([*text, *itertools.islice(similarity, pool)]))  # the nearest come first
    found = []
    for chunk in _chunks(rids):
        found += conn.execute(
            f"SELECT {RECORD_COLUMNS} FROM memories m WHERE m.rid IN ({', '.join('?' * len(chunk))}) "
            "AND +m.user_id = ?", (*chunk, user_id)).fetchall()  # + : by rowid, not the user index
    return [(retrieval.Candidate(id=row[1], item=row_item_as_written(row), text_score=text.get(row[0]),
                                 vector_score=similarity.get(row[0])), row) for row in found]


# --- writes --------------------------------------------------------------------------------------------

def insert(conn: sqlite3.Connection, rows: Sequence[NewRow]) -> None:
    """Insert rows with their index entries, tags and vectors."""
    start = conn.execute("SELECT coalesce(max(rid), 0) + 1 FROM memories").fetchone()[0]
    numbered = list(enumerate(rows, start))
    conn.executemany(INSERT_MEMORY, (memory_row(rid, r.id, r.item, r.created_us, r.updated_us, r.version)
                                     for rid, r in numbered))
    index.add(conn, ((rid, r.item) for rid, r in numbered))
    _put_tags(conn, ((rid, r.item.tags) for rid, r in numbered))
    vectors.put(conn, ((rid, r.item.user_id, r.vector) for rid, r in numbered if r.vector is not None))


def upsert(conn: sqlite3.Connection, rows: Sequence[NewRow]) -> None:
    """Insert rows, replacing any stored rows with the same ids."""
    delete(conn, [r.id for r in rows])
    insert(conn, rows)


def _put_tags(conn: sqlite3.Connection, entries: Any) -> None:
    conn.executemany("INSERT OR IGNORE INTO memory_tags (rid, tag) VALUES (?, ?)",
                     ((rid, tag) for rid, tags in entries for tag in tags))


def update(conn: sqlite3.Connection, before: MemoryRecord, item: MemoryItem, vector: np.ndarray | None,
           now_us: int) -> MemoryRecord:
    """Replace ``before``'s item if the stored record is still exactly ``before``."""
    row = conn.execute(f"SELECT {RECORD_COLUMNS} FROM memories m WHERE m.id = ?", (before.id,)).fetchone()
    current = row_record(row) if row else None
    if current != before:
        raise VersionConflictError(before.id, before.version, current)
    rid, version = row[0], before.version + 1
    params = memory_row(rid, before.id, item, row[7], now_us, version)
    conn.execute("UPDATE memories SET memory = ?, conversation = ?, tags = ?, metadata = ?, updated_us = ?, "
                 "version = ? WHERE rid = ?", (*params[3:7], now_us, version, rid))
    index.replace(conn, rid, item)
    conn.execute("DELETE FROM memory_tags WHERE rid = ?", (rid,))
    _put_tags(conn, [(rid, item.tags)])
    if retrieval.embedding_text(item) != retrieval.embedding_text(before.item):
        vectors.delete(conn, rid)
    if vector is not None:
        vectors.put(conn, [(rid, item.user_id, vector)])
    return row_record(conn.execute(f"SELECT {RECORD_COLUMNS} FROM memories m WHERE m.rid = ?", (rid,)).fetchone())


def delete(conn: sqlite3.Connection, record_ids: Sequence[str]) -> int:
    """Delete by id (the trigger removes index, tags and vectors); returns how many existed."""
    deleted = 0
    for chunk in _chunks(list(dict.fromkeys(record_ids))):
        deleted += conn.execute(f"DELETE FROM memories WHERE id IN ({', '.join('?' * len(chunk))})",
                                chunk).rowcount
    return deleted


def delete_user(conn: sqlite3.Connection, user_id: str) -> int:
    return conn.execute("DELETE FROM memories WHERE user_id = ?", (user_id,)).rowcount


def fill_vectors(conn: sqlite3.Connection, after: int, limit: int) -> list[tuple[int, MemoryItem]]:
    """Rows that lack a vector, after rowid ``after``."""
    return [(row[0], row_item(row)) for row in vectors.missing(conn, after, limit)]


def _chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i:i + _CHUNK] for i in range(0, len(values), _CHUNK)]
