"""Undo audited changes: put each memory back in the state its audit entry found it in.

A change is undone only when the memory is still exactly as the entry left it (same version and content);
otherwise it is a conflict, reported with the current state and never overwritten. Several entries (a bulk
operation's batch, an undo, a trash selection) are checked first and reverted as one unit: with a conflict
nothing is reverted unless the caller asks to revert the rest. Reverts are audited (operation ``revert``,
``reverts`` = the undone entry), so a revert can itself be reverted.

- a change (before and after): updated back to ``before``, version-checked against ``after``'s version;
- a removal (only before): re-added with ``add_records`` (id, timestamps and version kept) where the store can
  import, else with ``add_items`` (the store gives it a new id);
- a creation (only after): deleted.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Sequence
from typing import Any

from dashboard.services import memories
from dashboard.services.hub import StoreHub
from memory_core.access import Actor, Role
from memory_core.audit import AuditEntry, AuditQuery, Change
from memory_core.errors import InvalidInputError, NotFoundError, VersionConflictError
from memory_core.interfaces import Capability
from memory_core.records import MemoryPatch, MemoryRecord
from memory_core.transfer import record_to_dict

_CONTENT = ("user_id", "memory", "tags", "metadata", "conversation")


@dataclasses.dataclass
class Step:
    """One entry to revert, the memory's current state, and why it cannot be reverted (``None``: it can)."""

    entry: AuditEntry
    current: MemoryRecord | None
    problem: str | None = None


@dataclasses.dataclass
class RevertResult:
    """Entries reverted (their seqs), entries left as they are (conflicts), and remarks for the operator."""

    reverted: list[int]
    conflicts: list[Step]
    notes: list[str] = dataclasses.field(default_factory=list)


def batch_entries(hub: StoreHub, batch: str) -> list[AuditEntry]:
    """Every entry of one bulk operation, oldest first."""
    return list(hub.audit.entries(AuditQuery(batch=batch)))


def plan(hub: StoreHub, entries: Sequence[AuditEntry]) -> list[Step]:
    """What reverting ``entries`` would meet, newest first (the order reverts run in); changes nothing."""
    store = _one_store(entries)
    done = hub.audit.reverted_by([e.seq for e in entries if e.seq is not None])
    steps = [_step(hub, store, entry, done.get(entry.seq or 0)) for entry in entries]
    return sorted(steps, key=lambda step: step.entry.seq or 0, reverse=True)


def revert(hub: StoreHub, actor: Actor, entries: Sequence[AuditEntry], *, skip_conflicts: bool = False
           ) -> RevertResult:
    """Revert ``entries`` as one unit. With conflicts, nothing changes unless ``skip_conflicts`` (revert the rest)."""
    steps = plan(hub, entries)
    conflicts = [step for step in steps if step.problem]
    ready = [step for step in steps if not step.problem]
    if (conflicts and not skip_conflicts) or not ready:
        return RevertResult(reverted=[], conflicts=conflicts)
    store = _one_store(entries)
    removals = [s for s in ready if s.entry.change is Change.CREATED]
    if len(removals) > 1:
        memories.allow(hub, actor, Role.ADMIN, store, "revert a bulk add (a bulk delete)")
    memories.allow(hub, actor, Role.EDITOR, store, "revert changes")
    batch = uuid.uuid4().hex if len(ready) > 1 else None
    result = RevertResult(reverted=[], conflicts=conflicts)
    _update_back(hub, actor, store, [s for s in ready if s.entry.change is Change.CHANGED], batch, result)
    _restore(hub, actor, store, [s for s in ready if s.entry.change is Change.REMOVED], batch, result)
    _remove(hub, actor, store, removals, batch, result)
    return result


# --- checks ------------------------------------------------------------------------------------------


def _one_store(entries: Sequence[AuditEntry]) -> str:
    stores = {entry.store for entry in entries}
    if len(stores) != 1:
        raise InvalidInputError("revert the changes of one store at a time" if stores else "nothing to revert")
    return stores.pop()


def _step(hub: StoreHub, store: str, entry: AuditEntry, reverted_by: int | None) -> Step:
    if reverted_by is not None:
        return Step(entry, None, f"already reverted by audit entry {reverted_by}")
    if entry.change is Change.NONE or entry.memory_id is None:
        return Step(entry, None, "not revertible: the entry records no memory it could put back")
    current = _current(hub, store, entry.memory_id)
    return Step(entry, current, _problem(entry, current))


def _current(hub: StoreHub, store: str, memory_id: str) -> MemoryRecord | None:
    browser = hub.browser(store, Capability.GET)
    try:
        return hub.runner.run(browser.get_record(memory_id))
    except NotFoundError:
        return None


def _problem(entry: AuditEntry, current: MemoryRecord | None) -> str | None:
    if entry.change is Change.REMOVED:
        return None if current is None else f"a memory with this id exists again (version {current.version})"
    if current is None:
        return "deleted since" if entry.change is Change.CHANGED else "already deleted"
    if entry.after is not None and not _unchanged(current, entry.after):
        return f"changed since: now version {current.version}, the entry left version {entry.after['version']}"
    return None


def current_dict(record: MemoryRecord) -> dict[str, Any]:
    """A record as the audit log stores states (its JSON form), to compare or diff with entries."""
    return json.loads(json.dumps(record_to_dict(record)))


def _unchanged(current: MemoryRecord, after: dict[str, Any]) -> bool:
    """The memory is as the entry left it: same version, same content (timestamps may lose precision)."""
    now = current_dict(current)
    return now["version"] == after.get("version") and all(now[k] == after.get(k) for k in _CONTENT)


# --- changes: through the hub's AuditedWriter ----------------------------------------------------------


def _update_back(hub: StoreHub, actor: Actor, store: str, steps: list[Step], batch: str | None,
                 result: RevertResult) -> None:
    writer = hub.writer(actor, store)
    for step in steps:
        before = step.entry.before_record()
        assert before and step.current
        patch = MemoryPatch(**{k: getattr(before.item, k) for k in ("memory", "tags", "metadata", "conversation")})
        try:
            hub.runner.run(writer.update(step.current.id, patch, expected_version=step.current.version, batch=batch,
                                         reverts=step.entry.seq))
        except VersionConflictError as exc:
            result.conflicts.append(Step(step.entry, exc.current, "changed while reverting"))
            continue
        result.reverted.append(step.entry.seq or 0)


def _restore(hub: StoreHub, actor: Actor, store: str, steps: list[Step], batch: str | None,
             result: RevertResult) -> None:
    """Re-add removed memories in one atomic write: losslessly where the store imports, else with new ids."""
    if not steps:
        return
    records = [record for step in steps if (record := step.entry.before_record())]
    kept = hub.runner.run(hub.writer(actor, store).put_back(records, reverts=[s.entry.seq or 0 for s in steps],
                                                            batch=batch))
    if not kept:
        result.notes.append(f"store '{store}' cannot keep ids: the restored memories have new ids")
    result.reverted.extend(step.entry.seq or 0 for step in steps)


def _remove(hub: StoreHub, actor: Actor, store: str, steps: list[Step], batch: str | None,
            result: RevertResult) -> None:
    """Delete created memories in one atomic write."""
    current = {step.current.id: step.entry.seq or 0 for step in steps if step.current}
    if current:
        hub.runner.run(hub.writer(actor, store).delete(list(current), batch=batch, reverts=current))
    result.reverted.extend(step.entry.seq or 0 for step in steps)
