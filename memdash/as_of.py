"""``memdash as-of --store S --user U --at ISO``: a user's memories as they were at a moment, reconstructed from
the audit log (:mod:`memory_core.audit.as_of`), written as JSONL (the export format, so it can be imported)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from typing import Any

from memdash.backup import atomic_output
from memory_core.audit import safety_settings
from memory_core.audit.as_of import AsOf, as_of
from memory_core.audit.writer import cli_writer
from memory_core.config import MemdashConfig, load_config
from memory_core.interfaces import Capability, capabilities_of
from memory_core.records import MemoryFilter
from memory_core.transfer import dump_jsonl_line, iter_records


def add_commands(sub: Any) -> None:
    text = "a user's memories as they were at a moment, from the audit log, as JSONL"
    command = sub.add_parser("as-of", help=text, description=text)
    command.add_argument("--config", required=True, metavar="FILE", help="toolkit-style YAML config")
    command.add_argument("--store", required=True, metavar="NAME", help="the store")
    command.add_argument("--user", required=True, metavar="USER", help="the user id")
    command.add_argument("--at", required=True, type=_moment, metavar="ISO",
                         help="the moment, e.g. 2024-05-31T18:00 (UTC unless it names a zone)")
    command.add_argument("--out", default="-", metavar="FILE", help="JSONL file (default: standard output)")
    command.set_defaults(handler=cmd_as_of)


def _moment(raw: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date and time like 2024-05-31T18:00: {raw!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def cmd_as_of(args: argparse.Namespace) -> int:
    found = asyncio.run(_as_of(load_config(args.config), args.store, args.user, args.at))
    with atomic_output(args.out) as out:
        for record in found.records:
            out.write(dump_jsonl_line(record))
    noun = "memory" if len(found.records) == 1 else "memories"
    print(f"{len(found.records)} {noun} of user '{args.user}' as of {args.at.isoformat()} "
          f"({found.undone} audited changes since undone)", file=sys.stderr)
    if found.log_starts is None or args.at < found.log_starts:
        since = f"starts {found.log_starts.isoformat()}" if found.log_starts else "has no changes of this store"
        print(f"the audit log {since}: memories deleted outside it before then are not known", file=sys.stderr)
    if found.unknown:
        print(f"{len(found.unknown)} changed since outside the audit log, written as they are now: "
              f"{', '.join(found.unknown)}", file=sys.stderr)
    return 0


async def _as_of(config: MemdashConfig, store: str, user_id: str, when: dt.datetime) -> AsOf:
    async with cli_writer(config, store) as writer:
        browser = writer.reader
        if Capability.LIST not in capabilities_of(browser):
            raise SystemExit(f"store '{store}' cannot list its memories, so its past cannot be rebuilt")
        current = [record async for record in iter_records(browser, MemoryFilter(user_id=user_id))]
    log = safety_settings(config).open_audit_log()
    try:
        return as_of(log, store, user_id, when, current)
    finally:
        log.close()
