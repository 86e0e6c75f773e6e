"""``memdash person``: everything memdash holds about one person, for an access request (GDPR art. 15, CCPA).

One JSONL file: a ``person`` line (store, user, when, and what this version cannot include), then a ``memory``
line per memory of the user (lossless, :func:`memory_core.transfer.record_to_dict`), then an ``audit`` line per
entry of memdash's audit log about the user (changes with their before/after, labels, review approvals,
exports, oldest first; then the read records: who browsed, opened or searched them). Written like ``memdash
export`` (a temporary file renamed over OUTFILE) and audited as an export.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import IO, Any

from memdash.backup import atomic_output, exportable
from memory_core.audit import AuditQuery, safety_settings
from memory_core.audit.log import AuditEntry
from memory_core.audit.writer import cli_writer
from memory_core.config import MemdashConfig, load_config
from memory_core.records import MemoryFilter, utcnow
from memory_core.transfer import iter_records, record_to_dict

NOT_INCLUDED = "reads made before this version of memdash recorded them (read records began with it)"


def add_commands(sub: Any) -> None:
    parser = sub.add_parser("person", help="write everything memdash holds about one user (an access request)",
                            description="write everything memdash holds about one user to a JSONL file: the "
                                        "memories and every audit entry about them")
    parser.add_argument("--config", required=True, metavar="FILE", help="toolkit-style YAML config")
    parser.add_argument("store", metavar="STORE", help="memory store name in the config")
    parser.add_argument("user", metavar="USER", help="the user id")
    parser.add_argument("outfile", metavar="OUTFILE", help="file to write ('-' for standard output)")
    parser.set_defaults(handler=cmd_person)


def cmd_person(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    target = "standard output" if args.outfile == "-" else str(Path(args.outfile).resolve())
    memories, entries = asyncio.run(_person(config, args.store, args.user, args.outfile, target))
    print(f"wrote {memories} memories and {entries} audit entries of user '{args.user}' (store '{args.store}') "
          f"to {target}", file=sys.stderr)
    return 0


async def _person(config: MemdashConfig, store: str, user_id: str, outfile: str, target: str) -> tuple[int, int]:
    async with cli_writer(config, store) as writer:
        browser = exportable(writer.reader, store, user_id)
        log = safety_settings(config).open_audit_log()
        try:
            with atomic_output(outfile) as out:
                _line(out, {"kind": "person", "store": store, "user_id": user_id,
                            "written_at": utcnow().isoformat(), "not_included": [NOT_INCLUDED]})
                memories = 0
                async for record in iter_records(browser, MemoryFilter(user_id=user_id)):
                    _line(out, {"kind": "memory", "memory": record_to_dict(record)})
                    memories += 1
                entries = 0
                for reads in (False, True):  # the changes, then who read the memories
                    for entry in log.entries(AuditQuery(store=store, user_id=user_id, reads=reads)):
                        _line(out, {"kind": "audit", "entry": _entry(entry)})
                        entries += 1
        finally:
            log.close()
        writer.note_export(user_id, f"everything about the user: {memories} memories and {entries} audit entries, "
                                    f"to {target}")
        return memories, entries


def _entry(entry: AuditEntry) -> dict[str, Any]:
    fields = dataclasses.asdict(entry)
    fields["at"] = entry.at.isoformat()
    return fields


def _line(out: IO[str], row: dict[str, Any]) -> None:
    out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
