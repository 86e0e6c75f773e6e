"""Imports whose ids already exist in the store: found before anything is written, and settled by a decision.

:func:`plan_import` reads which of a file's ids the store holds (changes nothing); the dashboard and
``memdash import`` show it. :class:`OnExisting` is the operator's choice; with none, an import that meets an
existing id writes nothing (:class:`ImportCollisionError`).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence

from memory_core.errors import InvalidInputError
from memory_core.interfaces import MemoryBrowser
from memory_core.items import new_id
from memory_core.records import MemoryRecord
from memory_core.transfer import record_to_dict

SHOWN_IDS = 5


class OnExisting(enum.StrEnum):
    """What to do with a record whose id the store already holds."""

    SKIP = "skip"  # keep the stored memory, leave the file's record out
    OVERWRITE = "overwrite"  # replace the stored memory's content: an audited update, revertible
    NEW_IDS = "new-ids"  # import the file's record as a new memory with a new id

    @property
    def label(self) -> str:
        return {"skip": "Skip them (keep what is stored)",
                "overwrite": "Overwrite them (audited as edits, revertible)",
                "new-ids": "Import them as new memories (new ids)"}[self.value]


class ImportCollisionError(InvalidInputError):
    """Some ids exist already and no decision was made (or overwriting cannot apply): nothing was imported."""

    def __init__(self, message: str, ids: Sequence[str]) -> None:
        super().__init__(message)
        self.ids = list(ids)


@dataclasses.dataclass
class ImportPlan:
    """The records of a file split by whether their id exists; ``existing`` maps id → the stored record."""

    records: list[MemoryRecord]
    existing: dict[str, MemoryRecord]

    @property
    def identical(self) -> list[MemoryRecord]:
        """Records the store already holds exactly as the file has them (an import run twice): left alone."""
        return [r for r in self.records if r.id in self.existing and _same(r, self.existing[r.id])]

    @property
    def colliding(self) -> list[MemoryRecord]:
        """Records whose id the store holds with other content: these need a decision."""
        return [r for r in self.records if r.id in self.existing and not _same(r, self.existing[r.id])]

    def moved_users(self) -> list[MemoryRecord]:
        """Colliding records that name another user than the stored memory (overwrite cannot move memories)."""
        return [r for r in self.colliding if r.user_id != self.existing[r.id].user_id]

    def refuse_unless(self, on_existing: OnExisting | None) -> None:
        """``ImportCollisionError`` when ids collide and no decision applies to them."""
        refuse_unless([r.id for r in self.colliding], [r.id for r in self.moved_users()], on_existing)


def refuse_unless(colliding: Sequence[str], moved: Sequence[str], on_existing: OnExisting | None) -> None:
    """``ImportCollisionError`` for ``colliding`` ids without a decision, or ``moved`` ones (another user in the
    store) to be overwritten."""
    if colliding and on_existing is None:
        raise ImportCollisionError(
            f"{len(colliding):,} of the file's ids already exist in the store ({_first(colliding)}): choose "
            "to skip them, overwrite them or import them under new ids. Nothing was imported.", colliding)
    if moved and on_existing is OnExisting.OVERWRITE:
        raise ImportCollisionError(
            f"{len(moved):,} of the existing ids belong to another user in the store than the file says "
            f"({_first(moved)}): overwriting cannot move a memory to another user; skip them or import "
            "them under new ids. Nothing was imported.", moved)


@dataclasses.dataclass
class ImportResult:
    """What an import did; ``renamed`` maps each new id to the file's id it replaced."""

    lossless: bool
    added: int = 0
    overwritten: int = 0
    skipped: int = 0
    unchanged: int = 0
    renamed: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def handled(self) -> int:
        return self.added + self.overwritten + self.skipped + self.unchanged

    def renamed_note(self, memory_id: str) -> str | None:
        old = self.renamed.get(memory_id)
        return f"imported under a new id: the file's id {old} exists in the store" if old else None

    def summary(self) -> str:
        parts = [f"{self.added:,} added"]
        if self.overwritten:
            parts.append(f"{self.overwritten:,} overwritten")
        if self.skipped:
            parts.append(f"{self.skipped:,} skipped (their ids exist)")
        if self.unchanged:
            parts.append(f"{self.unchanged:,} already in the store as they are")
        if self.renamed:
            parts.append(f"{len(self.renamed):,} of the added under new ids")
        return ", ".join(parts)


async def plan_import(browser: MemoryBrowser, records: Sequence[MemoryRecord]) -> ImportPlan:
    """Which of ``records``' ids the store already holds (reads only)."""
    return ImportPlan(list(records), await browser.get_records([record.id for record in records]))


def apply_policy(plan: ImportPlan, on_existing: OnExisting | None, result: ImportResult
                 ) -> tuple[list[MemoryRecord], list[MemoryRecord]]:
    """``(records to add, records to overwrite)`` for one batch; counts skips and renames in ``result``."""
    plan.refuse_unless(on_existing)
    fresh = [r for r in plan.records if r.id not in plan.existing]
    result.unchanged += len(plan.identical)
    colliding = plan.colliding
    if on_existing is OnExisting.SKIP:
        result.skipped += len(colliding)
        return fresh, []
    if on_existing is OnExisting.OVERWRITE:
        return fresh, colliding
    for record in colliding:
        renamed = record.model_copy(update={"id": new_id()})
        result.renamed[renamed.id] = record.id
        fresh.append(renamed)
    return fresh, []


def _same(record: MemoryRecord, stored: MemoryRecord) -> bool:
    return record_to_dict(record) == record_to_dict(stored)


def _first(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return f"{shown}, …" if len(ids) > SHOWN_IDS else shown
