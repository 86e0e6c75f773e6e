"""The agent's retrieval counts in Redis (memory_core.usage): a sorted set of counts and a hash of last uses per
prefix (:class:`~.schema.KeySpace`), removed with the document (:meth:`.access.Documents.delete`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from memory_core.items import item_text
from memory_core.providers.redis.access import Documents
from memory_core.records import from_micros
from memory_core.stats import PREVIEW_CHARS
from memory_core.usage import LogSettings, Retrieval, Usage, UsedMemory

# One more retrieval of each id whose document still exists; the latest time wins.
NOTE = """
for i, id in ipairs(ARGV) do
    if i > 1 and redis.call('EXISTS', KEYS[3] .. id) == 1 then
        redis.call('ZINCRBY', KEYS[1], 1, id)
        local last = tonumber(redis.call('HGET', KEYS[2], id) or '0')
        if tonumber(ARGV[1]) > last then redis.call('HSET', KEYS[2], id, ARGV[1]) end
    end
end
return 1
"""


# KEYS[1] the log hash, KEYS[2] the document prefix; ARGV[1] when, ARGV[2] how many to keep, ARGV[3] the query's
# hash, ARGV[4] its text ('' for none), ARGV[5..] the ids in rank order. Newest first (searches' writes may land
# out of order), trimmed to the last kept.
LOG = """
for i = 5, #ARGV do
    local id = ARGV[i]
    if redis.call('EXISTS', KEYS[2] .. id) == 1 then
        local kept = cjson.decode(redis.call('HGET', KEYS[1], id) or '[]')
        local event = {at = tonumber(ARGV[1]), rank = i - 4, hash = ARGV[3]}
        if ARGV[4] ~= '' then event.query = ARGV[4] end
        table.insert(kept, 1, event)
        table.sort(kept, function(a, b) return a.at > b.at end)
        while #kept > tonumber(ARGV[2]) do table.remove(kept) end
        redis.call('HSET', KEYS[1], id, cjson.encode(kept))
    end
end
return 1
"""


async def note(docs: Documents, ids: Sequence[str], at_us: int, query: str, log: LogSettings) -> None:
    space = docs.space
    await docs.link.execute("EVAL", NOTE, 3, space.retrievals_key, space.retrieved_at_key, space.doc_prefix,
                            at_us, *ids)
    if log.keep and ids:
        digest, text = log.logged_query(query)
        await docs.link.execute("EVAL", LOG, 2, space.retrieval_log_key, space.doc_prefix, at_us, log.keep,
                                digest, text or "", *ids)


async def retrievals(docs: Documents, memory_id: str, n: int) -> list[Retrieval]:
    raw = await docs.link.execute("HGET", docs.space.retrieval_log_key, memory_id)
    events = json.loads(raw) if raw else []
    return [Retrieval(at=from_micros(int(e["at"])), rank=int(e["rank"]), query_hash=e["hash"], query=e.get("query"))
            for e in events[:n]]


async def usage(docs: Documents, ids: Sequence[str]) -> dict[str, Usage]:
    space = docs.space

    async def pipelined(client: Any) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for rid in ids:
            pipe.execute_command("ZSCORE", space.retrievals_key, rid)
            pipe.execute_command("HGET", space.retrieved_at_key, rid)
        return await pipe.execute()

    replies = await docs.link.run(pipelined) if ids else []
    return {rid: Usage(retrievals=int(float(count)), last_retrieved=from_micros(int(last)))
            for rid, count, last in zip(ids, replies[::2], replies[1::2], strict=True) if count and last}


async def most_used(docs: Documents, n: int) -> list[UsedMemory]:
    """The ``n`` most used memories whose documents exist (the toolkit may have deleted some without memdash)."""
    space = docs.space
    ranked = await docs.link.execute("ZREVRANGE", space.retrievals_key, 0, 2 * n - 1)
    found = await usage(docs, [str(rid) for rid in ranked])
    records = await docs.load([space.key(rid) for rid in found])
    used = [UsedMemory(id=record.id, user_id=record.user_id, preview=item_text(record.item)[:PREVIEW_CHARS],
                       **found[record.id].model_dump()) for record in records.values()]
    return sorted(used, key=lambda m: (-m.retrievals, -m.last_retrieved.timestamp(), m.id))[:n]
