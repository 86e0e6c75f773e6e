"""``memdash export`` / ``memdash import``: lossless JSONL backups of a store (:mod:`memory_core.transfer`'s format,
the dashboard's too), audited as actor ``cli:<os user>``.

Export writes to a temporary file renamed over OUTFILE at the end, so a crash never leaves half a backup.
Import validates the whole file first and writes nothing when a row is invalid (unless ``--skip-invalid``);
it then writes atomic batches, each followed by its audit entries, so a killed import leaves whole batches.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from memory_core.audit import AuditEntry, AuditLog, safety_settings
from memory_core.builder import MemoryBuilder
from memory_core.config import MemdashConfig, load_config
from memory_core.errors import InvalidInputError, MemdashError, UnsupportedError
from memory_core.interfaces import Capability, MemoryBrowser, MemoryEditor, capabilities_of
from memory_core.records import MemoryFilter, MemoryRecord
from memory_core.transfer import ParseReport, dump_jsonl_line, iter_records, parse_jsonl, record_to_dict

SHOWN_ERRORS = 20


def cli_actor() -> str:
    """``cli:<os user>``, the audit log's name for whoever ran the command."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid {os.getuid()}"


def add_commands(sub: Any) -> None:
    """Register ``export`` and ``import`` on the ``memdash`` sub-command parser."""
    export = _command(sub, "export", cmd_export, "write a store's memories to a lossless JSONL file")
    export.add_argument("store", metavar="STORE", help="memory store name in the config")
    export.add_argument("outfile", metavar="OUTFILE", help="file to write ('-' for standard output)")
    export.add_argument("--user", metavar="U", help="only this user's memories")
    imp = _command(sub, "import", cmd_import, "add the memories of a JSONL file to a store (ids and times kept)")
    imp.add_argument("infile", metavar="INFILE", help="JSONL file written by memdash export or the dashboard")
    imp.add_argument("store", metavar="STORE", help="memory store name in the config")
    imp.add_argument("--skip-invalid", action="store_true", help="import the valid rows of a file with invalid ones")
    imp.add_argument("--batch-size", type=_positive, default=500, metavar="N",
                     help="memories per atomic write (default 500)")


def _command(sub: Any, name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--config", required=True, metavar="FILE", help="toolkit-style YAML config")
    parser.set_defaults(handler=handler)
    return parser


def _positive(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {raw!r}")
    return int(raw)


# --- export --------------------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    target = "standard output" if args.outfile == "-" else str(Path(args.outfile).resolve())
    log = safety_settings(config).open_audit_log()
    try:
        count = asyncio.run(_export(config, args.store, args.outfile, args.user))
        log.append([AuditEntry("export", cli_actor(), args.store, args.user or "",
                               note=f"{count} memories exported to {target}")])
    finally:
        log.close()
    print(f"exported {count} memories from store '{args.store}' to {target}", file=sys.stderr)
    return 0


async def _export(config: MemdashConfig, store: str, outfile: str, user_id: str | None) -> int:
    async with MemoryBuilder(config) as builder:
        browser = _lister(await builder.get_memory_client(store), store, user_id)
        with _output(outfile) as out:
            return await write_jsonl(browser, out, MemoryFilter(user_id=user_id))


async def write_jsonl(browser: MemoryBrowser, out: IO[str], flt: MemoryFilter) -> int:
    """Every record matching ``flt``, oldest first, one JSONL line each; returns how many."""
    count = 0
    async for record in iter_records(browser, flt):
        out.write(dump_jsonl_line(record))
        count += 1
    return count


def _lister(editor: MemoryEditor, store: str, user_id: str | None) -> MemoryBrowser:
    caps = capabilities_of(editor)
    if Capability.LIST not in caps:
        raise UnsupportedError(f"store '{store}' cannot list its memories, so it cannot be exported")
    if user_id is None and Capability.LIST_ALL_USERS not in caps:
        raise UnsupportedError(f"store '{store}' lists one user at a time: export with --user U")
    return editor  # type: ignore[return-value]


@contextlib.contextmanager
def _output(outfile: str) -> Iterator[IO[str]]:
    """Standard output, or a temporary file next to ``outfile`` renamed over it once complete."""
    if outfile == "-":
        yield sys.stdout
        return
    target = Path(outfile)
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise MemdashError(f"cannot write {outfile}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise MemdashError(f"cannot write {outfile}: {exc.strerror or exc}; it is unchanged") from None
        raise


# --- import --------------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    report = read_jsonl(args.infile)
    _check_report(report, args.infile, skip_invalid=args.skip_invalid)
    log = safety_settings(config).open_audit_log()
    try:
        count = asyncio.run(_import(config, args.store, report.records, args.batch_size, log))
    finally:
        log.close()
    print(f"imported {count} memories into store '{args.store}'", file=sys.stderr)
    return 0


def read_jsonl(path: str) -> ParseReport:
    try:
        with open(path, encoding="utf-8-sig") as lines:
            return parse_jsonl(lines)
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise MemdashError(f"cannot read {path}: {exc.strerror or exc}") from None


def _check_report(report: ParseReport, path: str, *, skip_invalid: bool) -> None:
    """Print invalid rows by line number; refuse the import unless they are to be skipped."""
    for line, message in report.errors[:SHOWN_ERRORS]:
        print(f"{path}:{line}: {message}", file=sys.stderr)
    if len(report.errors) > SHOWN_ERRORS:
        print(f"... and {len(report.errors) - SHOWN_ERRORS} more invalid rows", file=sys.stderr)
    if report.errors and not skip_invalid:
        raise InvalidInputError(f"{len(report.errors)} of {report.total} rows of {path} are invalid: nothing "
                                "imported (--skip-invalid imports the valid rows)")
    if report.errors:
        print(f"skipping {len(report.errors)} invalid rows", file=sys.stderr)


async def _import(config: MemdashConfig, store: str, records: Sequence[MemoryRecord], batch_size: int,
                  log: AuditLog) -> int:
    actor, batch, done = cli_actor(), uuid.uuid4().hex, 0
    async with MemoryBuilder(config) as builder:
        editor = await builder.get_memory_client(store)
        if Capability.IMPORT not in capabilities_of(editor):
            print(f"store '{store}' cannot keep ids and timestamps: imported memories get new ones", file=sys.stderr)
        async for chunk, lossless in write_batches(editor, records, batch_size):
            log.append([_added(actor, store, record, batch, lossless) for record in chunk])
            done += len(chunk)
            print(f"imported {done}/{len(records)}", file=sys.stderr, flush=True)
    return done


async def write_batches(editor: MemoryEditor, records: Sequence[MemoryRecord], batch_size: int
                        ) -> AsyncIterator[tuple[list[MemoryRecord], bool]]:
    """Write ``records`` in atomic batches, losslessly where the store can; yields each written batch."""
    lossless = Capability.IMPORT in capabilities_of(editor) and isinstance(editor, MemoryBrowser)
    for start in range(0, len(records), batch_size):
        chunk = list(records[start:start + batch_size])
        if lossless:
            await editor.add_records(chunk)  # type: ignore[union-attr]
        else:
            await editor.add_items([record.item for record in chunk])
        yield chunk, lossless


def _added(actor: str, store: str, record: MemoryRecord, batch: str, lossless: bool) -> AuditEntry:
    if lossless:
        return AuditEntry("add", actor, store, record.user_id, record.id, after=record_to_dict(record), batch=batch)
    return AuditEntry("add", actor, store, record.user_id, None, after=record.item.model_dump(mode="json"),
                      batch=batch, note="the store chose the new memory's id (it cannot keep ids): not revertible")
