"""Pause, resume and expiry of a memory (memory_core.life): audited edits of its metadata, made against the
version the operator saw; and the sweep that moves expired memories to the trash."""

from __future__ import annotations

import datetime as dt
import typing
import uuid

from dashboard.services import memories
from memory_core import life
from memory_core.access import Actor, Role
from memory_core.interfaces import Capability
from memory_core.records import MemoryPatch, MemoryRecord, utcnow
from memory_core.transfer import expired_ids

if typing.TYPE_CHECKING:
    from dashboard.services.hub import StoreHub


def set_paused(hub: StoreHub, actor: Actor, store: str, record: MemoryRecord, paused: bool) -> MemoryRecord:
    """Pause (or resume) the memory for the agent; ``VersionConflictError`` if it changed since shown."""
    hub.browser(store, Capability.PAUSE)
    patch = MemoryPatch(metadata=life.paused_metadata(record.item.metadata, paused))
    return memories.update_memory(hub, actor, store, record.id, patch, expected_version=record.version)


def set_expiry(hub: StoreHub, actor: Actor, store: str, record: MemoryRecord,
               when: dt.datetime | None) -> MemoryRecord:
    """Give the memory an expiry time (None removes it); a time already past is refused."""
    hub.browser(store, Capability.EXPIRE)
    patch = MemoryPatch(metadata=life.expiring_metadata(record.item.metadata, when, utcnow()))
    return memories.update_memory(hub, actor, store, record.id, patch, expected_version=record.version)


def sweep_expired(hub: StoreHub, actor: Actor, store: str) -> int:
    """Move every memory of ``store`` whose expiry time is past to the trash (one audited delete batch, admins:
    it is a bulk delete), refused before anything is read for anyone else."""
    memories.allow(hub, actor, Role.ADMIN, store, "move expired memories to the trash")
    browser = hub.browser(store, Capability.EXPIRE)
    ids = hub.runner.run(expired_ids(browser, utcnow()))
    return memories.delete_memories(hub, actor, store, ids, batch=uuid.uuid4().hex) if ids else 0
