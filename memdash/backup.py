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
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from memory_core.audit.imports import ImportResult, OnExisting, plan_import, refuse_unless
from memory_core.audit.writer import AuditedWriter, cli_writer
from memory_core.config import MemdashConfig, load_config
from memory_core.errors import InvalidInputError, MemdashError, UnsupportedError
from memory_core.interfaces import BulkLoading, Capability, MemoryBrowser, MemoryEditor, capabilities_of
from memory_core.records import MemoryFilter, MemoryRecord
from memory_core.transfer import dump_jsonl_line, iter_records, jsonl_rows

SHOWN_ERRORS = 20
COLLISION_CHUNK = 1_000  # records looked up at a time to find the ids that exist
BULK_ROWS = 10_000  # an import at least this large (and as large as the store) is a bulk load where the store has one


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
        browser = exportable(writer.reader, store, user_id)
        with atomic_output(outfile) as out:
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


def exportable(editor: MemoryEditor, store: str, user_id: str | None) -> MemoryBrowser:
    caps = capabilities_of(editor)
    if Capability.LIST not in caps:
        raise UnsupportedError(f"store '{store}' cannot list its memories, so it cannot be exported")
    if user_id is None and Capability.LIST_ALL_USERS not in caps:
        raise UnsupportedError(f"store '{store}' lists one user at a time: export with --user U")
    return editor  # type: ignore[return-value]


@contextlib.contextmanager
def atomic_output(outfile: str) -> Iterator[IO[str]]:
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
    source = JsonlFile(args.infile)
    _check_rows(source, skip_invalid=args.skip_invalid)
    on_existing = OnExisting(args.on_existing) if args.on_existing else None
    result = asyncio.run(_import(config, args.store, source, args.batch_size, on_existing))
    print(f"imported into store '{args.store}': {result.summary()}", file=sys.stderr)
    return 0


class JsonlFile:
    """A JSONL file read a line at a time, as often as needed: the import holds one batch, never the file.

    :meth:`check` reads it once and keeps only the invalid lines (and the ids seen, to find one used twice);
    :meth:`records` then yields the valid records again, a batch at a time."""

    def __init__(self, path: str) -> None:
        self.path, self.total, self.valid = path, 0, 0
        self.errors: list[tuple[int, str]] = []

    def check(self) -> None:
        seen: set[str] = set()
        for number, row in self._rows():
            self.total += 1
            if not isinstance(row, str) and row.id in seen:
                row = f"duplicate id {row.id}"
            if isinstance(row, str):
                self.errors.append((number, row))
            else:
                seen.add(row.id)
                self.valid += 1

    def records(self, size: int) -> Iterator[list[tuple[int, MemoryRecord]]]:
        """The valid records, ``size`` at a time, with their line numbers."""
        invalid, chunk = {line for line, _ in self.errors}, []
        for number, row in self._rows():
            if number not in invalid and not isinstance(row, str):
                chunk.append((number, row))
                if len(chunk) == size:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    def _rows(self) -> Iterator[tuple[int, MemoryRecord | str]]:
        try:
            with open(self.path, encoding="utf-8-sig") as lines:
                yield from jsonl_rows(lines)
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{self.path} is not UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise MemdashError(f"cannot read {self.path}: {exc.strerror or exc}") from None


def _check_rows(source: JsonlFile, *, skip_invalid: bool) -> None:
    """Validate the whole file; print invalid rows by line number; refuse unless they are to be skipped."""
    source.check()
    _print_lines(source.path, source.errors)
    if source.errors and not skip_invalid:
        raise InvalidInputError(f"{len(source.errors)} of {source.total} rows of {source.path} are invalid: nothing "
                                "imported (--skip-invalid imports the valid rows)")
    if source.errors:
        print(f"skipping {len(source.errors)} invalid rows", file=sys.stderr)


def _print_lines(path: str, problems: Sequence[tuple[int, str]]) -> None:
    for line, message in problems[:SHOWN_ERRORS]:
        print(f"{path}:{line}: {message}", file=sys.stderr)
    if len(problems) > SHOWN_ERRORS:
        print(f"... and {len(problems) - SHOWN_ERRORS} more rows", file=sys.stderr)


async def _import(config: MemdashConfig, store: str, source: JsonlFile, batch_size: int,
                  on_existing: OnExisting | None) -> ImportResult:
    async with cli_writer(config, store) as writer:
        await writer.check_import([], on_existing)  # the role, before the file is read again
        if not writer.keeps_ids:
            print(f"store '{store}' cannot keep ids and timestamps: imported memories get new ones", file=sys.stderr)
        else:
            await _collisions(writer, source, on_existing)
        result, batch, line = ImportResult(lossless=writer.keeps_ids), uuid.uuid4().hex, 0
        try:
            async with await _loading(writer.reader, source.valid):
                for chunk in source.records(batch_size):
                    await writer.import_batch([record for _, record in chunk], on_existing=on_existing, batch=batch,
                                              result=result)
                    line = chunk[-1][0]
                    print(f"imported {result.handled}/{source.valid}", file=sys.stderr, flush=True)
        except (MemdashError, OSError) as exc:
            raise MemdashError(_stopped(exc, source, line, result.handled)) from exc
        return result


async def _loading(store: MemoryBrowser, rows: int) -> contextlib.AbstractAsyncContextManager[None]:
    """The store's bulk load (its vector index built once at the end) for an import of at least
    :data:`BULK_ROWS` rows and at least as many as the store holds: building the whole index again costs less
    than adding that many rows to it; for a smaller import it would cost more."""
    if not isinstance(store, BulkLoading) or rows < BULK_ROWS or rows < await store.count_records(MemoryFilter()):
        return contextlib.nullcontext()
    print(f"a bulk load: the vector index is built once at the end ({rows:,} rows)", file=sys.stderr)
    return store.bulk_loading()


def _stopped(exc: BaseException, source: JsonlFile, line: int, handled: int) -> str:
    """What a failed import did write, and how to finish it."""
    done = (f"rows up to {source.path}:{line} ({handled:,} of {source.valid:,}) were written and audited" if handled
            else "nothing was written")
    return (f"import stopped: {exc}; {done}. Run the same command again to finish: rows already in the store as "
            "the file has them are recognised and left alone")


async def _collisions(writer: AuditedWriter, source: JsonlFile, on_existing: OnExisting | None) -> None:
    """Each row whose id exists already, by line, and the decision they need; before anything is written."""
    colliding: list[tuple[int, str]] = []
    moved: list[str] = []
    identical = 0
    for chunk in source.records(COLLISION_CHUNK):
        plan = await plan_import(writer.reader, [record for _, record in chunk])
        lines = {record.id: line for line, record in chunk}
        colliding += [(lines[r.id], r.id) for r in plan.colliding]
        moved += [r.id for r in plan.moved_users()]
        identical += len(plan.identical)
    what = f"exists in the store ({on_existing.value})" if on_existing else "exists in the store"
    _print_lines(source.path, [(line, f"id {memory_id} {what}") for line, memory_id in colliding])
    if identical:
        print(f"{identical} rows are in the store exactly as in the file: left as they are", file=sys.stderr)
    if colliding and on_existing is None:
        print("choose with --on-existing skip|overwrite|new-ids", file=sys.stderr)
    refuse_unless([memory_id for _, memory_id in colliding], moved, on_existing)
