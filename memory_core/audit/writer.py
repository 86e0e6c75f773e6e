"""The one write path: every change memdash makes to a memory goes through an :class:`AuditedWriter`.

A writer is bound to (actor, store). Each method checks the actor's role, reads the memories' before-images,
writes with the version the caller saw, and appends one audit entry per changed memory with before and after.
Order, since the audit log and the store are two systems: role → before-image → store write (atomic, version-
checked) → audit append. A failed append raises :class:`~memory_core.errors.AuditLogError` saying the change
was made but is not recorded; a crash between the two leaves at most one call's (or one import batch's)
changes unrecorded. The store itself is guarded (:mod:`memory_core.audit.guard`): nothing else can write to it.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

from memory_core.access import Actor, Role, cli_actor
from memory_core.audit.guard import audited, guard
from memory_core.audit.imports import ImportResult, OnExisting, apply_policy, plan_import
from memory_core.audit.log import AuditEntry, AuditLog
from memory_core.audit.settings import safety_settings
from memory_core.builder import MemoryBuilder
from memory_core.config import MemdashConfig
from memory_core.errors import AuditLogError, InvalidInputError, UnsupportedError, VersionConflictError
from memory_core.interfaces import Capability, MemoryBrowser, MemoryEditor, Scrubbing, capabilities_of
from memory_core.items import check_text, new_id, validate_items
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord, utcnow
from memory_core.transfer import record_to_dict

_APPROVAL = "approved version {version}"
MAX_LABEL = 80
NO_ID_NOTE = "the store chose the new memory's id (it cannot keep ids): not revertible here"
Progress = Callable[[int, int], None]


class AuditedWriter:
    """Changes to one store, made as one actor, each recorded in the audit log with before and after."""

    def __init__(self, editor: MemoryEditor, log: AuditLog, actor: Actor, store: str) -> None:
        self._editor, self._log, self.actor, self.store = guard(editor), log, actor, store

    @property
    def reader(self) -> MemoryBrowser:
        """The store, for the reads a task needs before it writes (it refuses writes made through it)."""
        return self._editor  # type: ignore[return-value]

    @property
    def capabilities(self) -> frozenset[Capability]:
        return capabilities_of(self._editor)

    @property
    def keeps_ids(self) -> bool:
        """Whether the store imports records as given (ids, timestamps, versions)."""
        return Capability.IMPORT in self.capabilities

    # --- single memories ----------------------------------------------------------------------------------
    async def add(self, items: Sequence[MemoryItem], *, batch: str | None = None) -> list[str | None]:
        """Add new memories; returns their ids (``None`` each where the store chooses ids and does not say)."""
        self._require(Role.EDITOR, "add memories")
        items = validate_items(list(items))
        if not self.keeps_ids:
            await self._call("add_items", items)
            self._append([self._item_entry("add", item, batch=batch) for item in items])
            return [None] * len(items)
        now = utcnow()
        records = [MemoryRecord(id=new_id(), item=item, created_at=now, updated_at=now) for item in items]
        await self._call("add_records", records)
        self._append([self._entry("add", None, record, batch=batch) for record in records])
        return [record.id for record in records]

    async def update(self, memory_id: str, patch: MemoryPatch, *, expected_version: int, batch: str | None = None,
                     reverts: int | None = None) -> MemoryRecord:
        """Apply an edit made from ``expected_version``; ``VersionConflictError`` if the memory changed since."""
        self._require(Role.EDITOR, "revert changes" if reverts else "edit memories")
        browser = self._browser(Capability.UPDATE)
        before = await browser.get_record(memory_id)
        if before.version != expected_version:  # the store checks again, atomically, in update_record
            raise VersionConflictError(memory_id, expected_version, before)
        after = await self._call("update_record", memory_id, patch, expected_version=expected_version)
        self._append([self._entry("revert" if reverts else "update", before, after, batch=batch, reverts=reverts)])
        return after

    async def delete(self, ids: Sequence[str], *, batch: str | None = None, reverts: Mapping[str, int] | None = None,
                     expected_versions: Mapping[str, int] | None = None) -> int:
        """Delete memories by id in one atomic write; returns how many existed. More than one is a bulk delete
        (admin). ``expected_versions``: refuse (nothing deleted) if one of them changed since it was shown."""
        bulk = len(set(ids)) > 1
        action = "bulk-delete memories" if bulk else "delete memories"
        if reverts:
            action = "revert a bulk add (a bulk delete)" if bulk else "revert changes"
        self._require(Role.ADMIN if bulk else Role.EDITOR, action)
        self._browser(Capability.DELETE_BY_IDS)
        before = await self._existing(list(dict.fromkeys(ids)))
        for record in before:
            expected = (expected_versions or {}).get(record.id)
            if expected is not None and expected != record.version:
                raise VersionConflictError(record.id, expected, record)
        if not before:
            return 0
        deleted = await self._call("delete_records", [record.id for record in before])
        batch = batch or uuid.uuid4().hex  # every delete is findable as one unit (undo, trash)
        if deleted:
            self._append([self._entry("revert" if reverts else "delete", record, None, batch=batch,
                                      reverts=(reverts or {}).get(record.id)) for record in before])
        return deleted

    async def retag(self, ids: Sequence[str], *, add: Sequence[str] = (), remove: Sequence[str] = (),
                    batch: str | None = None) -> int:
        """Add and/or remove tags on memories; returns how many changed. Each edit is version-checked."""
        self._require(Role.EDITOR, "tag memories")
        self._browser(Capability.UPDATE)
        changed = 0
        for record in await self._existing(ids):
            tags = [t for t in record.item.tags if t not in remove]
            tags += [t for t in add if t not in tags]
            if tags != record.item.tags:
                after = await self._call("update_record", record.id, MemoryPatch(tags=tags),
                                         expected_version=record.version)
                self._append([self._entry("update", record, after, batch=batch)])
                changed += 1
        return changed

    async def delete_user(self, user_id: str) -> None:
        """Every memory of a store that cannot list them, through the toolkit's ``remove_items(user_id=)``:
        recorded as one entry without states (they are not in the trash)."""
        self._require(Role.ADMIN, "delete all of a user's memories")
        if not user_id:
            raise InvalidInputError("a user id is needed")
        await self._call("remove_items", user_id=user_id)
        self._append([AuditEntry("delete", self.actor.name, self.store, user_id, note=(
            "every memory of the user, removed by the toolkit interface: the store cannot list them, so they "
            "are not in the trash"))])

    async def put_back(self, records: Sequence[MemoryRecord], *, reverts: Sequence[int],
                       batch: str | None = None) -> bool:
        """Re-add removed memories (a revert) in one atomic write: as they were where the store keeps ids,
        else as new memories. Returns whether ids were kept."""
        self._require(Role.EDITOR, "revert changes")
        if self.keeps_ids:
            await self._call("add_records", list(records))
            self._append([self._entry("revert", None, record, batch=batch, reverts=seq)
                          for record, seq in zip(records, reverts, strict=True)])
            return True
        await self._call("add_items", [record.item for record in records])
        self._append([self._item_entry("revert", record.item, batch=batch, reverts=seq)
                      for record, seq in zip(records, reverts, strict=True)])
        return False

    # --- imports --------------------------------------------------------------------------------------------
    async def import_records(self, records: Sequence[MemoryRecord], *, on_existing: OnExisting | None = None,
                             batch_size: int = 500, batch: str | None = None,
                             progress: Progress | None = None) -> ImportResult:
        """Write parsed records in atomic batches, ids and timestamps kept where the store can.

        Records whose id already exists are a decision (``on_existing``): skipped, overwritten (audited updates,
        revertible) or imported under new ids. With none made, ``ImportCollisionError`` and nothing written.
        ``progress(done, total)`` is called on the event loop after each batch."""
        await self.check_import(records, on_existing)
        result, batch = ImportResult(lossless=self.keeps_ids), batch or uuid.uuid4().hex
        for start in range(0, len(records), batch_size):
            await self.import_batch(records[start:start + batch_size], on_existing=on_existing, batch=batch,
                                    result=result)
            if progress:
                progress(result.handled, len(records))
        return result

    async def check_import(self, records: Sequence[MemoryRecord], on_existing: OnExisting | None) -> None:
        """Refuse a whole import before any batch of it is written: the role, and ids that exist already
        without a decision (``ImportCollisionError``)."""
        self._require(Role.EDITOR, "import memories")
        if self.keeps_ids:
            (await plan_import(self._browser(Capability.IMPORT), records)).refuse_unless(on_existing)

    async def import_batch(self, records: Sequence[MemoryRecord], *, on_existing: OnExisting | None, batch: str,
                           result: ImportResult) -> None:
        """One atomic batch of an import (checked again just before it is written); counts go to ``result``."""
        self._require(Role.EDITOR, "import memories")
        if not self.keeps_ids:
            result.added += len(await self.add([record.item for record in records], batch=batch))
            return
        plan = await plan_import(self._browser(Capability.IMPORT), records)
        fresh, overwrite = apply_policy(plan, on_existing, result)
        if fresh:
            await self._call("add_records", fresh)
            self._append([self._entry("add", None, r, batch=batch, note=result.renamed_note(r.id)) for r in fresh])
            result.added += len(fresh)
        for record in overwrite:
            await self._overwrite(plan.existing[record.id], record, batch)
            result.overwritten += 1

    async def _overwrite(self, current: MemoryRecord, record: MemoryRecord, batch: str) -> None:
        item = record.item
        patch = MemoryPatch(memory=item.memory, tags=item.tags, metadata=item.metadata,
                            conversation=item.conversation)
        after = await self._call("update_record", current.id, patch, expected_version=current.version)
        self._append([self._entry("update", current, after, batch=batch, note="overwritten by an import")])

    async def add_vectors(self, ids: Sequence[str], *, batch: str | None = None) -> list[str]:
        """Give those of ``ids`` the agent's search cannot find for want of a vector one made by the store's
        embedder (admin; ``memory_core.reach``). Text, tags, version and times are unchanged, so each memory given
        one is a ``vector`` entry without a state; returns their ids."""
        self._require(Role.ADMIN, "give memories the agent's vectors")
        self._browser(Capability.REACH)
        given = await self._call("give_vectors", list(ids))
        batch = batch or uuid.uuid4().hex
        self._append([AuditEntry("vector", self.actor.name, self.store, record.user_id, record.id, batch=batch,
                                 note="given a vector by the store's embedder, so the agent's search finds it")
                      for record in await self._existing(given)])
        return given

    # --- erasure (memory_core.audit.erasure) -------------------------------------------------------------
    async def erase(self, user_id: str, *, batch: str) -> int:
        """Delete every memory of ``user_id`` for an erasure (the dashboard's admins only). Where the store can
        list and delete by id: a page of ids at a time, each memory an ``erase`` entry that names it and holds
        none of it; then the toolkit's ``remove_items(user_id=)`` for whatever the listing did not reach (a
        store that cannot list: everything, one ``erase`` entry without a memory id; Zep: the user itself).
        Returns how many memories were deleted by id."""
        self.actor.require_global(Role.ADMIN, "erase a person's data")
        if not user_id:
            raise InvalidInputError("a user id is needed")
        deleted = 0
        if {Capability.LIST, Capability.DELETE_BY_IDS} <= self.capabilities:
            while ids := [record.id for record in (await self.reader.list_records(
                    MemoryFilter(user_id=user_id), limit=500)).records]:
                gone = await self._call("delete_records", ids)
                self._append([AuditEntry("erase", self.actor.name, self.store, user_id, memory_id, batch=batch)
                              for memory_id in ids])
                deleted += gone
                if not gone:  # listed but not deletable: stop rather than list them again forever
                    break
        await self._call("remove_items", user_id=user_id)
        if not {Capability.LIST, Capability.DELETE_BY_IDS} <= self.capabilities:
            self._append([AuditEntry("erase", self.actor.name, self.store, user_id, batch=batch)])
        return deleted

    async def scrub(self) -> bool:
        """Make deleted memories unrecoverable from the store's own files where the store can
        (:class:`~memory_core.interfaces.Scrubbing`); returns whether it could. No entry: no memory changes."""
        self.actor.require_global(Role.ADMIN, "scrub deleted memories from a store's files")
        if not isinstance(self._editor, Scrubbing):
            return False
        await self._editor.scrub()
        return True

    # --- entries without a change to a memory ---------------------------------------------------------------
    def note_export(self, user_id: str, note: str) -> None:
        """Record an export (who took a copy of which memories, and where)."""
        self._append([AuditEntry("export", self.actor.name, self.store, user_id, note=note)])

    def note_label(self, user_id: str, label: str) -> None:
        """Give a user a display label (memdash's own, never written into the store); an empty label removes it."""
        self._require(Role.EDITOR, "label users")
        if not user_id:
            raise InvalidInputError("a user id is needed")
        check_text(label, "the label")
        if len(label) > MAX_LABEL:
            raise InvalidInputError(f"a label has at most {MAX_LABEL} characters")
        self._append([AuditEntry("label", self.actor.name, self.store, user_id, note=label.strip())])

    def note_review(self, record: MemoryRecord) -> None:
        """Record that a person approved this version of a memory (the memory itself is not touched)."""
        self._require(Role.EDITOR, "review memories")
        self._append([AuditEntry("review", self.actor.name, self.store, record.user_id, record.id,
                                 note=_APPROVAL.format(version=record.version))])

    # --- helpers ----------------------------------------------------------------------------------------------
    def _require(self, role: Role, action: str) -> None:
        self.actor.require(role, self.store, action)

    def _browser(self, capability: Capability) -> MemoryBrowser:
        if capability not in self.capabilities:
            raise UnsupportedError(f"store '{self.store}' cannot {capability.value.replace('_', ' ')}")
        return self._editor  # type: ignore[return-value]

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        with audited():
            return await getattr(self._editor, name)(*args, **kwargs)

    async def _existing(self, ids: Sequence[str]) -> list[MemoryRecord]:
        """The records among ``ids`` that still exist (their before-images), in the order of ``ids``."""
        found = await self._browser(Capability.GET).get_records(ids)
        return [found[memory_id] for memory_id in dict.fromkeys(ids) if memory_id in found]

    def _entry(self, operation: str, before: MemoryRecord | None, after: MemoryRecord | None, *,
               batch: str | None, reverts: int | None = None, note: str | None = None) -> AuditEntry:
        record = after or before
        assert record is not None
        return AuditEntry(operation, self.actor.name, self.store, record.user_id, record.id,
                          before=record_to_dict(before) if before else None,
                          after=record_to_dict(after) if after else None, batch=batch, reverts=reverts, note=note)

    def _item_entry(self, operation: str, item: MemoryItem, *, batch: str | None,
                    reverts: int | None = None) -> AuditEntry:
        return AuditEntry(operation, self.actor.name, self.store, item.user_id, None,
                          after=item.model_dump(mode="json"), batch=batch, reverts=reverts, note=NO_ID_NOTE)

    def _append(self, entries: list[AuditEntry]) -> None:
        try:
            self._log.append(entries)
        except AuditLogError as exc:
            raise AuditLogError(f"the change ({len(entries)} audit entries) was made in store '{self.store}' "
                                f"but is not in the audit log: {exc}") from exc


@contextlib.asynccontextmanager
async def cli_writer(config: MemdashConfig, store: str, actor: Actor | None = None) -> AsyncIterator[AuditedWriter]:
    """A writer for one command-line run: the config's store and audit log, as ``cli:<os user>``."""
    log = safety_settings(config).open_audit_log()
    try:
        async with MemoryBuilder(config) as builder:
            yield AuditedWriter(await builder.get_memory_client(store), log, actor or cli_actor(), store)
    finally:
        log.close()


def labels(entries: Iterable[AuditEntry]) -> dict[str, str]:
    """The current display label of each user, from ``label`` entries oldest first (an empty one removes it)."""
    found: dict[str, str] = {}
    for entry in entries:
        if entry.operation == "label":
            found[entry.user_id] = entry.note or ""
    return {user: label for user, label in found.items() if label}


def approval(entry: AuditEntry) -> tuple[str, int] | None:
    """``(memory id, version)`` a review entry approved; ``None`` for any other entry."""
    found = re.fullmatch(r"approved version (\d+)", entry.note or "") if entry.operation == "review" else None
    return (entry.memory_id, int(found.group(1))) if found and entry.memory_id else None


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress:
        progress(done, total)
