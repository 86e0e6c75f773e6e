"""Several operators on one dashboard process: does one operator's heavy work stall the others?

``python -m bench.concurrency [--rows 100000] [--users 100] [--big 10000] [--seconds 8] [--json OUT]``

A sqlite store of ``--rows`` synthetic memories (:func:`bench.latency.synthetic_texts`) over ``--users`` users,
one of whom holds ``--big``. One :class:`dashboard.StoreHub` serves everyone, as in ``memdash run``
(one event loop thread for every session). K simulated operators, each on its own thread like a Streamlit
session, repeat for ``--seconds``: think 0.2-0.6 s, then one action through the services the pages call:

* **browse**: one page of 25 of a random user's memories and the count (the Browse page);
* **search**: a two-word query over a random user (the Search page);
* **edit**: change the tags of one of the operator's own memories (the Memory page's Save, audited).

Scenarios: K = 1, 5, 20 alone; K = 20 while another operator scans the big user in the review queue, and while
another downloads an export of the whole store. The table prints p50/p95 per action and the p95 ratio against
K = 1 measured in the same run. Targets (issue 19): p95 at K = 20 ≤ 3× K = 1, and ≤ 2× K = 20 alone while a scan
runs.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench.latency import synthetic_texts
from dashboard.services import insights, memories
from dashboard.services.hub import StoreHub
from memory_core.access import LOCAL_ADMIN
from memory_core.models import MemoryItem
from memory_core.providers.sqlite import SqliteMemory
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord
from memory_core.review import Kind

ACTIONS = ("browse", "search", "edit")
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
BATCH = 10_000


def build(folder: Path, rows: int, users: int, big: int) -> Path:
    """The config of a sqlite store filled with ``rows`` memories; user ``u0000`` holds ``big`` of them."""
    config = folder / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "sqlite", "path": "main.sqlite3"}}}))
    texts = synthetic_texts(rows)
    owners = ["u0000"] * big + [f"u{1 + i % (users - 1):04d}" for i in range(rows - big)]
    records = [MemoryRecord(id=f"r{i:07d}", created_at=T0 + dt.timedelta(seconds=i),
                            updated_at=T0 + dt.timedelta(seconds=i),
                            item=MemoryItem(user_id=owner, memory=text, tags=["bench"]))
               for i, (owner, text) in enumerate(zip(owners, texts, strict=True))]
    asyncio.run(_fill(folder / "main.sqlite3", records))  # what agents wrote, before any operator came
    return config


async def _fill(path: Path, records: list[MemoryRecord]) -> None:
    store = await SqliteMemory.open(path)
    try:
        for start in range(0, len(records), BATCH):
            await store.add_records(records[start:start + BATCH])
    finally:
        await store.aclose()


class Operator(threading.Thread):
    """One person's session: think, act, record how long the action took."""

    def __init__(self, hub: StoreHub, number: int, users: int, until: float) -> None:
        super().__init__(daemon=True)
        self.hub, self.users, self.until = hub, users, until
        self.rng = random.Random(number)
        self.times: dict[str, list[float]] = {action: [] for action in ACTIONS}
        self.own = f"op{number:02d}"

    def run(self) -> None:
        memory_id = memories.add_memory(self.hub, LOCAL_ADMIN, "main", MemoryItem(user_id=self.own, memory="mine"))
        actions: dict[str, Callable[[], Any]] = {"browse": self.browse, "search": self.search,
                                                 "edit": lambda: self.edit(memory_id or "")}
        while time.monotonic() < self.until:
            time.sleep(self.rng.uniform(0.2, 0.6))
            action = self.rng.choice(ACTIONS)
            started = time.perf_counter()
            actions[action]()
            self.times[action].append(time.perf_counter() - started)

    def user(self) -> str:
        return f"u{self.rng.randrange(1, self.users):04d}"

    def browse(self) -> None:
        flt = MemoryFilter(user_id=self.user())
        memories.list_memories(self.hub, "main", flt, limit=25)
        memories.count_memories(self.hub, "main", flt)

    def search(self) -> None:
        words = self.rng.sample(("hiking", "park", "museum", "coffee", "lake", "market", "studio", "cafe"), 2)
        memories.search_memories(self.hub, "main", user_id=self.user(), query=" ".join(words), top_k=5)

    def edit(self, memory_id: str) -> None:
        record = memories.get_memory(self.hub, "main", memory_id)
        tags = ["a"] if record.item.tags != ["a"] else ["b"]
        memories.update_memory(self.hub, LOCAL_ADMIN, "main", memory_id, MemoryPatch(tags=tags),
                               expected_version=record.version)


def background(hub: StoreHub, kind: str, until: float) -> threading.Thread:
    """Another operator's heavy work, repeated until ``until``: a review scan of the big user, or an export."""
    def work() -> None:
        while time.monotonic() < until:
            if kind == "scan":
                insights.review_scan(hub, "main", frozenset(Kind), limit=10**6)
            else:
                for _ in memories.export_lines(hub, "main", MemoryFilter(), "jsonl"):
                    if time.monotonic() >= until:
                        return
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def scenario(config: Path, operators: int, users: int, seconds: float, heavy: str | None) -> dict[str, list[float]]:
    hub = StoreHub(str(config))
    try:
        memories.list_memories(hub, "main", MemoryFilter(user_id="u0001"), limit=1)  # open the store first
        until = time.monotonic() + seconds
        heavy_thread = background(hub, heavy, until) if heavy else None
        people = [Operator(hub, n, users, until) for n in range(operators)]
        for person in people:
            person.start()
        for person in people:
            person.join()
        if heavy_thread:
            heavy_thread.join()
        return {action: [t for p in people for t in p.times[action]] for action in ACTIONS}
    finally:
        hub.close()


def stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times) or [float("nan")]
    return {"p50_ms": statistics.median(ordered) * 1000,
            "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000, "n": len(times)}


def report(results: dict[str, dict[str, dict[str, float]]]) -> str:
    base = results["K=1"]
    lines = [f"{'scenario':<24}{'action':<8}{'p50 ms':>9}{'p95 ms':>9}{'n':>6}{'p95 / K=1':>11}"]
    for name, per_action in results.items():
        for action, s in per_action.items():
            ratio = s["p95_ms"] / base[action]["p95_ms"] if base[action]["p95_ms"] else float("nan")
            lines.append(f"{name:<24}{action:<8}{s['p50_ms']:>9.1f}{s['p95_ms']:>9.1f}{s['n']:>6}{ratio:>10.2f}x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--big", type=int, default=10_000, help="memories of the user the review scan reads")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each scenario")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        config = build(Path(folder), args.rows, args.users, args.big)
        print(f"store: {args.rows:,} memories over {args.users} users (one with {args.big:,}), built in "
              f"{time.perf_counter() - started:.0f} s")
        plan = {"K=1": (1, None), "K=5": (5, None), "K=20": (20, None), "K=20 + review scan": (20, "scan"),
                "K=20 + full export": (20, "export")}
        results = {name: {action: stats(times) for action, times in
                          scenario(config, k, args.users, args.seconds, heavy).items()}
                   for name, (k, heavy) in plan.items()}
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
