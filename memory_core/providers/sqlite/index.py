"""The FTS5 index: one row per memory, columns from :mod:`memory_core.retrieval` plus an owner column.

The owner column holds one token per user (:func:`.codec.owner_token`), so a search is scoped to its user
inside the same MATCH expression as the query terms. The layout (columns, tokenizer, fingerprint of
``retrieval.document_fields``) is kept in ``meta``; when it changes, the index is rebuilt from the stored
memories.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from memory_core import retrieval
from memory_core.errors import ConfigError
from memory_core.models import MemoryItem
from memory_core.providers.sqlite.codec import RECORD_COLUMNS, owner_token, row_item
from memory_core.providers.sqlite.probes import fingerprint
from memory_core.providers.sqlite.schema import get_meta, set_meta

TABLE = "memories_fts"
OWNER = "owner_key"
_REBUILD_BATCH = 2000


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text_columns() -> tuple[str, ...]:
    columns = tuple(retrieval.FTS_COLUMNS)
    if OWNER in columns:
        raise ConfigError(f"retrieval.FTS_COLUMNS may not use the reserved column name '{OWNER}'")
    return columns


def layout(tokenizer: str) -> str:
    """What the index is built from; a change means a rebuild."""
    return json.dumps({"columns": [OWNER, *_text_columns()], "tokenizer": tokenizer,
                       "fields": fingerprint(retrieval.document_fields)})


def ensure(conn: sqlite3.Connection, tokenizer: str) -> bool:
    """Create or rebuild the index when its layout changed (inside the caller's transaction)."""
    wanted = layout(tokenizer)
    if get_meta(conn, "fts_layout") == wanted:
        return False
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    columns = ", ".join(_quote(c) for c in (OWNER, *_text_columns()))
    tokenize = "'" + tokenizer.replace("'", "''") + "'"
    try:
        conn.execute(f"CREATE VIRTUAL TABLE {TABLE} USING fts5({columns}, tokenize = {tokenize})")
    except sqlite3.OperationalError as exc:
        raise ConfigError(f"invalid FTS5 tokenizer {tokenizer!r}: {exc}", field="fts_tokenizer") from None
    after = 0
    while rows := conn.execute(f"SELECT {RECORD_COLUMNS} FROM memories m WHERE m.rid > ? ORDER BY m.rid LIMIT ?",
                               (after, _REBUILD_BATCH)).fetchall():
        add(conn, [(row[0], row_item(row)) for row in rows])
        after = rows[-1][0]
    set_meta(conn, "fts_layout", wanted)
    return True


def add(conn: sqlite3.Connection, entries: Iterable[tuple[int, MemoryItem]]) -> None:
    """Index items under their memory rowids."""
    columns = _text_columns()
    names = ", ".join(_quote(c) for c in (OWNER, *columns))
    marks = ", ".join("?" * (len(columns) + 2))
    conn.executemany(
        f"INSERT INTO {TABLE} (rowid, {names}) VALUES ({marks})",
        ((rid, owner_token(item.user_id), *_texts(item, columns)) for rid, item in entries),
    )


def _texts(item: MemoryItem, columns: tuple[str, ...]) -> list[str]:
    fields = retrieval.document_fields(item)
    return [fields.get(column) or "" for column in columns]


def replace(conn: sqlite3.Connection, rid: int, item: MemoryItem) -> None:
    conn.execute(f"DELETE FROM {TABLE} WHERE rowid = ?", (rid,))
    add(conn, [(rid, item)])


def optimize(conn: sqlite3.Connection) -> None:
    """Merge the index into one segment: the terms of deleted and replaced rows, kept until a merge, go."""
    conn.execute(f"INSERT INTO {TABLE} ({TABLE}) VALUES ('optimize')")


def text_hits(conn: sqlite3.Connection, user_id: str, query: str, limit: int) -> list[tuple[int, float]]:
    """The user's best BM25 matches as ``(rowid, bm25)``, higher = better; none when the query has no terms."""
    expression = retrieval.fts_query(query)
    if expression is None:
        return []
    # No column filter on the terms: it doubles the cost of bm25(), and the owner column holds only this
    # user's digit token, which no word of another user's query can match (its weight is 0 anyway).
    match = f'{OWNER} : "{owner_token(user_id)}" AND ({expression})'
    weights = ", ".join(repr(float(w)) for w in (0.0, *retrieval.FTS_WEIGHTS))
    rows = conn.execute(
        f"SELECT rowid, -rank FROM {TABLE} WHERE {TABLE} MATCH ? AND rank MATCH 'bm25({weights})' "
        "ORDER BY rank LIMIT ?",
        (match, limit),
    ).fetchall()
    return [(rid, score) for rid, score in rows]
