"""The FTS5 index in per-user token spaces: every indexed word carries its user's short key.

Each user gets a key (:data:`KEYS`, assigned on first write) spelled as a self-delimiting run of digits
(:func:`key_token`), and every word of the user's text is indexed as that key glued to the word (``"37"`` +
``"paint"`` = ``"37paint"``). A word's doclist therefore holds one user's rows only: a search reads, and
``bm25()`` counts its document frequencies over, the user's own rows, however many other users the file
holds. Digits are token characters to every word tokenizer and consonants to the porter stemmer, so the
stemmer treats ``"37painting"`` as it treats ``"painting"`` (but a word of one or two letters, which porter
leaves alone, is now stemmed, and a leading ``y`` counts as a vowel). The owner column holds the bare key, ANDed into
every query: isolation exact whatever the tokenizer makes of a word, and document lengths as before.

The layout (columns, tokenizer, fingerprint of ``retrieval.document_fields``) is kept in ``meta``; when it
changes, the index is rebuilt from the stored memories.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable

from memory_core import retrieval
from memory_core.errors import ConfigError
from memory_core.models import MemoryItem
from memory_core.providers.sqlite.codec import RECORD_COLUMNS, row_item
from memory_core.providers.sqlite.probes import fingerprint
from memory_core.providers.sqlite.schema import get_meta, set_meta

TABLE = "memories_fts"
KEYS = "fts_owners"  # (key INTEGER PRIMARY KEY, user_id UNIQUE): schema v3
OWNER = "owner_key"
TOKENS = "per-user keys"  # in the layout: files indexed before per-user token spaces are rebuilt
_REBUILD_BATCH = 2000
_CHUNK = 500  # user ids per IN (...) list
_WORD = re.compile(r"[^\W_]+")  # the words of analysed text as a word tokenizer splits them (not on "_")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text_columns() -> tuple[str, ...]:
    columns = tuple(retrieval.FTS_COLUMNS)
    if OWNER in columns:
        raise ConfigError(f"retrieval.FTS_COLUMNS may not use the reserved column name '{OWNER}'")
    return columns


def layout(tokenizer: str) -> str:
    """What the index is built from; a change means a rebuild."""
    return json.dumps({"columns": [OWNER, *_text_columns()], "tokenizer": tokenizer, "tokens": TOKENS,
                       "fields": fingerprint(retrieval.document_fields)})


def key_token(key: int) -> str:
    """A user's key as a prefix no other key's prefix starts: its digit count, then its digits (7 -> ``"17"``,
    1000 -> ``"41000"``), so ``key + word`` never reads as another key plus another word."""
    digits = str(key)
    if not 0 < key < 10**9:
        raise ValueError(f"FTS user key {key} is out of range (1 to 999,999,999)")
    return f"{len(digits)}{digits}"


def scoped(key: str, text: str) -> str:
    """The words of ``text`` in the user's token space."""
    return " ".join(key + word for word in _WORD.findall(text))


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


def user_keys(conn: sqlite3.Connection, user_ids: Iterable[str]) -> dict[str, int]:
    """The keys of the users, assigning keys to users who have none yet (a few statements per batch)."""
    wanted = list(dict.fromkeys(user_ids))
    found = _keys_of(conn, wanted)
    if len(found) < len(wanted):
        conn.executemany(f"INSERT INTO {KEYS} (user_id) VALUES (?)", ((u,) for u in wanted if u not in found))
        found = _keys_of(conn, wanted)
    return found


def key_of(conn: sqlite3.Connection, user_id: str) -> int | None:
    """The user's key, or ``None`` when the user has no memory."""
    return _keys_of(conn, [user_id]).get(user_id)


def _keys_of(conn: sqlite3.Connection, user_ids: list[str]) -> dict[str, int]:
    found = {}
    for start in range(0, len(user_ids), _CHUNK):
        chunk = user_ids[start:start + _CHUNK]
        found.update(conn.execute(
            f"SELECT user_id, key FROM {KEYS} WHERE user_id IN ({', '.join('?' * len(chunk))})", chunk))
    return found


def add(conn: sqlite3.Connection, entries: Iterable[tuple[int, MemoryItem]]) -> None:
    """Index items under their memory rowids."""
    entries = list(entries)
    keys = {user: key_token(key) for user, key in user_keys(conn, (item.user_id for _, item in entries)).items()}
    columns = _text_columns()
    names = ", ".join(_quote(c) for c in (OWNER, *columns))
    marks = ", ".join("?" * (len(columns) + 2))
    conn.executemany(
        f"INSERT INTO {TABLE} (rowid, {names}) VALUES ({marks})",
        ((rid, keys[item.user_id], *_texts(item, columns, keys[item.user_id])) for rid, item in entries),
    )


def _texts(item: MemoryItem, columns: tuple[str, ...], key: str) -> list[str]:
    fields = retrieval.document_fields(item)
    return [scoped(key, fields.get(column) or "") for column in columns]


def replace(conn: sqlite3.Connection, rid: int, item: MemoryItem) -> None:
    conn.execute(f"DELETE FROM {TABLE} WHERE rowid = ?", (rid,))
    add(conn, [(rid, item)])


def optimize(conn: sqlite3.Connection) -> None:
    """Merge the index into one segment: the terms of deleted and replaced rows, kept until a merge, go."""
    conn.execute(f"INSERT INTO {TABLE} ({TABLE}) VALUES ('optimize')")


def match(key: str, query: str) -> str | None:
    """The FTS5 expression of a free-text query in a user's token space: one phrase per distinct query word
    (as :func:`memory_core.retrieval.fts_query`), ORed; ``None`` when the query has no searchable term."""
    phrases = [scoped(key, word) for word in sorted(set(retrieval.terms(query)))]
    phrases = [phrase for phrase in phrases if phrase]
    return " OR ".join(f'"{phrase}"' for phrase in phrases) if phrases else None


def text_hits(conn: sqlite3.Connection, user_id: str, query: str, limit: int) -> list[tuple[int, float]]:
    """The user's best BM25 matches as ``(rowid, bm25)``, higher = better; none when the query has no terms."""
    number = key_of(conn, user_id)
    key = key_token(number) if number is not None else ""
    expression = match(key, query) if key else None
    if expression is None:
        return []
    # No column filter on the terms: it doubles the cost of bm25(); the owner column holds only the bare key,
    # which no query word's token equals (its weight is 0 anyway).
    weights = ", ".join(repr(float(w)) for w in (0.0, *retrieval.FTS_WEIGHTS))
    rows = conn.execute(
        f"SELECT rowid, -rank FROM {TABLE} WHERE {TABLE} MATCH ? AND rank MATCH 'bm25({weights})' "
        "ORDER BY rank LIMIT ?",
        (f'{OWNER} : "{key}" AND ({expression})', limit),
    ).fetchall()
    return [(rid, score) for rid, score in rows]
