"""``memdash audit reads --user U``: who viewed this person's data, from the audit log's read records.

Lists, oldest first, every read record of the user (who browsed, opened or searched their memories in the
dashboard, in which store, how many, when) and every export that included them (downloads, snapshots,
``memdash person``), which the log keeps with the changes.
"""

from __future__ import annotations

import argparse
import heapq
from collections.abc import Callable, Iterator
from typing import Any

from memory_core.audit import AuditEntry, AuditQuery, safety_settings
from memory_core.config import load_config


def add_commands(sub: Any) -> None:
    audit = sub.add_parser("audit", help="questions to the audit log", description="questions to the audit log")
    questions = audit.add_subparsers(dest="question", required=True, metavar="QUESTION")
    reads = questions.add_parser("reads", help="who viewed a user's memories (reads and exports)",
                                 description="who viewed a user's memories: read records and exports, oldest first")
    reads.add_argument("--config", required=True, metavar="FILE", help="toolkit-style YAML config")
    reads.add_argument("--user", required=True, metavar="USER", help="the user id")
    reads.add_argument("--store", metavar="NAME", help="only this store (default: every store in the log)")
    reads.set_defaults(handler=cmd_reads)


def cmd_reads(args: argparse.Namespace) -> int:
    log = safety_settings(load_config(args.config)).open_audit_log()
    try:
        shown = 0
        for entry in views(log.entries, args.user, args.store):
            print(line(entry))
            shown += 1
        print(f"{shown} record(s) of reads and exports of user '{args.user}'"
              + (f" in store '{args.store}'" if args.store else ""))
    finally:
        log.close()
    return 0


def views(entries: Callable[[AuditQuery], Iterator[AuditEntry]], user_id: str, store: str | None
          ) -> Iterator[AuditEntry]:
    """Read records and exports of ``user_id``, oldest first (two ordered lists merged by entry number)."""
    reads = entries(AuditQuery(store=store, user_id=user_id, reads=True))
    exports = entries(AuditQuery(store=store, user_id=user_id, operation="export"))
    return heapq.merge(reads, exports, key=lambda e: e.seq or 0)


def line(entry: AuditEntry) -> str:
    what = entry.note if entry.operation == "read" else f"export · {entry.note}"
    return f"{entry.at:%Y-%m-%d %H:%M:%S} UTC  {entry.actor}  store '{entry.store}'  {what}"
