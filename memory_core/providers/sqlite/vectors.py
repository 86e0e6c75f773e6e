"""Embeddings as float32 blobs keyed by memory rowid, scored exactly with numpy over one user's rows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

import numpy as np

from memory_core import retrieval
from memory_core.providers.sqlite.codec import RECORD_COLUMNS
from memory_core.providers.sqlite.probes import fingerprint
from memory_core.providers.sqlite.schema import get_meta, set_meta


def put(conn: sqlite3.Connection, entries: Iterable[tuple[int, str, np.ndarray]]) -> None:
    """Store ``(rowid, user_id, vector)`` entries, replacing older vectors of the same rows."""
    conn.executemany("INSERT OR REPLACE INTO vectors (rid, user_id, embedding) VALUES (?, ?, ?)",
                     ((rid, user_id, np.asarray(vector, dtype=np.float32).tobytes())
                      for rid, user_id, vector in entries))


def delete(conn: sqlite3.Connection, rid: int) -> None:
    conn.execute("DELETE FROM vectors WHERE rid = ?", (rid,))


def scores(conn: sqlite3.Connection, user_id: str, query: np.ndarray) -> dict[int, float]:
    """Cosine similarity of the query with every vector of the user (vectors are unit length)."""
    size = query.shape[0] * 4
    rows = [(rid, blob) for rid, blob in conn.execute("SELECT rid, embedding FROM vectors WHERE user_id = ?",
                                                      (user_id,)) if len(blob) == size]
    if not rows:
        return {}
    matrix = np.frombuffer(b"".join(blob for _, blob in rows), dtype=np.float32).reshape(len(rows), -1)
    return dict(zip((rid for rid, _ in rows), (matrix @ query).tolist(), strict=True))


def reset_if_changed(conn: sqlite3.Connection, model_id: str) -> bool:
    """Drop every vector made by another model (another space) or from other text; ``True`` when it did."""
    wanted = json.dumps({"model": model_id, "text": fingerprint(retrieval.embedding_text)})
    if get_meta(conn, "embedder") == wanted:
        return False
    conn.execute("DELETE FROM vectors")
    set_meta(conn, "embedder", wanted)
    return True


def missing(conn: sqlite3.Connection, after: int, limit: int) -> list[Any]:
    """Rows (``RECORD_COLUMNS``) past rowid ``after`` that have no vector yet, in rowid order."""
    return conn.execute(
        f"SELECT {RECORD_COLUMNS} FROM memories m WHERE m.rid > ? "
        "AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.rid = m.rid) ORDER BY m.rid LIMIT ?",
        (after, limit),
    ).fetchall()
