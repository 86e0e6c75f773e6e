"""``memdash export`` / ``memdash import``: lossless JSONL backups of a store (:mod:`memory_core.transfer`'s format,
the dashboard's too), audited as actor ``cli:<os user>``.

Export writes to a temporary file renamed over OUTFILE at the end, so a crash never leaves half a backup.
Import validates the whole file first and writes nothing when a row is invalid (unless ``--skip-invalid``) or
when a row's id exists in the store with other content (unless ``--on-existing`` says what to do with them);
it then writes atomic batches through the audited write path, each followed by its audit entries, so a killed
import leaves whole batches.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from memory_core.audit.imports import ImportPlan, ImportResult, OnExisting, plan_import
from memory_core.audit.writer import cli_writer
from memory_core.config import MemdashConfig, load_config
from memory_core.errors import InvalidInputError, MemdashError, UnsupportedError
from memory_core.interfaces import Capability, MemoryBrowser, MemoryEditor, capabilities_of
from memory_core.records import MemoryFilter
from memory_core.transfer import ParseReport, dump_jsonl_line, iter_records, parse_jsonl

SHOWN_ERRORS = 20


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
    imp.add_argument("--on-existing", choices=[o.value for o in OnExisting], metavar="CHOICE",
                     help="rows whose id the store already holds with other content: skip (keep the stored "
                          "memory), overwrite (audited edits, revertible) or new-ids (import as new memories); "
                          "without it such rows stop the import before anything is written")


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
    count = asyncio.run(_export(config, args.store, args.outfile, args.user, target))
    print(f"exported {count} memories from store '{args.store}' to {target}", file=sys.stderr)
    return 0


async def _export(config: MemdashConfig, store: str, outfile: str, user_id: str | None, target: str) -> int:
    async with cli_writer(config, store) as writer:
        browser = _lister(writer.reader, store, user_id)
        with _output(outfile) as out:
            count = await write_jsonl(browser, out, MemoryFilter(user_id=user_id))
        writer.note_export(user_id or "", f"{count} memories exported to {target}")
        return count


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
    _remove_abandoned(target)
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".partial", dir=target.parent)
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


def _remove_abandoned(target: Path) -> None:
    """Delete the temporary files of exports to ``target`` whose process is gone (killed mid-export)."""
    for partial in target.parent.glob(f".{glob.escape(target.name)}.*.partial"):
        pid = partial.name[len(target.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                partial.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


# --- import --------------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    report = read_jsonl(args.infile)
    _check_report(report, args.infile, skip_invalid=args.skip_invalid)
    on_existing = OnExisting(args.on_existing) if args.on_existing else None
    result = asyncio.run(_import(config, args.store, report, args.infile, args.batch_size, on_existing))
    print(f"imported into store '{args.store}': {result.summary()}", file=sys.stderr)
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
    _print_lines(path, report.errors)
    if report.errors and not skip_invalid:
        raise InvalidInputError(f"{len(report.errors)} of {report.total} rows of {path} are invalid: nothing "
                                "imported (--skip-invalid imports the valid rows)")
    if report.errors:
        print(f"skipping {len(report.errors)} invalid rows", file=sys.stderr)


def _print_lines(path: str, problems: Sequence[tuple[int, str]]) -> None:
    for line, message in problems[:SHOWN_ERRORS]:
        print(f"{path}:{line}: {message}", file=sys.stderr)
    if len(problems) > SHOWN_ERRORS:
        print(f"... and {len(problems) - SHOWN_ERRORS} more rows", file=sys.stderr)


async def _import(config: MemdashConfig, store: str, report: ParseReport, path: str, batch_size: int,
                  on_existing: OnExisting | None) -> ImportResult:
    async with cli_writer(config, store) as writer:
        if not writer.keeps_ids:
            print(f"store '{store}' cannot keep ids and timestamps: imported memories get new ones", file=sys.stderr)
        else:
            _print_collisions(await plan_import(writer.reader, report.records), report, path, on_existing)

        written = [0]

        def progress(done: int, total: int) -> None:
            written[0] = done
            print(f"imported {done}/{total}", file=sys.stderr, flush=True)

        try:
            return await writer.import_records(report.records, on_existing=on_existing, batch_size=batch_size,
                                               progress=progress)
        except (MemdashError, OSError) as exc:
            raise MemdashError(_stopped(exc, report, path, written[0])) from exc


def _stopped(exc: BaseException, report: ParseReport, path: str, written: int) -> str:
    """What a failed import did write, and how to finish it."""
    done = (f"rows up to {path}:{report.lines[written - 1]} ({written:,} of {len(report.records):,}) were written "
            "and audited" if written else "nothing was written")
    return (f"import stopped: {exc}; {done}. Run the same command again to finish: rows already in the store as "
            "the file has them are recognised and left alone")


def _print_collisions(plan: ImportPlan, report: ParseReport, path: str, on_existing: OnExisting | None) -> None:
    """Each row whose id exists already, by line, before anything is written."""
    lines = report.line_of()
    what = f"exists in the store ({on_existing.value})" if on_existing else "exists in the store"
    _print_lines(path, [(lines[r.id], f"id {r.id} {what}") for r in plan.colliding])
    if plan.identical:
        print(f"{len(plan.identical)} rows are in the store exactly as in the file: left as they are",
              file=sys.stderr)
    if plan.colliding and on_existing is None:
        print("choose with --on-existing skip|overwrite|new-ids", file=sys.stderr)
