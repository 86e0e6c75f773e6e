"""A store's memories, as plain functions the pages call: list, count, open, search, export, import, label,
and every change through the hub's audited writer. Nothing here speaks SQL or HTTP or imports Streamlit."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import io
import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence

from dashboard.services.hub import StoreHub, cannot_message
from memory_core.access import Actor, Role
from memory_core.audit import AuditQuery
from memory_core.audit.imports import ImportPlan, ImportResult, OnExisting, plan_import
from memory_core.audit.writer import labels
from memory_core.conversations import conversation_of
from memory_core.errors import (
    InvalidInputError,
    UnsupportedError,
)
from memory_core.interfaces import Capability, MemoryBrowser, capabilities_of
from memory_core.models import MemoryItem
from memory_core.records import (
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    RecordPage,
    ScoredRecord,
    Sort,
    SortField,
    UserPage,
    by_use,
)
from memory_core.tools import GetToolConfig, bind_tool
from memory_core.transfer import (
    ParseReport,
    dump_csv,
    dump_jsonl_line,
    iter_records,
    parse_csv,
    parse_jsonl,
)
from memory_core.usage import not_counted

EXPORT_FORMATS = ("jsonl", "csv")
BULK_CHUNK = 200
PROGRESS_STEP = 25  # memories retagged between two progress reports


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
    if by_use(flt, sort):
        hub.browser(store, Capability.BROWSE_BY_USE)
    page = hub.runner.run(browser.list_records(flt, sort=sort, limit=limit, cursor=cursor))
    hub.note_read(store, dict(collections.Counter(r.user_id for r in page.records)), "browse")
    return page


def count_memories(hub: StoreHub, store: str, flt: MemoryFilter) -> int:
    if by_use(flt, Sort()):
        hub.browser(store, Capability.BROWSE_BY_USE)
    return hub.runner.run(hub.browser(store, Capability.COUNT).count_records(flt))


def get_memory(hub: StoreHub, store: str, memory_id: str) -> MemoryRecord:
    record = hub.runner.run(hub.browser(store, Capability.GET).get_record(memory_id))
    hub.note_read(store, {record.user_id: 1}, "open")
    return record


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
        found = [SearchHit(item=h.record.item, score=h.score, id=h.record.id, parts=h.parts) for h in hits]
    else:
        kwargs = {"user_id": user_id} | ({"similarity_threshold": threshold} if threshold is not None else {})
        items = hub.runner.run(editor.search(query, top_k=top_k, **kwargs))
        found = [SearchHit(item=i, score=i.similarity_score) for i in items]
    hub.note_read(store, {user_id: len(found)}, "search")
    return found


def agent_view(hub: StoreHub, store: str, *, user_id: str, query: str, top_k: int = 5) -> str:
    """What an agent's ``get_memory`` tool returns to its LLM for this user and query: the toolkit's 1.9 tool
    (:mod:`memory_core.tools`, its exact output string) on the same store, reading only."""
    tool = bind_tool(hub.editor(store), GetToolConfig(memory=store, user_id=user_id))

    async def preview() -> str:
        with not_counted():  # an operator looking is not the agent using the memories
            return await tool.ainvoke({"query": query, "top_k": top_k})

    shown = hub.runner.run(preview())
    hub.note_read(store, {user_id: 0}, "agent view")  # the tool's text does not say how many it holds
    return shown


def export_records(hub: StoreHub, store: str, flt: MemoryFilter, chunk: int = 500) -> Iterator[MemoryRecord]:
    """Every matching record, ``chunk`` records per trip to the store's loop, for exports and bulk edits."""
    iterator = iter_records(lister(hub, store, flt), flt).__aiter__()

    async def take() -> list[MemoryRecord]:
        taken: list[MemoryRecord] = []
        with contextlib.suppress(StopAsyncIteration):
            while len(taken) < chunk:
                taken.append(await iterator.__anext__())
        return taken

    while records := hub.runner.run(take()):
        yield from records


def export_lines(hub: StoreHub, store: str, flt: MemoryFilter, fmt: str,
                 records: Iterator[MemoryRecord] | None = None) -> Iterator[str]:
    """An export file (``jsonl`` or ``csv``) as text chunks, built a page of records at a time."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInputError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    records = export_records(hub, store, flt) if records is None else records
    return dump_csv(records) if fmt == "csv" else (dump_jsonl_line(r) for r in records)


def export_stream(hub: StoreHub, actor: Actor, store: str, flt: MemoryFilter, fmt: str) -> Iterator[str]:
    """:func:`export_lines`, noted in the audit log when it ends: how many memories were sent, and whether
    the reader stopped early (a closed browser tab)."""
    sent = 0

    def counted() -> Iterator[MemoryRecord]:
        nonlocal sent
        for record in export_records(hub, store, flt):
            sent += 1
            yield record

    lines = export_lines(hub, store, flt, fmt, counted())
    finished = False
    try:
        yield from lines
        finished = True
    finally:
        memories = f"{sent:,} {'memory' if sent == 1 else 'memories'}"
        note = f"{memories} downloaded as {fmt.upper()}" if finished else \
            f"download stopped after {memories} ({fmt.upper()})"
        hub.writer(actor, store).note_export(flt.user_id or "", note)


def export_file(hub: StoreHub, actor: Actor, store: str, flt: MemoryFilter, fmt: str) -> io.BytesIO:
    """The export as a rewound in-memory file, for ``st.download_button`` when the streaming route is absent."""
    out = io.BytesIO()
    for chunk in export_stream(hub, actor, store, flt, fmt):
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


# --- writes: every one through the hub's AuditedWriter ---------------------------------------------------


def conversation_records(hub: StoreHub, store: str, record: MemoryRecord, limit: int = 200) -> list[MemoryRecord]:
    """The memories of ``record``'s user in the same conversation (``memory_core.conversations``), oldest first;
    empty when the memory names no conversation or the store cannot filter."""
    named = conversation_of(record.item)
    if named is None or not hub.can(store, Capability.LIST):
        return []
    flt = MemoryFilter(user_id=record.user_id, metadata={named[0]: named[1]})
    sort = Sort(field=SortField.CREATED, descending=False)
    records = hub.runner.run(lister(hub, store, flt).list_records(flt, sort=sort, limit=limit)).records
    hub.note_read(store, {record.user_id: len(records)}, "open")
    return records


def user_labels(hub: StoreHub, store: str) -> dict[str, str]:
    """The display labels operators gave this store's users (memdash's own, in the audit log)."""
    hub.require_read(store)
    return labels(hub.audit.entries(AuditQuery(store=store, operation="label")))


def every_user_label(hub: StoreHub) -> dict[tuple[str, str], str]:
    """The display labels of every store's users, by (store, user id), from one read of the audit log."""
    entries = list(hub.audit.entries(AuditQuery(operation="label")))
    return {(store, user): label for store in hub.store_names
            for user, label in labels(e for e in entries if e.store == store).items()}


def label_user(hub: StoreHub, actor: Actor, store: str, user_id: str, label: str) -> None:
    hub.writer(actor, store).note_label(user_id, label)


def allow(hub: StoreHub, actor: Actor, role: Role, store: str, action: str) -> None:
    """Refuse a task of several changes before it starts: the actor's role on ``store``, and an audit log that
    opens (each change is checked again by the writer)."""
    actor.require(role, store, action)
    _ = hub.audit


def add_memory(hub: StoreHub, actor: Actor, store: str, item: MemoryItem) -> str | None:
    """Add one memory; returns its id when the store keeps ids."""
    return hub.runner.run(hub.writer(actor, store).add([item]))[0]


def update_memory(hub: StoreHub, actor: Actor, store: str, memory_id: str, patch: MemoryPatch, *,
                  expected_version: int, batch: str | None = None) -> MemoryRecord:
    """Apply an edit made from ``expected_version``; ``VersionConflictError`` if someone changed it since.
    ``batch`` names its audit entry (to undo it as a unit)."""
    writer = hub.writer(actor, store)
    return hub.runner.run(writer.update(memory_id, patch, expected_version=expected_version, batch=batch))


def delete_memories(hub: StoreHub, actor: Actor, store: str, ids: Sequence[str], *, batch: str | None = None,
                    expected_versions: Mapping[str, int] | None = None) -> int:
    """Delete memories by id (atomic); returns how many existed. More than one id is a bulk delete (admin).
    ``expected_versions`` refuses the delete when a memory changed since the operator saw it."""
    writer = hub.writer(actor, store)
    return hub.runner.run(writer.delete(ids, batch=batch, expected_versions=expected_versions))


def delete_user_memories(hub: StoreHub, actor: Actor, store: str, user_id: str) -> None:
    """Remove every memory of one user: by id, each one audited, where the store can list and delete by id;
    else through the toolkit interface (``remove_items(user_id=)``), audited as one entry without states."""
    allow(hub, actor, Role.ADMIN, store, "delete all of a user's memories")
    if not user_id:
        raise InvalidInputError("a user id is needed")
    if hub.can(store, Capability.LIST) and hub.can(store, Capability.DELETE_BY_IDS):
        delete_matching(hub, actor, store, MemoryFilter(user_id=user_id))
        return
    hub.runner.run(hub.writer(actor, store).delete_user(user_id))


def retag_memories(hub: StoreHub, actor: Actor, store: str, ids: Sequence[str], *, add: Sequence[str] = (),
                   remove: Sequence[str] = (), progress: Callable[[int, int], None] | None = None,
                   batch: str | None = None) -> int:
    """Add and/or remove tags on many memories; returns how many changed. Each edit is version-checked."""
    writer, batch, changed = hub.writer(actor, store), batch or uuid.uuid4().hex, 0
    for start in range(0, len(ids), PROGRESS_STEP):
        changed += hub.runner.run(writer.retag(ids[start:start + PROGRESS_STEP], add=add, remove=remove, batch=batch))
        if progress:  # here, on the page's thread: Streamlit elements cannot be updated from the event loop
            progress(min(start + PROGRESS_STEP, len(ids)), len(ids))
    return changed


def retag_matching(hub: StoreHub, actor: Actor, store: str, flt: MemoryFilter, *, add: Sequence[str] = (),
                   remove: Sequence[str] = (), progress: Callable[[int, int], None] | None = None,
                   batch: str | None = None) -> int:
    """Retag every memory matching ``flt``, a chunk of ids at a time; ``progress(done, total)``."""
    allow(hub, actor, Role.EDITOR, store, "tag memories")
    batch, changed = batch or uuid.uuid4().hex, 0
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


def import_plan(hub: StoreHub, store: str, records: Sequence[MemoryRecord]) -> ImportPlan | None:
    """Which of ``records``' ids the store already holds (``None``: the store gives imports new ids)."""
    if not hub.can(store, Capability.IMPORT):
        return None
    return hub.runner.run(plan_import(hub.browser(store, Capability.GET), records))


def import_records(hub: StoreHub, actor: Actor, store: str, records: Sequence[MemoryRecord], *,
                   on_existing: OnExisting | None = None, batch_size: int = 500,
                   progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Write parsed records in atomic batches, keeping ids and timestamps where the store can; ids that exist
    already are skipped, overwritten or renamed as ``on_existing`` says (none: refused, nothing written)."""
    writer = hub.writer(actor, store)
    hub.runner.run(writer.check_import(records, on_existing))
    result, batch = ImportResult(lossless=writer.keeps_ids), uuid.uuid4().hex
    for start in range(0, len(records), batch_size):
        hub.runner.run(writer.import_batch(records[start:start + batch_size], on_existing=on_existing, batch=batch,
                                           result=result))
        if progress:  # on the page's thread, between batches
            progress(result.handled, len(records))
    return result
