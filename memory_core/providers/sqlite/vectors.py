"""Embeddings as int8 with a per-vector scale, clustered by user, scored with numpy over one user's rows.

A vector is stored as its scale (float32: its largest absolute component / 127) then its components in
that unit, rounded to int8: a quarter of float32's bytes, so a search reads a quarter of the pages, and a
cosine within 0.002 of float32's from a few hundred dimensions up (0.005 at 64; ``test_sqlite_vectors_*``).

A vector's row id is its user's index key (:func:`.index.user_keys`) shifted above the memory's rowid
(:func:`vector_id`): a user's vectors lie side by side in the table, so a search reads them as one range
of neighbouring pages instead of one scattered page per memory (1,000 vectors of 384 dimensions in a file of
1,000,000, bench.latency's corpus: 4.9 -> 1.9 ms, pages from the OS page cache; docs/retrieval.md).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

import numpy as np

from memory_core import retrieval
from memory_core.providers.sqlite import index
from memory_core.providers.sqlite.codec import RECORD_COLUMNS
from memory_core.providers.sqlite.probes import fingerprint
from memory_core.providers.sqlite.schema import get_meta, set_meta

_RID_BITS = 32  # memory rowids below 2**32; user keys (below 10**9) fill the bits above


def vector_id(key: int, rid: int) -> int:
    """The row id of a memory's vector: its user's key, then the memory's rowid."""
    if not 0 < rid < 1 << _RID_BITS:
        raise ValueError(f"memory rowid {rid} is out of range for a vector id (1 to {(1 << _RID_BITS) - 1:,})")
    return key << _RID_BITS | rid


def encode(vector: np.ndarray) -> bytes:
    """A vector as stored: its scale (float32), then its components in that unit as int8."""
    values = np.asarray(vector, dtype=np.float32)
    scale = np.float32(np.abs(values).max(initial=0.0) / 127)
    units = np.round(values / scale) if scale > 0 else np.zeros_like(values)
    return scale.tobytes() + units.astype(np.int8).tobytes()


def decode(blobs: list[bytes]) -> np.ndarray:
    """Stored vectors of one length as a float32 matrix, a row each."""
    raw = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), -1)
    scales = raw[:, :4].copy().view(np.float32)
    return raw[:, 4:].view(np.int8).astype(np.float32) * scales


def from_float32(blob: bytes) -> bytes:
    """SQL function ``memdash_int8``: a float32 blob (schema 5 and before) as :func:`encode` stores it."""
    return encode(np.frombuffer(blob, dtype=np.float32))


def put(conn: sqlite3.Connection, entries: Iterable[tuple[int, str, np.ndarray]]) -> None:
    """Store ``(rowid, user_id, vector)`` entries, replacing older vectors of the same rows."""
    entries = list(entries)
    keys = index.user_keys(conn, (user_id for _, user_id, _ in entries))
    conn.executemany("INSERT OR REPLACE INTO vectors (vid, rid, embedding) VALUES (?, ?, ?)",
                     ((vector_id(keys[user_id], rid), rid, encode(vector))
                      for rid, user_id, vector in entries))


def delete(conn: sqlite3.Connection, rid: int) -> None:
    conn.execute("DELETE FROM vectors WHERE rid = ?", (rid,))


def scores(conn: sqlite3.Connection, user_id: str, query: np.ndarray) -> dict[int, float]:
    """Cosine similarity of the query with every vector of the user (vectors are unit length), best first."""
    key = index.key_of(conn, user_id)
    if key is None:
        return {}
    rows = conn.execute("SELECT rid, embedding FROM vectors WHERE vid BETWEEN ? AND ? AND length(embedding) = ?",
                        (vector_id(key, 1), vector_id(key, (1 << _RID_BITS) - 1), query.shape[0] + 4)).fetchall()
    if not rows:
        return {}
    similarity = decode([blob for _, blob in rows]) @ query
    order = np.argsort(-similarity, kind="stable")  # ties in rowid order
    return dict(zip([rows[i][0] for i in order.tolist()], similarity[order].tolist(), strict=True))


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
