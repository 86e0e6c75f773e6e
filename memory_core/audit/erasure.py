"""Erasing a person: everything memdash holds about one user of one store removed, and a receipt that holds none of it.

Places, in this order: the user's memories in the store (deleted through the writer, each an ``erase`` entry that
names the memory and holds none of it); the content of every audit entry about the user (before/after states
and notes: changes, the trash's before-images, labels, review approvals, read records, exports), which leaves the
log as tombstones that keep who, when and what kind; the user's lines in the store's snapshot files; then what
deleting left in the files (:meth:`AuditedWriter.scrub`, :meth:`AuditLog.compact`). Last, the receipt: an ``erase``
entry with the counts per place, who and when, naming the user only by :meth:`AuditLog.user_key`.

The erasure is recorded as started before the first step and every step can run again, so an interrupted
erasure (a crash, a store gone, a reader holding a WAL) is resumed and completed by running it again. Anything
written for the user while it runs is caught by checking every place again after the steps; if writes keep
coming, it stops with :class:`ErasureIncomplete` and stays recorded as started. docs/security.md "Erasure".
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

from memory_core.access import Role
from memory_core.audit.log import READ, AuditEntry, AuditLog, Erasure
from memory_core.audit.writer import AuditedWriter
from memory_core.errors import InvalidInputError, MemdashError, NotFoundError
from memory_core.interfaces import Capability
from memory_core.records import MemoryFilter

ROUNDS = 3  # passes over every place before writes that keep coming stop the erasure
ACTION = "erase a person's data"
# Counts that are not audit operations (those are counted per operation, see AuditLog.content_counts)
_NOT_ENTRIES = ("memories", "removal", "snapshot files", "snapshot lines")
_TEMP = ".erasing"


class NothingToErase(NotFoundError):
    """The user has nothing in the store, the audit log or the snapshots (a typo, or erased already)."""


class ErasureIncomplete(MemdashError):
    """Something kept writing the user's memories while they were erased; running the erasure again resumes it."""


def places(counts: dict[str, int]) -> dict[str, int]:
    """Counts per place from the per-operation counts of the audit log and the other steps' counts."""
    entries = sum(n for key, n in counts.items() if key not in _NOT_ENTRIES)
    return {"memories": counts.get("memories", 0), "audit entries": entries, "trash": counts.get("removal", 0),
            "labels": counts.get("label", 0), "review approvals": counts.get("review", 0),
            "read records": counts.get(READ, 0), "exports": counts.get("export", 0),
            "snapshot files": counts.get("snapshot files", 0), "snapshot lines": counts.get("snapshot lines", 0)}


def describe(counts: dict[str, int], *, memories_known: bool = True) -> list[str]:
    """One line per place (``1 memory in the store``), the audit entries' kinds indented under them."""
    shown = places(counts)
    memories = _count(shown["memories"], "memory", "memories") if memories_known else \
        "every memory (the store cannot count them)"
    kinds = {"trash": ("in the trash", "in the trash"), "labels": ("label", "labels"),
             "review approvals": ("review approval", "review approvals"),
             "read records": ("read record", "read records"), "exports": ("export", "exports")}
    return [f"{memories} in the store",
            f"{_count(shown['audit entries'], 'audit entry', 'audit entries')} with content (the entries stay, "
            "as who, when and what kind)",
            *(f"  of which {_count(shown[place], one, many)}" for place, (one, many) in kinds.items() if shown[place]),
            f"{_count(shown['snapshot lines'], 'line', 'lines')} in "
            f"{_count(shown['snapshot files'], 'snapshot file', 'snapshot files')}"]


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


@dataclasses.dataclass(frozen=True)
class ErasurePlan:
    """What erasing ``user_id`` from ``store`` would remove now, per place (shown before anything is done)."""

    store: str
    user_id: str
    counts: dict[str, int]
    memories_known: bool  # False: the store cannot count, its memories are removed all the same
    running: Erasure | None  # an erasure of this user that did not finish: erasing resumes it
    finished: list[Erasure]  # earlier erasures of this user

    @property
    def empty(self) -> bool:
        return self.memories_known and not any(places(self.counts).values()) and self.running is None

    def lines(self) -> list[str]:
        resumes = [f"resumes the erasure started {_when(self.running.started)} by {self.running.actor}"] \
            if self.running else []
        return describe(self.counts, memories_known=self.memories_known) + resumes

    def nothing_message(self) -> str:
        erased = self.finished[-1] if self.finished else None
        why = (f"; it was erased {_when(erased.finished)} (receipt: audit entry {erased.receipt})"
               if erased and erased.finished else ": no memories, audit entries or snapshot lines")
        return f"user '{self.user_id}' has nothing to erase in store '{self.store}'{why}"


@dataclasses.dataclass(frozen=True)
class Receipt:
    """A finished erasure: counts per place, who, when, and the user only as its key."""

    seq: int
    store: str
    user_key: str
    actor: str
    started: dt.datetime
    finished: dt.datetime
    counts: dict[str, int]
    scrubbed: bool  # the store made deleted memories unrecoverable from its files (sqlite, PostgreSQL)
    memories_known: bool = True  # False: the store cannot list, so its memories went uncounted

    def lines(self) -> list[str]:
        scrub = "deleted text scrubbed from the store's files" if self.scrubbed else \
            "this store cannot scrub its files (docs/security.md \"Erasure\")"
        return [f"erased user key {self.user_key} from store '{self.store}' (receipt: audit entry {self.seq})",
                *describe(self.counts, memories_known=self.memories_known), scrub,
                f"by {self.actor}, started {_when(self.started)}, finished {_when(self.finished)}"]


async def plan_erasure(writer: AuditedWriter, log: AuditLog, user_id: str, *,
                       snapshots: Path | None = None) -> ErasurePlan:
    """Count what an erasure of ``user_id`` would remove (dashboard admins only; it changes nothing)."""
    writer.actor.require_global(Role.ADMIN, ACTION)
    if not user_id:
        raise InvalidInputError("a user id is needed")
    memories = await _memories(writer, user_id)
    counts = log.content_counts(writer.store, user_id) | {"memories": memories or 0}
    lines = _snapshot_lines(snapshots, user_id)
    counts |= {"snapshot files": len(lines), "snapshot lines": sum(lines.values())}
    erasures = log.erasures(writer.store, user_id)
    running = next((e for e in erasures if e.finished is None), None)
    return ErasurePlan(writer.store, user_id, counts, memories is not None, running,
                       [e for e in erasures if e.finished is not None])


async def erase_user(writer: AuditedWriter, log: AuditLog, user_id: str, *, snapshots: Path | None = None,
                     rounds: int = ROUNDS) -> Receipt:
    """Erase everything about ``user_id`` in the writer's store (dashboard admins only); returns the receipt.

    ``NothingToErase`` when there is nothing (refused before anything is recorded). Once started, any failure is
    an ``ErasureIncomplete`` (writes still coming after ``rounds`` passes, a store gone, a full disk...) and leaves
    the erasure recorded as running: the next run resumes it."""
    plan = await plan_erasure(writer, log, user_id, snapshots=snapshots)
    if plan.empty:
        raise NothingToErase(plan.nothing_message())
    erasure = log.start_erasure(writer.store, user_id, writer.actor.name)
    try:
        scrubbed = await _run(writer, log, erasure, user_id, snapshots, rounds)
    except ErasureIncomplete:
        raise
    except (MemdashError, OSError) as exc:
        raise ErasureIncomplete(f"the erasure of user '{user_id}' from store '{writer.store}' stopped before the end "
                                f"({exc}); erase again: it resumes where it stopped") from exc
    counts = next(e for e in log.erasures(writer.store, user_id) if e.id == erasure.id).counts
    listed = {Capability.LIST, Capability.DELETE_BY_IDS} <= writer.capabilities
    shown = {place: str(n) for place, n in places(counts).items()} | ({} if listed else {"memories": "all (uncounted)"})
    note = f"erased user key {erasure.user_key}: " + ", ".join(f"{place} {n}" for place, n in shown.items())
    receipt = AuditEntry("erase", writer.actor.name, writer.store, "", batch=_batch(erasure), note=note)
    seq = log.finish_erasure(erasure, receipt)
    return Receipt(seq, writer.store, erasure.user_key, writer.actor.name, erasure.started, receipt.at, counts,
                   scrubbed, listed)


async def _run(writer: AuditedWriter, log: AuditLog, erasure: Erasure, user_id: str, snapshots: Path | None,
               rounds: int) -> bool:
    """Every step, again until nothing of the user is left; then what deleting left in the files. Returns whether
    the store scrubbed its files."""
    for stale in snapshots.glob(f"*{_TEMP}") if snapshots and snapshots.is_dir() else ():
        stale.unlink(missing_ok=True)  # a rewrite an earlier run left unfinished (it holds only others' lines)
    for _ in range(rounds):
        log.add_erasure_counts(erasure, {"memories": await writer.erase(user_id, batch=_batch(erasure))})
        log.erase_content(erasure, user_id)
        for path in _snapshot_lines(snapshots, user_id):
            log.add_erasure_counts(erasure, {"snapshot files": 1, "snapshot lines": _drop_lines(path, user_id)})
        left = await _left(writer, log, user_id, snapshots)
        if not left:
            break
    else:
        raise ErasureIncomplete(
            f"user '{user_id}' of store '{writer.store}' was written again while being erased ({left} memories, "
            f"audit entries or snapshot lines appeared after {rounds} passes): stop what writes them (an agent?) and "
            "erase again: the erasure resumes where it stopped")
    scrubbed = await writer.scrub()
    log.compact()
    return scrubbed


def _batch(erasure: Erasure) -> str:
    """The batch of every entry an erasure writes, across the runs that complete it."""
    return f"erasure-{erasure.id}"


async def _memories(writer: AuditedWriter, user_id: str) -> int | None:
    """The user's memories in the store, ``None`` when it cannot count them."""
    if Capability.COUNT not in writer.capabilities:
        return None
    return await writer.reader.count_records(MemoryFilter(user_id=user_id))


async def _left(writer: AuditedWriter, log: AuditLog, user_id: str, snapshots: Path | None) -> int:
    """Memories, entries with content and snapshot lines of the user still there."""
    content = log.content_counts(writer.store, user_id)
    return ((await _memories(writer, user_id) or 0) + sum(n for op, n in content.items() if op != "removal")
            + sum(_snapshot_lines(snapshots, user_id).values()))


# --- snapshot files -----------------------------------------------------------------------------------------
def _snapshot_files(folder: Path | None) -> Iterator[Path]:
    """The store's snapshot files, and partial ones a failed save left."""
    if folder is None or not folder.is_dir():
        return
    for pattern in ("*.jsonl", "*.part"):
        yield from sorted(path for path in folder.glob(pattern) if path.is_file())


def _snapshot_lines(folder: Path | None, user_id: str) -> dict[Path, int]:
    """How many lines of each snapshot file are the user's memories (files without any left out)."""
    found = {}
    for path in _snapshot_files(folder):
        with path.open(encoding="utf-8", errors="replace") as lines:
            count = sum(1 for line in lines if _owner(line) == user_id)
        if count:
            found[path] = count
    return found


def _drop_lines(path: Path, user_id: str) -> int:
    """Rewrite a snapshot file without the user's lines (a temporary file renamed over it); returns how many."""
    temp, dropped = path.with_name(path.name + _TEMP), 0
    try:
        with path.open(encoding="utf-8", errors="surrogateescape") as lines, \
                temp.open("w", encoding="utf-8", errors="surrogateescape") as out:
            for line in lines:
                if _owner(line) == user_id:
                    dropped += 1
                else:
                    out.write(line)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return dropped


def _owner(line: str) -> str | None:
    """The user id of a snapshot line (a lossless record), ``None`` for a line that is not one."""
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row.get("user_id") if isinstance(row, dict) else None


def _when(moment: dt.datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "(not finished)"
