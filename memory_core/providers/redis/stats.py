"""Statistics of the redis store (:class:`memory_core.stats.MemoryStats`) computed by the server: ``FT.AGGREGATE``
groups and sorts memdash's index (its sortable ``user_id``, ``created_at`` and ``size`` fields, so no document
is parsed), tags are counted by one ``FT.SEARCH`` per value of ``FT.TAGVALS``; only the ``n`` memories a list
shows are read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from memory_core.providers.redis import query
from memory_core.providers.redis.access import Documents
from memory_core.providers.redis.schema import SEPARATOR
from memory_core.stats import Bucket, GrowthPoint, HistogramBin, SizedMemory, TagCount, bin_width, histogram, preview

_EPOCH = dt.date(1970, 1, 1)  # a Thursday: ISO week w of the epoch starts on day 7 w - 3
_DAY_US = 86_400_000_000
_PER_USER = ("GROUPBY", 1, "@user_id", "REDUCE", "COUNT", 0, "AS", "n", "FILTER", "exists(@user_id)")
_DAY = f"floor(@created_at / {_DAY_US})"
_BUCKET = {Bucket.DAY: _DAY, Bucket.WEEK: f"floor(({_DAY} + 3) / 7)"}
_HAS_SIZE = "@size:[-inf +inf]"


def _rows(reply: dict[str, Any]) -> list[dict[str, Any]]:
    return [row.get("extra_attributes", {}) for row in reply.get("results", [])]


async def _aggregate(docs: Documents, *steps: Any, where: str = "*") -> list[dict[str, Any]]:
    return _rows(await docs.link.query("FT.AGGREGATE", docs.space.browse_index, where, *steps))


async def user_histogram(docs: Documents, bins: int) -> list[HistogramBin]:
    edges = await _aggregate(docs, *_PER_USER, "GROUPBY", 0, "REDUCE", "MIN", 1, "@n", "AS", "low",
                             "REDUCE", "MAX", 1, "@n", "AS", "high")
    if not edges or edges[0].get("low") in (None, "", "inf"):
        return []
    low, high = int(float(edges[0]["low"])), int(float(edges[0]["high"]))
    width = bin_width(low, high, bins)
    found = await _aggregate(docs, *_PER_USER, "APPLY", f"floor((@n - {low}) / {width})", "AS", "bin",
                             "GROUPBY", 1, "@bin", "REDUCE", "COUNT", 0, "AS", "users")
    return histogram(((int(float(r["bin"])), int(r["users"])) for r in found), low, high, bins)


async def top_tags(docs: Documents, n: int) -> list[TagCount]:
    """Every tag value of the index counted by the server (one pipelined ``FT.SEARCH`` each, no rows)."""
    index = docs.space.browse_index
    tags = [t for t in await docs.link.execute("FT.TAGVALS", index, "tags") if query.tag_exact(t, SEPARATOR)]

    async def pipelined(client: Any) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for tag in tags:
            pipe.execute_command("FT.SEARCH", index, query.tag_match("tags", tag, SEPARATOR), "NOCONTENT",
                                 "LIMIT", 0, 0, "DIALECT", 2)
        return await pipe.execute()

    counts = zip(tags, await docs.link.run(pipelined) if tags else [], strict=True)
    used = [(tag, int(reply["total_results"])) for tag, reply in counts if int(reply["total_results"])]
    return [TagCount(tag=tag, memories=count) for tag, count in sorted(used, key=lambda p: (-p[1], p[0]))[:n]]


async def growth(docs: Documents, bucket: Bucket) -> list[GrowthPoint]:
    found = await _aggregate(docs, "APPLY", _BUCKET[bucket], "AS", "b", "GROUPBY", 1, "@b",
                             "REDUCE", "COUNT", 0, "AS", "n", where="@created_at:[-inf +inf]")
    days = 7 if bucket is Bucket.WEEK else 1
    offset = -3 if bucket is Bucket.WEEK else 0
    points = [GrowthPoint(start=_EPOCH + dt.timedelta(days=int(float(r["b"])) * days + offset), created=int(r["n"]))
              for r in found if r.get("b") not in (None, "")]
    return sorted(points, key=lambda p: p.start)


async def _sized(docs: Documents, found: Sequence[tuple[str, int]]) -> list[SizedMemory]:
    """The memories of ``(key, size)`` pairs, in that order, with their user and preview (missing ones left out)."""
    records = await docs.load([key for key, _ in found])
    return [SizedMemory(id=records[key].id, user_id=records[key].user_id, size=size, preview=preview(records[key].item))
            for key, size in found if key in records]


async def _ordered(docs: Documents, limit: int, field: str, direction: str) -> list[tuple[str, int]]:
    """``(key, size)`` of the first ``limit`` documents by ``field`` (ties by key, that is by id). The server
    first finds the ``limit``-th value from the sortable field alone; only documents up to it load their key."""
    edge = await _aggregate(docs, "SORTBY", 2, f"@{field}", direction, "MAX", limit, where=_HAS_SIZE)
    if not edge:
        return []
    bound = float(edge[-1][field])
    where = f"@{field}:[{bound!r} +inf]" if direction == "DESC" else f"@{field}:[-inf {bound!r}]"
    found = await _aggregate(docs, "LOAD", 2, "@__key", "@size", "SORTBY", 4, f"@{field}", direction, "@__key", "ASC",
                             "MAX", limit, where=f"{_HAS_SIZE} {where}")
    return [(r["__key"], int(float(r["size"]))) for r in found]


async def largest(docs: Documents, n: int) -> list[SizedMemory]:
    return await _sized(docs, await _ordered(docs, n, "size", "DESC"))


async def never_retrieved(docs: Documents, n: int) -> list[SizedMemory]:
    """The ``n`` oldest memories without a retrieval count: the oldest ``4^k n`` keys are checked against the
    counts' sorted set, ``k`` growing until ``n`` are found or every memory was checked."""
    limit, unused = 4 * n, []
    while True:
        oldest = await _ordered(docs, limit, "created_at", "ASC")
        ids = [docs.space.id_of(key) or key for key, _ in oldest]
        scores = await docs.link.execute("ZMSCORE", docs.space.retrievals_key, *ids) if ids else []
        unused = [pair for pair, score in zip(oldest, scores, strict=True) if score is None]
        if len(unused) >= n or len(oldest) < limit:
            return await _sized(docs, unused[:n])
        limit *= 4
