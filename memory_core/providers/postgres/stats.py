"""Statistics of the postgres store (:class:`memory_core.stats.MemoryStats`) as SQL aggregates: each function
sends one or two statements and reads back only the aggregates, never the memories."""

from __future__ import annotations

import psycopg

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

_PER_USER = "SELECT count(*) AS n FROM memories GROUP BY user_id"
# the connections run in UTC (store.session_options); date_trunc's weeks are ISO weeks, starting on Monday
_DAY = {Bucket.DAY: "created_at::date", Bucket.WEEK: "date_trunc('week', created_at)::date"}
_SIZE = ("char_length(coalesce(m.memory, '')) + coalesce((SELECT sum(char_length(coalesce(c ->> 'content', ''))) "
         "FROM jsonb_array_elements(CASE jsonb_typeof(m.conversation) WHEN 'array' THEN m.conversation "
         "ELSE '[]'::jsonb END) AS c), 0)")
_SIZED = f"SELECT m.id, m.user_id, {_SIZE} AS size, left(coalesce(m.memory, ''), %s) FROM memories m"


async def _rows(conn: psycopg.AsyncConnection, statement: str, params: tuple = ()) -> list[tuple]:
    cur = await conn.execute(statement, params)
    return await cur.fetchall()


async def user_histogram(conn: psycopg.AsyncConnection, bins: int) -> list[HistogramBin]:
    [(low, high)] = await _rows(conn, f"SELECT min(n), max(n) FROM ({_PER_USER}) AS per_user")
    if low is None:
        return []
    width = bin_width(low, high, bins)
    found = await _rows(conn, f"SELECT (n - %s) / %s, count(*) FROM ({_PER_USER}) AS per_user GROUP BY 1",
                        (low, width))
    return histogram(found, low, high, bins)


async def top_tags(conn: psycopg.AsyncConnection, n: int) -> list[TagCount]:
    found = await _rows(conn, "SELECT tag, count(*) FROM memories, unnest(ARRAY(SELECT DISTINCT unnest(tags))) AS tag "
                              "GROUP BY tag ORDER BY 2 DESC, tag COLLATE \"C\" LIMIT %s", (n,))
    return [TagCount(tag=tag, memories=count) for tag, count in found]


async def growth(conn: psycopg.AsyncConnection, bucket: Bucket) -> list[GrowthPoint]:
    found = await _rows(conn, f"SELECT {_DAY[bucket]} AS day, count(*) FROM memories GROUP BY day ORDER BY day")
    return [GrowthPoint(start=day, created=count) for day, count in found]


async def largest(conn: psycopg.AsyncConnection, n: int) -> list[SizedMemory]:
    found = await _rows(conn, f"{_SIZED} ORDER BY size DESC, m.id LIMIT %s", (PREVIEW_CHARS, n))
    return [SizedMemory(id=rid, user_id=uid, size=size, preview=text) for rid, uid, size, text in found]


async def never_retrieved(conn: psycopg.AsyncConnection, n: int) -> list[SizedMemory]:
    found = await _rows(conn, f"{_SIZED} WHERE NOT EXISTS (SELECT 1 FROM retrievals r WHERE r.id = m.id) "
                              "ORDER BY m.created_at, m.id LIMIT %s", (PREVIEW_CHARS, n))
    return [SizedMemory(id=rid, user_id=uid, size=size, preview=text) for rid, uid, size, text in found]
