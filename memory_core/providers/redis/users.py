"""The users of a key prefix without grouping every document: a sorted set of user ids (all scores 0, so ordered
by id and paged with ``ZRANGE ... BYLEX``) and a hash of their document counts, both kept by the write scripts
(:mod:`.scripts`) in the same script as the documents, built from the index once per prefix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memory_core.providers.redis import documents, query
from memory_core.providers.redis.access import Documents
from memory_core.providers.redis.connection import QUERY_TIMEOUT_MS
from memory_core.providers.redis.schema import SEPARATOR
from memory_core.records import UserSummary, from_micros

_TOP = b"\xff"  # above every byte of UTF-8 text: the end of a prefix's range


async def build(docs: Documents) -> None:
    """Fill the users' set and counts from the index when this prefix has none yet (first open by a memdash that
    keeps them); every memdash write keeps them from then on."""
    space = docs.space
    if await docs.link.execute("EXISTS", space.users_built_key):
        return
    await docs.adopt()
    counts = await _counted(docs)

    async def transaction(client: Any) -> list[Any]:
        pipe = client.pipeline(transaction=True)
        pipe.delete(space.users_key, space.user_counts_key)
        if counts:
            pipe.hset(space.user_counts_key, mapping=counts)
            pipe.zadd(space.users_key, dict.fromkeys(counts, 0))
        pipe.set(space.users_built_key, 1)
        return await pipe.execute()

    await docs.link.run(transaction)


async def _counted(docs: Documents) -> dict[str, int]:
    """Documents with a ``seq`` per user, grouped by the server and read through a cursor."""
    index = docs.space.browse_index
    reply = await docs.link.query("FT.AGGREGATE", index, "-ismissing(@seq)", "GROUPBY", 1, "@user_id",
                                  "REDUCE", "COUNT", 0, "AS", "n", "FILTER", "exists(@user_id)",
                                  "WITHCURSOR", "COUNT", 1000)
    counts: dict[str, int] = {}
    while True:
        body, cursor = reply
        for row in body.get("results", []):
            found = row.get("extra_attributes", {})
            counts[found["user_id"]] = int(found["n"])
        if not cursor:
            return counts
        reply = await docs.link.execute("FT.CURSOR", "READ", index, cursor)


async def page(docs: Documents, prefix: str, after: str, limit: int) -> tuple[list[UserSummary], bool]:
    """The first ``limit`` users whose id starts with ``prefix`` and sorts after ``after``, and whether more
    follow. Users whose documents were all deleted behind memdash's back (by the toolkit) are skipped."""
    low = b"(" + after.encode() if after and after >= prefix else b"[" + prefix.encode()
    high = b"(" + prefix.encode() + _TOP if prefix else b"+"
    found: list[UserSummary] = []
    while len(found) <= limit:
        names = await docs.link.execute("ZRANGE", docs.space.users_key, low, high, "BYLEX", "LIMIT", 0, limit + 1)
        found += await summaries(docs, names)
        if len(names) <= limit:
            break
        low = b"(" + names[-1].encode()
    return found[:limit], len(found) > limit


async def summaries(docs: Documents, names: Sequence[str]) -> list[UserSummary]:
    """Count and last activity of each user from the index, in the order given; users without documents are
    left out. One aggregate groups the users' documents by their sortable ``user_id``, for the ids the tag field
    stores unchanged; any other user (an id with blanks at its ends or the separator, or none of whose documents
    is left) is asked alone by its exact ``user_key``."""
    exact = [name for name in names if query.tag_exact(name, SEPARATOR)]
    keys = "|".join(documents.user_key(name) for name in exact)
    found = await _grouped(docs, f"@user_key:{{{keys}}}") if exact else {}
    missing = [name for name in names if name not in found]

    async def pipelined(client: Any) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for name in missing:
            pipe.execute_command("FT.AGGREGATE", docs.space.browse_index, query.user_match(name), *_SUMMARY,
                                 "TIMEOUT", QUERY_TIMEOUT_MS, "DIALECT", 2)
        return await pipe.execute()

    for name, reply in zip(missing, await docs.link.run(pipelined) if missing else [], strict=True):
        rows = reply.get("results", [])
        if rows:
            found[name] = rows[0].get("extra_attributes", {})
    return [_summary(name, found[name]) for name in names if int(found.get(name, {}).get("n") or 0)]


_SUMMARY = ("GROUPBY", 0, "REDUCE", "COUNT", 0, "AS", "n", "REDUCE", "MAX", 1, "@updated_at", "AS", "last")


async def _grouped(docs: Documents, where: str) -> dict[str, dict[str, Any]]:
    reply = await docs.link.query("FT.AGGREGATE", docs.space.browse_index, where, "GROUPBY", 1, "@user_id",
                                  *_SUMMARY[2:])
    rows = (row.get("extra_attributes", {}) for row in reply.get("results", []))
    return {row["user_id"]: row for row in rows if row.get("user_id") is not None}


def _summary(name: str, row: dict[str, Any]) -> UserSummary:
    last = row.get("last")
    return UserSummary(user_id=name, memory_count=int(row["n"]),
                       last_activity=from_micros(int(float(last))) if last not in (None, "") else None)
