"""Everything the pages do, as plain functions: the only bridge from Streamlit to the stores.

Reads and writes go through the editors the builder made from the YAML config (the same objects agents
use); nothing here speaks SQL or HTTP. Every mutation checks the actor's role and that the audit log opens
before it changes anything, then emits one :class:`MemoryEvent` per changed memory, all the events of one
store write together (the hub's audit log appends them in one transaction, see :mod:`dashboard.audit`).
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from dashboard import audit
from dashboard.access import Actor, Role
from dashboard.events import MemoryEvent, emit
from dashboard.runner import AsyncRunner
from memory_core.audit import AuditLog, SafetySettings, safety_settings
from memory_core.builder import MemoryBuilder
from memory_core.config import MemdashConfig, load_config
from memory_core.errors import (
    ConfigError,
    InvalidInputError,
    MemdashError,
    NotFoundError,
    UnsupportedError,
    VersionConflictError,
)
from memory_core.interfaces import Capability, MemoryBrowser, MemoryEditor, capabilities_of
from memory_core.models import MemoryItem
from memory_core.providers.common import new_id, validate_items
from memory_core.records import (
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    RecordPage,
    ScoredRecord,
    Sort,
    UserPage,
    utcnow,
)
from memory_core.transfer import (
    ParseReport,
    dump_csv,
    dump_jsonl_line,
    iter_records,
    parse_csv,
    parse_jsonl,
    record_to_dict,
)

CONFIG_ENV = "MEMDASH_CONFIG"
EXPORT_FORMATS = ("jsonl", "csv")
BULK_CHUNK = 200


class StoreHub:
    """A loaded config, the live stores built from it on one event loop thread, and its audit log."""

    def __init__(self, config_path: str | None, runner: AsyncRunner | None = None) -> None:
        self.id = uuid.uuid4().hex
        self.config_path = config_path
        self.runner = runner or AsyncRunner()
        self.config: MemdashConfig | None = None
        self.safety: SafetySettings | None = None
        self.config_error: ConfigError | None = None
        try:
            self.config = load_config(config_path) if config_path else None
            self.safety = safety_settings(self.config) if self.config else None
        except ConfigError as exc:
            self.config, self.config_error = None, exc
        self.builder = MemoryBuilder(self.config) if self.config else None
        self._audit: AuditLog | None = None
        self._audit_lock = threading.Lock()
        self._detach = audit.attach(self) if self.config else None

    @classmethod
    def from_env(cls) -> StoreHub:
        return cls(os.environ.get(CONFIG_ENV))

    @property
    def store_names(self) -> list[str]:
        return self.builder.memory_names if self.builder else []

    def store_type(self, store: str) -> str:
        return self._builder().get_memory_client_config(store).type

    def editor(self, store: str) -> MemoryEditor:
        """The store's editor, built on first use; raises ``StoreUnavailableError`` if it cannot start."""
        return self.runner.run(self._builder().get_memory_client(store))

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
        if self._detach:
            self._detach()
            self._detach = None
        if self.builder:
            self.runner.run(self.builder.__aexit__(None, None, None))
        self.runner.close()
        if self._audit:
            self._audit.close()

    def _builder(self) -> MemoryBuilder:
        if self.builder is None:
            raise self.config_error or ConfigError("no config loaded: start with memdash run --config FILE")
        return self.builder


_CANNOT = {
    Capability.LIST: "list memories (search only)",
    Capability.LIST_USERS: "list users",
    Capability.LIST_ALL_USERS: "list every user's memories at once (pick a user)",
    Capability.COUNT: "count memories",
    Capability.GET: "open a memory by id",
    Capability.UPDATE: "edit memories",
    Capability.DELETE_BY_IDS: "delete single memories",
    Capability.SEARCH_RECORDS: "link search results to their memories",
}


def cannot_message(store: str, capability: Capability) -> str:
    what = _CANNOT.get(capability, capability.value.replace("_", " "))
    return f"store '{store}' cannot {what}"


# --- stores -----------------------------------------------------------------------------------------


@dataclasses.dataclass
class StoreStatus:
    name: str
    type: str
    ok: bool
    error: str | None = None
    capabilities: frozenset[Capability] = frozenset()
    users: int | None = None
    memories: int | None = None
    notes: list[str] = dataclasses.field(default_factory=list)


def store_status(hub: StoreHub, store: str) -> StoreStatus:
    """Health, capabilities and counts of one store; a failure is reported, never raised."""
    status = StoreStatus(name=store, type=hub.store_type(store), ok=False)
    try:
        editor = hub.editor(store)
        status.capabilities = capabilities_of(editor)
        status.notes = list(editor.notes) if isinstance(editor, MemoryBrowser) else []
        if Capability.PING in status.capabilities:
            hub.runner.run(editor.ping())  # type: ignore[attr-defined]
        if Capability.COUNT in status.capabilities:
            status.memories = hub.runner.run(editor.count_records(MemoryFilter()))  # type: ignore[attr-defined]
        status.ok = True
    except (MemdashError, OSError, TimeoutError) as exc:
        status.error = str(exc) or type(exc).__name__
    return status


def store_statuses(hub: StoreHub) -> list[StoreStatus]:
    return [store_status(hub, name) for name in hub.store_names]


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@/\s]+@")
_KEY_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def store_settings(hub: StoreHub, store: str) -> dict[str, Any]:
    """A store's validated config for display: secrets (``SecretStr``) and passwords inside URLs or libpq
    strings are masked."""
    settings = hub._builder().get_memory_client_config(store).model_dump(mode="json", by_alias=True)
    return {key: _masked(value) for key, value in settings.items()}


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return _KEY_PASSWORD.sub(r"\1********", _URL_PASSWORD.sub(r"\1********@", value))
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def choose_config(actor: Actor, path: str) -> str:
    """Open another config file in the caller's session (its stores, never its sign-in settings): admins only.
    Returns the absolute path for ``context.config_path``."""
    actor.require_global(Role.ADMIN, "open another config")
    if not path.strip():
        raise InvalidInputError("a config file path is needed")
    return str(Path(path.strip()).expanduser().resolve())


# --- reads -------------------------------------------------------------------------------------------


def list_users(hub: StoreHub, store: str, *, prefix: str = "", limit: int = 50, cursor: str | None = None) -> UserPage:
    browser = hub.browser(store, Capability.LIST_USERS)
    return hub.runner.run(browser.list_users(prefix=prefix, limit=limit, cursor=cursor))


def lister(hub: StoreHub, store: str, flt: MemoryFilter) -> MemoryBrowser:
    """The store as a browser that can list ``flt`` (every user's memories need ``LIST_ALL_USERS``)."""
    browser = hub.browser(store, Capability.LIST)
    if flt.user_id is None and Capability.LIST_ALL_USERS not in browser.capabilities:
        raise UnsupportedError(cannot_message(store, Capability.LIST_ALL_USERS))
    return browser


def list_memories(hub: StoreHub, store: str, flt: MemoryFilter, *, sort: Sort = Sort(), limit: int = 50,
                  cursor: str | None = None) -> RecordPage:
    browser = lister(hub, store, flt)
    return hub.runner.run(browser.list_records(flt, sort=sort, limit=limit, cursor=cursor))


def count_memories(hub: StoreHub, store: str, flt: MemoryFilter) -> int:
    return hub.runner.run(hub.browser(store, Capability.COUNT).count_records(flt))


def get_memory(hub: StoreHub, store: str, memory_id: str) -> MemoryRecord:
    return hub.runner.run(hub.browser(store, Capability.GET).get_record(memory_id))


@dataclasses.dataclass
class SearchHit:
    """A search result; ``id`` is ``None`` when the store cannot say which memory it came from."""

    item: MemoryItem
    score: float | None
    id: str | None = None
    parts: dict[str, float] = dataclasses.field(default_factory=dict)


def search_memories(hub: StoreHub, store: str, *, user_id: str, query: str, top_k: int = 5,
                    threshold: float | None = None) -> list[SearchHit]:
    editor = hub.editor(store)
    if Capability.SEARCH_RECORDS in capabilities_of(editor):
        hits: list[ScoredRecord] = hub.runner.run(editor.search_records(  # type: ignore[attr-defined]
            query, user_id=user_id, top_k=top_k, similarity_threshold=threshold))
        return [SearchHit(item=h.record.item, score=h.score, id=h.record.id, parts=h.parts) for h in hits]
    kwargs = {"user_id": user_id} | ({"similarity_threshold": threshold} if threshold is not None else {})
    items = hub.runner.run(editor.search(query, top_k=top_k, **kwargs))
    return [SearchHit(item=i, score=i.similarity_score) for i in items]


def export_records(hub: StoreHub, store: str, flt: MemoryFilter) -> Iterator[MemoryRecord]:
    """Every matching record, a page at a time, for exports and bulk edits."""
    browser = lister(hub, store, flt)
    iterator = iter_records(browser, flt).__aiter__()
    while True:
        try:
            yield hub.runner.run(iterator.__anext__())
        except StopAsyncIteration:
            return


def export_lines(hub: StoreHub, store: str, flt: MemoryFilter, fmt: str) -> Iterator[str]:
    """An export file (``jsonl`` or ``csv``) as text chunks, built a page of records at a time."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInputError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    records = export_records(hub, store, flt)
    return dump_csv(records) if fmt == "csv" else (dump_jsonl_line(r) for r in records)


def export_file(hub: StoreHub, store: str, flt: MemoryFilter, fmt: str) -> io.BytesIO:
    """The export as a rewound in-memory file, written from :func:`export_lines` a page at a time
    (``st.download_button`` holds a download's bytes in memory anyway)."""
    out = io.BytesIO()
    for chunk in export_lines(hub, store, flt, fmt):
        out.write(chunk.encode())
    out.seek(0)
    return out


def parse_upload(name: str, data: bytes) -> ParseReport:
    """Validate a whole uploaded file (CSV by its ``.csv`` name, JSONL otherwise) without writing anything."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{name} is not UTF-8 text (byte {exc.start})") from None
    return parse_csv(text) if name.lower().endswith(".csv") else parse_jsonl(text.splitlines())


# --- writes ------------------------------------------------------------------------------------------



def allow(hub: StoreHub, actor: Actor, role: Role, store: str, action: str) -> None:
    """Refuse a mutation before it starts: the actor's role on ``store``, and an audit log that opens."""
    actor.require(role, store, action)
    _ = hub.audit


def change(hub: StoreHub, operation: str, actor: Actor, store: str, before: MemoryRecord | None,
           after: MemoryRecord | None, *, batch: str | None = None, reverts: int | None = None,
           note: str | None = None) -> MemoryEvent:
    """The event of one change to one record (lossless before/after dicts)."""
    record = after or before
    assert record is not None
    return MemoryEvent(operation, actor.name, store, record.user_id, record.id,
                       before=record_to_dict(before) if before else None,
                       after=record_to_dict(after) if after else None, batch=batch, reverts=reverts,
                       origin=hub.id, note=note)


def new_item_event(hub: StoreHub, operation: str, actor: Actor, store: str, item: MemoryItem, *,
                   batch: str | None = None, reverts: int | None = None) -> MemoryEvent:
    """The event of an item added through ``add_items``: the store chose its id and did not say which."""
    return MemoryEvent(operation, actor.name, store, item.user_id, None, after=item.model_dump(mode="json"),
                       batch=batch, reverts=reverts, origin=hub.id,
                       note="the store chose the new memory's id (it cannot keep ids): not revertible here")


def add_memory(hub: StoreHub, actor: Actor, store: str, item: MemoryItem) -> str | None:
    """Add one memory; returns its id when the store keeps ids."""
    allow(hub, actor, Role.EDITOR, store, "add memories")
    item = validate_items([item])[0]
    editor = hub.editor(store)
    if Capability.IMPORT in capabilities_of(editor) and isinstance(editor, MemoryBrowser):
        now = utcnow()
        record = MemoryRecord(id=new_id(), item=item, created_at=now, updated_at=now)
        hub.runner.run(editor.add_records([record]))
        emit(change(hub, "add", actor, store, None, record))
        return record.id
    hub.runner.run(editor.add_items([item]))
    emit(new_item_event(hub, "add", actor, store, item))
    return None


def update_memory(hub: StoreHub, actor: Actor, store: str, memory_id: str, patch: MemoryPatch, *,
                  expected_version: int) -> MemoryRecord:
    """Apply an edit made from ``expected_version``; ``VersionConflictError`` if someone changed it since."""
    allow(hub, actor, Role.EDITOR, store, "edit memories")
    browser = hub.browser(store, Capability.UPDATE)
    before = hub.runner.run(browser.get_record(memory_id))
    if before.version != expected_version:  # the store checks again, atomically, in update_record
        raise VersionConflictError(memory_id, expected_version, before)
    after = hub.runner.run(browser.update_record(memory_id, patch, expected_version=expected_version))
    emit(change(hub, "update", actor, store, before, after))
    return after


def delete_memories(hub: StoreHub, actor: Actor, store: str, ids: Sequence[str], *, batch: str | None = None) -> int:
    """Delete memories by id (atomic); returns how many existed. More than one id is a bulk delete (admin).

    Pass ``batch`` to find the deletion again (an undo); several ids get a batch id anyway."""
    needed = Role.ADMIN if len(ids) > 1 else Role.EDITOR
    allow(hub, actor, needed, store, "bulk-delete memories" if len(ids) > 1 else "delete memories")
    browser = hub.browser(store, Capability.DELETE_BY_IDS)
    before = _existing(hub, browser, ids)
    deleted = hub.runner.run(browser.delete_records(list(ids)))
    batch = batch or (uuid.uuid4().hex if len(ids) > 1 else None)
    emit(*(change(hub, "delete", actor, store, record, None, batch=batch) for record in before))
    return deleted


def delete_user_memories(hub: StoreHub, actor: Actor, store: str, user_id: str) -> None:
    """Remove every memory of one user: by id, each one audited, where the store can list and delete by id;
    else through the toolkit interface (``remove_items(user_id=)``), audited as one entry without states."""
    allow(hub, actor, Role.ADMIN, store, "delete all of a user's memories")
    if not user_id:
        raise InvalidInputError("a user id is needed")
    if hub.can(store, Capability.LIST) and hub.can(store, Capability.DELETE_BY_IDS):
        delete_matching(hub, actor, store, MemoryFilter(user_id=user_id))
        return
    hub.runner.run(hub.editor(store).remove_items(user_id=user_id))
    emit(MemoryEvent("delete", actor.name, store, user_id, None, origin=hub.id,
                     note="every memory of the user, removed by the toolkit interface: the store cannot list "
                          "them, so they are not in the trash"))


def retag_memories(hub: StoreHub, actor: Actor, store: str, ids: Sequence[str], *, add: Sequence[str] = (),
                   remove: Sequence[str] = (), progress: Callable[[int, int], None] | None = None,
                   batch: str | None = None) -> int:
    """Add and/or remove tags on many memories; returns how many changed. Each edit is version-checked."""
    allow(hub, actor, Role.EDITOR, store, "tag memories")
    browser = hub.browser(store, Capability.UPDATE)
    changed, batch = 0, batch or uuid.uuid4().hex
    for done, record in enumerate(_existing(hub, browser, ids), start=1):
        tags = [t for t in record.item.tags if t not in remove]
        tags += [t for t in add if t not in tags]
        if tags != record.item.tags:
            after = hub.runner.run(browser.update_record(record.id, MemoryPatch(tags=tags),
                                                         expected_version=record.version))
            emit(change(hub, "update", actor, store, record, after, batch=batch))
            changed += 1
        if progress:
            progress(done, len(ids))
    return changed


def retag_matching(hub: StoreHub, actor: Actor, store: str, flt: MemoryFilter, *, add: Sequence[str] = (),
                   remove: Sequence[str] = (), progress: Callable[[int, int], None] | None = None) -> int:
    """Retag every memory matching ``flt``, a chunk of ids at a time; ``progress(done, total)``."""
    allow(hub, actor, Role.EDITOR, store, "tag memories")
    batch, changed = uuid.uuid4().hex, 0
    for chunk in _matching_chunks(hub, store, flt, progress):
        changed += retag_memories(hub, actor, store, chunk, add=add, remove=remove, batch=batch)
    return changed


def delete_matching(hub: StoreHub, actor: Actor, store: str, flt: MemoryFilter, *,
                    progress: Callable[[int, int], None] | None = None, batch: str | None = None) -> int:
    """Delete every memory matching ``flt`` (admin), a chunk of ids at a time; ``progress(done, total)``."""
    allow(hub, actor, Role.ADMIN, store, "bulk-delete memories")
    batch, deleted = batch or uuid.uuid4().hex, 0
    for chunk in _matching_chunks(hub, store, flt, progress):
        deleted += delete_memories(hub, actor, store, chunk, batch=batch)
    return deleted


def _matching_chunks(hub: StoreHub, store: str, flt: MemoryFilter, progress: Callable[[int, int], None] | None,
                     size: int = BULK_CHUNK) -> Iterator[list[str]]:
    """Ids of the memories matching ``flt`` in chunks; reports progress after each chunk is handled.

    Keyset paging (oldest first) stays correct while the chunks already yielded are edited or deleted.
    """
    total = count_memories(hub, store, flt) if hub.can(store, Capability.COUNT) else 0
    records, done = export_records(hub, store, flt), 0
    while chunk := [record.id for record in itertools.islice(records, size)]:
        yield chunk
        done += len(chunk)
        if progress:
            progress(done, max(total, done))


def import_records(hub: StoreHub, actor: Actor, store: str, records: Sequence[MemoryRecord], *,
                   batch_size: int = 500, progress: Callable[[int, int], None] | None = None) -> int:
    """Write parsed records in atomic batches, keeping ids and timestamps where the store can."""
    allow(hub, actor, Role.EDITOR, store, "import memories")
    editor = hub.editor(store)
    lossless = Capability.IMPORT in capabilities_of(editor) and isinstance(editor, MemoryBrowser)
    batch = uuid.uuid4().hex
    for start in range(0, len(records), batch_size):
        chunk = list(records[start:start + batch_size])
        if lossless:
            hub.runner.run(editor.add_records(chunk))  # type: ignore[union-attr]
            emit(*(change(hub, "add", actor, store, None, record, batch=batch) for record in chunk))
        else:
            hub.runner.run(editor.add_items([r.item for r in chunk]))
            emit(*(new_item_event(hub, "add", actor, store, r.item, batch=batch) for r in chunk))
        if progress:
            progress(min(start + batch_size, len(records)), len(records))
    return len(records)


def _existing(hub: StoreHub, browser: MemoryBrowser, ids: Sequence[str]) -> list[MemoryRecord]:
    """The records among ``ids`` that still exist (their before-state for events)."""
    found = []
    for memory_id in ids:
        try:
            found.append(hub.runner.run(browser.get_record(memory_id)))
        except NotFoundError:
            continue
    return found
