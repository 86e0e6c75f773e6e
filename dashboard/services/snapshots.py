"""Demo snapshots: a store's whole state saved as a lossless JSONL file and restored in one step.

Files live in ``memdash: {snapshots: {path: DIR}}`` (relative to the config; default ``snapshots/`` beside it),
one folder per store: ``DIR/<store>/<name>.jsonl``. Saving needs the editor role and is audited as one
``export`` entry; restoring needs the admin role and is "delete every memory, then import the file", both
through ``services`` (each deleted and added memory audited; the deleted ones go to the trash). The two steps
are not one transaction: a failure in between leaves the store empty or partly restored, and the file intact.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from pathlib import Path

from dashboard.services import memories
from dashboard.services.hub import StoreHub, cannot_message
from memory_core.access import Actor, Role
from memory_core.errors import ConfigError, InvalidInputError, NotFoundError, UnsupportedError
from memory_core.interfaces import Capability
from memory_core.memdash_section import snapshots_folder
from memory_core.records import MemoryFilter, utcnow
from memory_core.transfer import dump_jsonl_line, parse_jsonl

_NAME = re.compile(r"^[\w.-]{1,80}$")
_NEEDS = (Capability.LIST, Capability.LIST_ALL_USERS, Capability.DELETE_BY_IDS, Capability.IMPORT)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    name: str
    at: dt.datetime
    count: int
    path: Path


def snapshots_dir(hub: StoreHub, store: str) -> Path:
    config = hub.config
    if config is None:
        raise hub.config_error or ConfigError("no config loaded: start with memdash run --config FILE")
    return snapshots_folder(config, store)


def default_name() -> str:
    return utcnow().strftime("%Y-%m-%dT%H-%M-%S")


def _checked(hub: StoreHub, store: str, name: str) -> Path:
    if not _NAME.match(name):
        raise InvalidInputError("a snapshot name is 1-80 letters, digits, '.', '_' or '-'")
    missing = [c for c in _NEEDS if not hub.can(store, c)]
    if missing:
        raise UnsupportedError(cannot_message(store, missing[0]) + ": no snapshots")
    return snapshots_dir(hub, store) / f"{name}.jsonl"


def save_snapshot(hub: StoreHub, actor: Actor, store: str, name: str) -> Snapshot:
    """Write every memory of ``store`` to a new snapshot file (editor role; one ``export`` audit entry)."""
    memories.allow(hub, actor, Role.EDITOR, store, "save snapshots")
    path = _checked(hub, store, name)
    if path.exists():
        raise InvalidInputError(f"a snapshot named '{name}' exists; choose another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial, count = path.with_suffix(".part"), 0
    with partial.open("w", encoding="utf-8") as out:
        for record in memories.export_records(hub, store, MemoryFilter()):
            out.write(dump_jsonl_line(record))
            count += 1
    partial.replace(path)
    hub.writer(actor, store).note_export("", f"snapshot '{name}': {count} memories saved to {path}")
    return _snapshot(path)


def _snapshot(path: Path) -> Snapshot:
    with path.open(encoding="utf-8") as lines:
        count = sum(1 for line in lines if line.strip())
    return Snapshot(path.stem, dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC), count, path)


def list_snapshots(hub: StoreHub, store: str) -> list[Snapshot]:
    """The store's snapshots, newest first."""
    folder = snapshots_dir(hub, store)
    found = [_snapshot(p) for p in folder.glob("*.jsonl")] if folder.is_dir() else []
    return sorted(found, key=lambda s: s.at, reverse=True)


def restore_snapshot(hub: StoreHub, actor: Actor, store: str, name: str) -> int:
    """Replace every memory of ``store`` with the snapshot's (admin role); returns how many were restored.

    The file is read and validated whole before anything is deleted."""
    memories.allow(hub, actor, Role.ADMIN, store, "restore snapshots")
    path = _checked(hub, store, name)
    if not path.is_file():
        raise NotFoundError(f"no snapshot named '{name}' for store '{store}'")
    with path.open(encoding="utf-8") as lines:
        report = parse_jsonl(lines)
    if not report.ok:
        line, message = report.errors[0]
        raise InvalidInputError(f"snapshot '{name}' line {line}: {message}")
    memories.delete_matching(hub, actor, store, MemoryFilter(), batch=uuid.uuid4().hex)
    return memories.import_records(hub, actor, store, report.records).added
