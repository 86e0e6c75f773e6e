"""Statistics of the sqlite store as SQL aggregates (``fn(conn, ...)`` run by the pool on a reader), and the
agent's retrieval counts (written by :func:`note_retrieved` on the writer)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence

from memory_core.records import from_micros
from memory_core.stats import (
    PREVIEW_CHARS,
    Bucket,
    GrowthPoint,
    HistogramBin,
    SizedMemory,
    TagCount,
    bin_width,
    histogram,
)
from memory_core.usage import LogSettings, Retrieval, Usage, UsedMemory

_PER_USER = "SELECT count(*) AS n FROM memories GROUP BY user_id"
_DAY = {
    Bucket.DAY: "date(created_us / 1000000, 'unixepoch')",
    # 'weekday 0' moves to the next Sunday (or stays on one); six days back is that week's Monday.
    Bucket.WEEK: "date(created_us / 1000000, 'unixepoch', 'weekday 0', '-6 days')",
}
_SIZE = ("length(coalesce(m.memory, '')) + coalesce((SELECT sum(length(coalesce(json_extract(c.value, "
         "'$.content'), ''))) FROM json_each(m.conversation) c), 0)")


def user_histogram(conn: sqlite3.Connection, bins: int) -> list[HistogramBin]:
    low, high = conn.execute(f"SELECT min(n), max(n) FROM ({_PER_USER})").fetchone()
    if low is None:
        return []
    width = bin_width(low, high, bins)
    rows = conn.execute(f"SELECT (n - ?) / ?, count(*) FROM ({_PER_USER}) GROUP BY 1", (low, width)).fetchall()
    return histogram(rows, low, high, bins)


def top_tags(conn: sqlite3.Connection, n: int) -> list[TagCount]:
    rows = conn.execute("SELECT tag, count(*) FROM memory_tags GROUP BY tag ORDER BY 2 DESC, 1 LIMIT ?", (n,))
    return [TagCount(tag=tag, memories=count) for tag, count in rows]


def growth(conn: sqlite3.Connection, bucket: Bucket) -> list[GrowthPoint]:
    rows = conn.execute(f"SELECT {_DAY[bucket]} AS day, count(*) FROM memories GROUP BY day ORDER BY day")
    return [GrowthPoint(start=dt.date.fromisoformat(day), created=count) for day, count in rows]


def largest(conn: sqlite3.Connection, n: int) -> list[SizedMemory]:
    rows = conn.execute(
        f"SELECT m.id, m.user_id, {_SIZE} AS size, substr(coalesce(m.memory, ''), 1, ?) FROM memories m "
        "ORDER BY size DESC, m.id LIMIT ?", (PREVIEW_CHARS, n))
    return [SizedMemory(id=rid, user_id=uid, size=size, preview=text) for rid, uid, size, text in rows]


# --- retrievals (memory_core.usage): one row per memory the agent's search returned ---------------------------

_NEWEST = "at_us DESC, seq DESC"  # searches' writes may land out of order: the log is in the searches' order


def note_retrieved(conn: sqlite3.Connection, ids: Sequence[str], at_us: int, query: str, log: LogSettings) -> None:
    # Only memories that still exist: the write may come after a delete that was made meanwhile.
    conn.executemany("INSERT INTO retrievals (id, count, last_us) SELECT id, 1, ? FROM memories WHERE id = ? "
                     "ON CONFLICT (id) DO UPDATE SET count = count + 1, last_us = max(last_us, excluded.last_us)",
                     [(at_us, i) for i in ids])
    if log.keep:
        events = log.events(ids, query)
        conn.executemany("INSERT INTO retrieval_events (id, at_us, rank, query_hash, query) SELECT id, ?, ?, ?, ? "
                         "FROM memories WHERE id = ?", [(at_us, rank, digest, text, rid)
                                                        for rid, rank, digest, text in events])
        conn.executemany("DELETE FROM retrieval_events WHERE id = ? AND seq NOT IN (SELECT seq FROM retrieval_events "
                         f"WHERE id = ? ORDER BY {_NEWEST} LIMIT ?)", [(rid, rid, log.keep) for rid in ids])


def retrievals(conn: sqlite3.Connection, memory_id: str, n: int) -> list[Retrieval]:
    rows = conn.execute("SELECT at_us, rank, query_hash, query FROM retrieval_events WHERE id = ? "
                        f"ORDER BY {_NEWEST} LIMIT ?", (memory_id, n))
    return [Retrieval(at=from_micros(at), rank=rank, query_hash=digest, query=text) for at, rank, digest, text in rows]


def usage(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, Usage]:
    found: dict[str, Usage] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start:start + 500])
        rows = conn.execute(f"SELECT id, count, last_us FROM retrievals WHERE id IN ({','.join('?' * len(chunk))})",
                            chunk)
        found.update({rid: Usage(retrievals=count, last_retrieved=from_micros(last)) for rid, count, last in rows})
    return found


def most_used(conn: sqlite3.Connection, n: int) -> list[UsedMemory]:
    rows = conn.execute(
        "SELECT m.id, m.user_id, substr(coalesce(m.memory, ''), 1, ?), r.count, r.last_us FROM retrievals r "
        "JOIN memories m ON m.id = r.id ORDER BY r.count DESC, r.last_us DESC, m.id LIMIT ?", (PREVIEW_CHARS, n))
    return [UsedMemory(id=rid, user_id=uid, preview=text, retrievals=count, last_retrieved=from_micros(last))
            for rid, uid, text, count, last in rows]


def never_retrieved(conn: sqlite3.Connection, n: int) -> list[SizedMemory]:
    rows = conn.execute(
        f"SELECT m.id, m.user_id, {_SIZE}, substr(coalesce(m.memory, ''), 1, ?) FROM memories m "
        "WHERE NOT EXISTS (SELECT 1 FROM retrievals r WHERE r.id = m.id) ORDER BY m.created_us, m.id LIMIT ?",
        (PREVIEW_CHARS, n))
    return [SizedMemory(id=rid, user_id=uid, size=size, preview=text) for rid, uid, size, text in rows]
