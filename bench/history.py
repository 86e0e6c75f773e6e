"""A user's memories as of a moment, rebuilt from the audit log: how long for a user with many audited changes.

``python -m bench.history [--changes 10000] [--memories 1000] [--others 90000] [--runs 7]``

A sqlite audit log (memdash's default) and an in-memory store, filled through the audited writer: one user with
``--memories`` memories and ``--changes`` audited changes in all (adds, then edits spread over them), other users'
``--others`` changes interleaved. Then, median of ``--runs``: the "as of" reconstruction (listing the user's
current memories, reading their audited changes after the moment, undoing them) for a moment half-way through
the changes and for one before them all; the baseline, measured in the same process, is reading the same
user's audit entries and nothing else (``log.entries``), the least any reconstruction from the log must do.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path

from memory_core.access import LOCAL_ADMIN
from memory_core.audit import AuditQuery, SqliteAuditLog
from memory_core.audit.as_of import as_of
from memory_core.audit.writer import AuditedWriter
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.records import MemoryFilter, MemoryPatch
from memory_core.transfer import iter_records

USER = "subject"
BATCH = 500


async def fill(writer: AuditedWriter, args: argparse.Namespace) -> dt.datetime:
    """The subject's memories and changes with the others' interleaved; returns the half-way moment."""
    rng = random.Random(7)
    ids = [i for start in range(0, args.memories, BATCH) for i in await writer.add(
        [MemoryItem(user_id=USER, memory=f"fact {n}") for n in range(start, min(start + BATCH, args.memories))])]
    versions = dict.fromkeys(ids, 1)
    edits, others_per_edit = args.changes - args.memories, args.others / max(1, args.changes - args.memories)
    half, owed = None, 0.0
    for n in range(edits):
        memory_id = rng.choice(ids)
        await writer.update(memory_id, MemoryPatch(memory=f"fact {memory_id} edit {n}"),
                            expected_version=versions[memory_id])
        versions[memory_id] += 1
        owed += others_per_edit
        if owed >= 1:
            others = [MemoryItem(user_id=f"other-{n % 100}", memory=f"other {n} {k}") for k in range(int(owed))]
            await writer.add(others)
            owed -= int(owed)
        if n == edits // 2:
            half = dt.datetime.now(dt.UTC)
    return half or dt.datetime.now(dt.UTC)


def median_ms(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=10_000, help="audited changes of the user")
    parser.add_argument("--memories", type=int, default=1_000, help="memories of the user")
    parser.add_argument("--others", type=int, default=90_000, help="other users' audited changes")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per row")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="memdash-bench-history-") as tmp:
        store, log = InMemoryEditor(), SqliteAuditLog(Path(tmp) / "audit.sqlite3")
        writer = AuditedWriter(store, log, LOCAL_ADMIN, "main")
        half = asyncio.run(fill(writer, args))
        before_all = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

        def current() -> list:
            async def read() -> list:
                return [r async for r in iter_records(store, MemoryFilter(user_id=USER))]
            return asyncio.run(read())

        rows = {
            "read the user's audit entries (baseline)": median_ms(
                args.runs, lambda: list(log.entries(AuditQuery(store="main", user_id=USER)))),
            "as of half-way (list + undo the later half)": median_ms(
                args.runs, lambda: as_of(log, "main", USER, half, current())),
            "as of before every change (undo them all)": median_ms(
                args.runs, lambda: as_of(log, "main", USER, before_all, current())),
        }
        entries = log.count(AuditQuery())
        log.close()
    baseline = rows["read the user's audit entries (baseline)"]
    print(f"{'':<46}{'p50':>10}{'vs baseline':>13}")
    print("-" * 69)
    for label, value in rows.items():
        print(f"{label:<46}{value:>8,.1f}ms{value / baseline:>12.2f}x")
    print(f"(user: {args.memories:,} memories, {args.changes:,} audited changes; log: {entries:,} entries; "
          f"{args.runs} runs each)")


if __name__ == "__main__":
    main()
