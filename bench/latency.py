"""Latency and ingest rate of the ``sqlite`` store against raw SQLite FTS5 on the same rows, same process.

``python -m bench.latency [--sizes 10000,100000] [--users 1000 | --per-user 1000] [--queries 300] [--data DIR]
[--json OUT]``

For each size, LoCoMo-like chat turns (deterministic synthetic sentences, or the turn texts of the LoCoMo
files in ``--data``) are spread over ``--users`` users (or over size / ``--per-user`` users, so that only the
other users' data grows with the size) and written twice: through ``add_items`` into a
memdash store, and by a raw ``executemany`` into a table whose insert trigger fills an FTS5 index (same
tokenizer, same batch size, one transaction per batch; the two alternate batch by batch so both see the
same machine load). Then every query, a question about one of its user's memories, is run every way, in
a new random order each time:

* (a) raw FTS5: global ``MATCH``, rows filtered by user afterwards (a join), ``ORDER BY rank LIMIT 5``;
* (b) raw FTS5: ``MATCH`` scoped to the user inside FTS5 (an owner column in the same expression);
* memdash ``search`` with BM25 only, and hybrid (``hashing`` embedder, 384 dimensions).

Both raw queries use ``retrieval.fts_query`` for the terms. Latencies are wall-clock per call, medians
(p50) and p95, plus the median CPU time of the process per call (robust on a busy machine); ratios are
against (b), and each size's p50 is compared with the first size's. ``--browse`` adds one page of
``list_records``/``list_users`` and a ``count_records``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import itertools
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from memory_core import retrieval
from memory_core.embedders.hashing import HashingEmbedder, HashingEmbedderConfig
from memory_core.models import MemoryItem
from memory_core.providers.sqlite import SqliteMemory
from memory_core.providers.sqlite.store import DEFAULT_TOKENIZER
from memory_core.records import MemoryFilter, Sort
from memory_core.usage import LogSettings

TOP_K = 5
BATCH = 500

# --- corpus ------------------------------------------------------------------------------------------------

_NAMES = ("Caroline", "Melanie", "Jon", "Gina", "Tim", "John", "Maria", "Audrey", "Andrew", "Joanna", "Nate",
          "Calvin", "Dave", "Evan", "Sam", "Deborah", "Jolene", "James", "Shannon", "Priya")
_OPENERS = ("Hey", "Wow", "Oh nice", "Honestly", "Yeah", "Haha", "Thanks", "Guess what", "Good to hear", "Ugh")
_FEELINGS = ("amazing", "so relaxing", "really tough", "super inspiring", "a bit scary", "exhausting but fun",
             "peaceful", "hilarious", "unforgettable", "overwhelming")
_TIMES = ("yesterday", "last weekend", "this morning", "two weeks ago", "last summer", "on Friday",
          "after work", "in May", "over the holidays", "last night")
_TEMPLATES = (
    "{opener} {name}! I went {activity} at the {place} {time} and it was {feeling}.",
    "I've been into {activity} lately; the {place} near my house has a {thing} that is {feeling}.",
    "{name} gave me a {thing} from the {place}, so we tried {activity} together {time}.",
    "My kids loved the {thing} at the {place}. We're planning {activity} again {time}.",
    "{opener}, the {thing} I bought for {activity} broke {time}. Still, the {place} was {feeling}.",
    "Do you remember the {place}? {name} and I talked about {activity} and a {thing} there {time}.",
    "I signed up for a {activity} class at the {place}; the teacher brought a {thing}. It felt {feeling}.",
    "{time} I finally finished my {thing} project. Next up: {activity} with {name} at the {place}.",
)
_SYLLABLES = ("ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "in", "qua", "mar", "zen", "pol", "li", "bro",
              "tas", "fen", "ru", "gal", "nor")


def _words(rng: random.Random, count: int, syllables: int) -> list[str]:
    return ["".join(rng.choice(_SYLLABLES) for _ in range(syllables)) for _ in range(count)]


def synthetic_texts(count: int, seed: int = 7) -> list[str]:
    """Deterministic chat turns; activities, places and things follow a long-tailed (Zipf-like) vocabulary."""
    rng = random.Random(seed)
    activities = [f"{w}ing" for w in _words(rng, 300, 2)]
    places = [f"{w} {kind}" for w in _words(rng, 2000, 3) for kind in [rng.choice(("park", "cafe", "museum",
                                                                                    "lake", "studio", "market"))]]
    things = _words(rng, 20000, 3)
    def zipf(values: list[str], k: int) -> list[str]:
        return rng.choices(values, cum_weights=list(itertools.accumulate(1 / r for r in range(1, len(values) + 1))),
                           k=k)

    slots = zip(zipf(activities, count), zipf(places, count), zipf(things, count), strict=True)
    return [rng.choice(_TEMPLATES).format(opener=rng.choice(_OPENERS), name=rng.choice(_NAMES), activity=activity,
                                          place=place, thing=thing, feeling=rng.choice(_FEELINGS),
                                          time=rng.choice(_TIMES))
            for activity, place, thing in slots]


def locomo_texts(folder: Path, count: int) -> list[str]:
    """Turn texts of the LoCoMo conversation files in ``folder``, repeated to ``count``."""
    turns = []
    for file in sorted(folder.glob("*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        conversation = data.get("conversation", data)
        for key in sorted(k for k in conversation if k.startswith("session_") and isinstance(conversation[k], list)):
            turns += [turn["text"] for turn in conversation[key] if turn.get("text")]
    if not turns:
        raise SystemExit(f"no LoCoMo turns found in {folder}")
    return [turns[i % len(turns)] for i in range(count)]


def make_items(texts: list[str], users: int, seed: int = 11) -> list[MemoryItem]:
    rng = random.Random(seed)
    return [MemoryItem(user_id=f"user-{rng.randrange(users):05d}", memory=text,
                       tags=["locomo"] if i % 10 == 0 else [], metadata={"session": i % 30, "turn": i})
            for i, text in enumerate(texts)]


def make_queries(items: list[MemoryItem], count: int, seed: int = 13) -> list[tuple[str, str]]:
    """``(user_id, question)``: a question built from three content words of one of the user's memories."""
    rng = random.Random(seed)
    queries = []
    for item in rng.sample(items, min(count, len(items))):
        words = [w for w in (item.memory or "").replace(",", " ").replace(".", " ").split() if len(w) > 3]
        picked = rng.sample(words, min(3, len(words)))
        queries.append((item.user_id, f"What did {rng.choice(_NAMES)} say about {' '.join(picked)}?"))
    return queries


# --- raw baseline ------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=65536)
def owner_token(user_id: str) -> str:
    """The raw baseline's one FTS5 token per user: digits only, so no tokenizer or stemmer alters it."""
    return str(int.from_bytes(hashlib.blake2b(user_id.encode(), digest_size=12).digest(), "big"))


class RawFts:
    """A plain table with an FTS5 insert trigger, the way one would write it by hand."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "temp_store = MEMORY", "cache_size = -32000",
                       "mmap_size = 268435456"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.conn.create_function("owner_token", 1, owner_token, deterministic=True)
        self.conn.execute("CREATE TABLE docs (rid INTEGER PRIMARY KEY, user_id TEXT NOT NULL, body TEXT NOT NULL)")
        self.conn.execute(f"CREATE VIRTUAL TABLE docs_fts USING fts5(owner, body, tokenize = '{DEFAULT_TOKENIZER}')")
        self.conn.execute("CREATE TRIGGER docs_ai AFTER INSERT ON docs BEGIN INSERT INTO docs_fts (rowid, owner, body)"
                          " VALUES (new.rid, owner_token(new.user_id), new.body); END")

    def insert(self, batch: list[MemoryItem]) -> None:
        """One transaction of inserts."""
        self.conn.execute("BEGIN")
        self.conn.executemany("INSERT INTO docs (user_id, body) VALUES (?, ?)",
                              [(item.user_id, item.memory) for item in batch])
        self.conn.execute("COMMIT")

    def global_then_filter(self, user_id: str, expression: str) -> list[Any]:
        """(a): match across every user, keep the user's rows afterwards."""
        return self.conn.execute(
            "SELECT d.rid, -bm25(docs_fts) FROM docs_fts JOIN docs d ON d.rid = docs_fts.rowid "
            "WHERE docs_fts MATCH ? AND d.user_id = ? ORDER BY bm25(docs_fts) LIMIT ?",
            (f"body : ({expression})", user_id, TOP_K)).fetchall()

    def scoped(self, user_id: str, expression: str) -> list[Any]:
        """(b): the user is part of the MATCH expression."""
        return self.conn.execute(
            "SELECT rowid, -rank FROM docs_fts WHERE docs_fts MATCH ? ORDER BY rank LIMIT ?",
            (f'owner : "{owner_token(user_id)}" AND body : ({expression})', TOP_K)).fetchall()


# --- measurement -------------------------------------------------------------------------------------------

def summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    """p50 and p95 wall-clock and p50 CPU time in milliseconds, from ``(wall, cpu)`` seconds."""
    walls = sorted(wall for wall, _ in samples)
    return {"p50_ms": statistics.median(walls) * 1000,
            "p95_ms": walls[min(len(walls) - 1, round(0.95 * (len(walls) - 1)))] * 1000,
            "cpu_p50_ms": statistics.median(cpu for _, cpu in samples) * 1000,
            "n": len(walls)}


def p50_p95_table(title: str, stats: dict[str, dict[str, float]], labels: dict[str, str] | None = None,
                  width: int = 46) -> list[str]:
    """Lines of a table of p50/p95 wall-clock milliseconds, one row per named measurement."""
    lines = [f"{title:<{width}}{'p50 ms':>8}{'p95 ms':>8}"]
    return lines + [f"{(labels or {}).get(name, name):<{width}}{s['p50_ms']:>8.2f}{s['p95_ms']:>8.2f}"
                    for name, s in stats.items()]


async def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of one call (awaited when it returns a coroutine).

    CPU time counts every thread of this process, so it includes work done on the store's threads; on a
    shared machine it shows the cost of a call without the time spent waiting for a core.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    if asyncio.iscoroutine(result):
        await result
    return time.perf_counter() - wall, time.process_time() - cpu


async def ingest(store: SqliteMemory, raw: RawFts, items: list[MemoryItem]) -> tuple[float, float]:
    """Seconds each side takes to write every item; batches alternate so both see the same machine load."""
    ours = theirs = 0.0
    for i in range(0, len(items), BATCH):
        ours += (await timed(store.add_items, items[i:i + BATCH]))[0]
        theirs += (await timed(raw.insert, items[i:i + BATCH]))[0]
    return ours, theirs


async def run_size(size: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    texts = locomo_texts(args.data, size) if args.data else synthetic_texts(size)
    users = max(1, size // args.per_user) if args.per_user else args.users
    items = make_items(texts, users)
    queries = make_queries(items, args.queries)
    store_path, raw = folder / f"memdash-{size}.db", RawFts(folder / f"raw-{size}.db")
    methods: dict[str, Callable[[str, str], Any]] = {
        "raw_global_then_filter": lambda u, q: raw.global_then_filter(u, retrieval.fts_query(q) or '""'),
        "raw_user_scoped": lambda u, q: raw.scoped(u, retrieval.fts_query(q) or '""'),
    }
    async with await SqliteMemory.open(store_path) as bm25:
        ours, theirs = await ingest(bm25, raw, items)
        result: dict[str, Any] = {"size": size, "users": users, "ingest": {
            "add_items_per_s": size / ours, "raw_executemany_per_s": size / theirs, "ratio": theirs / ours}}
        methods["memdash_bm25"] = lambda u, q: bm25.search(q, top_k=TOP_K, user_id=u)
        untracked = await SqliteMemory.open(store_path, track_retrievals=False)  # the same file, nothing counted
        methods["memdash_bm25_untracked"] = lambda u, q: untracked.search(q, top_k=TOP_K, user_id=u)
        logged = await SqliteMemory.open(store_path, retrieval_log=LogSettings(keep=20))  # counted and logged
        methods["memdash_bm25_logged"] = lambda u, q: logged.search(q, top_k=TOP_K, user_id=u)
        embedder = None
        if args.hybrid:
            embedder = HashingEmbedder(HashingEmbedderConfig(dimension=args.dim))
            start = time.perf_counter()
            hybrid = await SqliteMemory.open(store_path, embedder=embedder)
            result["ingest"]["embed_on_open_per_s"] = size / (time.perf_counter() - start)
            methods["memdash_hybrid"] = lambda u, q: hybrid.search(q, top_k=TOP_K, user_id=u)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
        # A new order for every query: the first store to read a user's pages pays for bringing them into the CPU's
        # caches, and in a fixed rotation the store after the raw queries was first among the stores 3 times in 5.
        names, order = list(methods), random.Random(17)
        for n, (user_id, query) in enumerate(queries):
            for name in order.sample(names, len(names)):
                sample = await timed(methods[name], user_id, query)
                if n >= args.warmup:
                    samples[name].append(sample)
        result["search"] = {name: summary(values) for name, values in samples.items()}
        if args.browse:
            result["browse"] = await browse(bm25, queries)
        if embedder is not None:
            await hybrid.aclose()
        await untracked.aclose()
        await logged.aclose()
    raw.conn.close()
    return result


async def browse(store: SqliteMemory, queries: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """One page (50 rows) of each browsing call, per user of the queries."""
    calls: dict[str, Callable[[str], Awaitable[Any]]] = {
        "list_records_user": lambda u: store.list_records(MemoryFilter(user_id=u)),
        "list_records_user_tag": lambda u: store.list_records(MemoryFilter(user_id=u, tags_any=("locomo",))),
        "list_records_user_metadata": lambda u: store.list_records(MemoryFilter(user_id=u, metadata={"session": 3})),
        "list_records_all_users": lambda u: store.list_records(MemoryFilter(), sort=Sort()),
        "count_records_user": lambda u: store.count_records(MemoryFilter(user_id=u)),
        "list_users_page": lambda u: store.list_users(prefix="user-", limit=50),
    }
    users = [u for u, _ in queries[:100]]
    return {name: summary([await timed(call, u) for u in users]) for name, call in calls.items()}


# --- report ------------------------------------------------------------------------------------------------

_LABELS = {
    "raw_global_then_filter": "(a) raw FTS5, global MATCH + user filter",
    "raw_user_scoped": "(b) raw FTS5, MATCH scoped to user",
    "memdash_bm25": "memdash search, BM25",
    "memdash_bm25_untracked": "memdash search, BM25, retrievals not counted",
    "memdash_bm25_logged": "memdash search, BM25, counted + log of 20",
    "memdash_hybrid": "memdash search, hybrid (hashing)",
}


_SHORT = {"raw_global_then_filter": "(a)", "raw_user_scoped": "(b)", "memdash_bm25": "BM25",
          "memdash_bm25_untracked": "BM25 not counted", "memdash_bm25_logged": "BM25 logged",
          "memdash_hybrid": "hybrid"}


def report(results: list[dict[str, Any]]) -> str:
    lines = [f"{'rows':>9} {'users':>6}  {'search, top_k=5':<44}{'p50 ms':>8}{'p95 ms':>8}{'p50 vs (b)':>12}"
             f"{'cpu p50 ms':>12}{'cpu vs (b)':>12}"]
    for r in results:
        base = r["search"]["raw_user_scoped"]
        for name, s in r["search"].items():
            lines.append(f"{r['size']:>9,} {r['users']:>6}  {_LABELS[name]:<44}{s['p50_ms']:>8.2f}{s['p95_ms']:>8.2f}"
                         f"{s['p50_ms'] / base['p50_ms']:>11.2f}x{s['cpu_p50_ms']:>12.2f}"
                         f"{s['cpu_p50_ms'] / base['cpu_p50_ms']:>11.2f}x")
    first = results[0]
    for r in results[1:]:
        growth = ", ".join(f"{_SHORT[name]} {s['p50_ms'] / first['search'][name]['p50_ms']:.2f}x"
                           for name, s in r["search"].items())
        lines.append(f"{r['size']:>9,}  p50 vs {first['size']:,} rows: {growth}")
    for r in results:
        tracked, untracked = (r["search"][k]["p50_ms"] for k in ("memdash_bm25", "memdash_bm25_untracked"))
        logged = r["search"]["memdash_bm25_logged"]["p50_ms"]
        lines.append(f"{r['size']:>9,}  counting retrievals costs the agent's search {tracked / untracked - 1:+.1%} "
                     f"at p50, counting and logging the last 20 {logged / untracked - 1:+.1%} (target <= +10 %)")
    lines += ["", f"{'rows':>9}  {'ingest (batches of ' + str(BATCH) + ')':<44}{'items/s':>10}{'vs raw':>10}"]
    for r in results:
        ingest = r["ingest"]
        lines.append(f"{r['size']:>9,}  {'memdash add_items, no embedder':<44}{ingest['add_items_per_s']:>10,.0f}"
                     f"{ingest['ratio']:>9.2f}x")
        lines.append(f"{r['size']:>9,}  {'raw executemany + FTS5 trigger':<44}{ingest['raw_executemany_per_s']:>10,.0f}"
                     f"{1:>9.2f}x")
        if "embed_on_open_per_s" in ingest:
            lines.append(f"{r['size']:>9,}  {'embed all rows on open (hashing)':<44}"
                         f"{ingest['embed_on_open_per_s']:>10,.0f}")
    if any("browse" in r for r in results):
        lines += ["", f"{'rows':>9}  {'browse (one page of 50)':<44}{'p50 ms':>8}{'p95 ms':>8}"]
        for r in results:
            for name, s in r.get("browse", {}).items():
                lines.append(f"{r['size']:>9,}  {name:<44}{s['p50_ms']:>8.2f}{s['p95_ms']:>8.2f}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated store sizes (rows)")
    parser.add_argument("--users", type=int, default=1000, help="users the rows are spread over")
    parser.add_argument("--per-user", type=int, help="rows per user instead: size / this many users at each size")
    parser.add_argument("--queries", type=int, default=300, help="queries per size (the first --warmup not timed)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--dim", type=int, default=384, help="hashing embedder dimension for hybrid search")
    parser.add_argument("--hybrid", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--browse", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--data", type=Path, help="folder of LoCoMo *.json files whose turn texts to use")
    parser.add_argument("--dir", type=Path, help="keep the database files here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    return args


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="memdash-bench-") as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        results = []
        for size in args.sizes:
            print(f"building {size:,} rows...", file=sys.stderr, flush=True)
            results.append(await run_size(size, args, folder))
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps({"top_k": TOP_K, "batch": BATCH, "sqlite": sqlite3.sqlite_version,
                                         "results": results}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
