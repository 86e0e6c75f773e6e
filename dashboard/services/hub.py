"""The hub: one loaded config, the stores built from it on one event-loop thread, and its audit log.

A page sees the hub as its signed-in person may (:meth:`StoreHub.as_seen_by`, a :class:`ReaderHub`): only the
stores their role lets them read, refused anywhere else (a deep link, a crafted call), and every read of a
person's memories recorded (:mod:`memory_core.audit.reads`).

Reads go through the editors the builder made from the YAML config (the same objects agents use), guarded so
that they cannot write; every write goes through :meth:`StoreHub.writer`, an
:class:`~memory_core.audit.writer.AuditedWriter` (role check, before-image, version check, audit entry).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import uuid

from dashboard.services.runner import AsyncRunner
from memory_core.access import Actor
from memory_core.audit import AuditLog, AuditQuery, SafetySettings, safety_settings
from memory_core.audit.guard import guard
from memory_core.audit.reads import ReadRecorder
from memory_core.audit.writer import AuditedWriter
from memory_core.builder import MemoryBuilder
from memory_core.config import CONFIG_ENV, MemdashConfig, load_config
from memory_core.errors import (
    ConfigError,
    UnsupportedError,
)
from memory_core.interfaces import Capability, MemoryBrowser, MemoryEditor, capabilities_of
from memory_core.memdash_section import check_memdash_section


class StoreHub:
    """A loaded config, the live stores built from it on one event loop thread, and its audit log.
    Unrestricted: what the command line and the tests use; pages get a :class:`ReaderHub`."""

    reader: Actor | None = None  # whose view this is (None: everything, nothing recorded)

    def __init__(self, config_path: str | None, runner: AsyncRunner | None = None) -> None:
        self.id = uuid.uuid4().hex
        self.config_path = config_path
        self.runner = runner or AsyncRunner()
        self.config: MemdashConfig | None = None
        self.safety: SafetySettings | None = None
        self.config_error: ConfigError | None = None
        try:
            self.config = load_config(config_path) if config_path else None
            if self.config:
                check_memdash_section(self.config)
            self.safety = safety_settings(self.config) if self.config else None
        except ConfigError as exc:
            self.config, self.config_error = None, exc
        self.builder = MemoryBuilder(self.config) if self.config else None
        self._audit: AuditLog | None = None
        self._audit_lock = threading.Lock()
        self.reads = ReadRecorder(lambda: self.audit)

    def as_seen_by(self, actor: Actor, session: str) -> ReaderHub:
        """This hub as ``actor`` may read it, recording their reads under ``session``."""
        return ReaderHub(self, actor, session)

    def require_read(self, store: str) -> None:
        """``PermissionDenied`` unless this view may read ``store`` (an unrestricted hub reads every store)."""

    def note_read(self, store: str, reads: dict[str, int], kind: str) -> None:
        """Record that this view's reader read ``reads`` (memories per user id) of ``store``: a no-op here."""

    def visible(self, query: AuditQuery) -> AuditQuery:
        """``query`` narrowed to the stores this view may read."""
        return query

    @classmethod
    def from_env(cls) -> StoreHub:
        return cls(os.environ.get(CONFIG_ENV))

    @property
    def store_names(self) -> list[str]:
        return self.builder.memory_names if self.builder else []

    def store_type(self, store: str) -> str:
        self.require_read(store)
        return self._builder().get_memory_client_config(store).type

    def editor(self, store: str) -> MemoryEditor:
        """The store's editor for reading, built on first use (``StoreUnavailableError`` if it cannot start).
        Guarded: its mutating methods refuse every call that does not come through :meth:`writer`."""
        self.require_read(store)
        return guard(self.runner.run(self._builder().get_memory_client(store)))

    def writer(self, actor: Actor, store: str) -> AuditedWriter:
        """The only way to change ``store``'s memories: as ``actor``, each change in the audit log
        (``AuditLogError`` when the log cannot be opened, before anything changes)."""
        return AuditedWriter(self.editor(store), self.audit, actor, store)

    def browser(self, store: str, capability: Capability) -> MemoryBrowser:
        """The store as a browser offering ``capability``, or ``UnsupportedError`` saying what it lacks."""
        editor = self.editor(store)
        if capability not in capabilities_of(editor):
            raise UnsupportedError(cannot_message(store, capability))
        return editor  # type: ignore[return-value]

    def can(self, store: str, capability: Capability) -> bool:
        return capability in capabilities_of(self.editor(store))

    @property
    def audit(self) -> AuditLog:
        """The config's audit log, opened on first use; ``AuditLogError`` when it cannot be."""
        if self.safety is None:
            raise self.config_error or ConfigError("no config loaded: start with memdash run --config FILE")
        with self._audit_lock:
            if self._audit is None:
                self._audit = self.safety.open_audit_log()
            return self._audit

    def close(self) -> None:
        if self.builder:
            self.runner.run(self.builder.__aexit__(None, None, None))
        self.runner.close()
        if self._audit:
            self._audit.close()

    def _builder(self) -> MemoryBuilder:
        if self.builder is None:
            raise self.config_error or ConfigError("no config loaded: start with memdash run --config FILE")
        return self.builder


class ReaderHub(StoreHub):
    """A :class:`StoreHub` as one person may read it: the same stores, runner and audit log (shared, not copied),
    narrowed to the stores their role lets them read; their reads are recorded per session."""

    def __init__(self, hub: StoreHub, actor: Actor, session: str) -> None:
        self.__dict__.update(hub.__dict__)  # not super().__init__(), which would load the config and stores again
        self.base, self.reader, self.session = hub, actor, session

    @property
    def store_names(self) -> list[str]:
        return [name for name in self.base.store_names if self.reader.can_read(name)]

    @property
    def audit(self) -> AuditLog:
        return self.base.audit

    def require_read(self, store: str) -> None:
        self.reader.require_read(store)

    def note_read(self, store: str, reads: dict[str, int], kind: str) -> None:
        if reads:
            self.reads.record(self.reader, self.session, store, reads, kind)

    def visible(self, query: AuditQuery) -> AuditQuery:
        if query.store is not None:
            self.require_read(query.store)
        if self.reader.reads_every_store:
            return query  # also the entries of stores the config no longer names
        return dataclasses.replace(query, stores=tuple(self.store_names))

    def close(self) -> None:
        """Nothing to release: the stores belong to the shared hub."""


_CANNOT = {
    Capability.LIST: "list memories (search only)",
    Capability.LIST_USERS: "list users",
    Capability.LIST_ALL_USERS: "list every user's memories at once (pick a user)",
    Capability.COUNT: "count memories",
    Capability.GET: "open a memory by id",
    Capability.UPDATE: "edit memories",
    Capability.DELETE_BY_IDS: "delete single memories",
    Capability.SEARCH_RECORDS: "link search results to their memories",
    Capability.BROWSE_BY_USE: "list or sort memories by the agent's use: it does not record which memories the "
                              "agent's search returned",
}


def cannot_message(store: str, capability: Capability) -> str:
    what = _CANNOT.get(capability, capability.value.replace("_", " "))
    return f"store '{store}' cannot {what}"
