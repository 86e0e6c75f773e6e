"""The ``mem0_memory`` store: the toolkit's mem0 editor semantics plus browsing, over Mem0's REST API.

Endpoints: ``POST /v3/memories/add/``, ``POST /v3/memories/search/``, ``POST /v3/memories/`` (list, numbered
pages), ``GET|PUT|DELETE /v1/memories/{id}/``, ``GET /v1/memories/{id}/history/``, ``DELETE /v1/memories/``
(by user), ``DELETE /v1/batch/``, ``GET /v1/entities/`` and ``GET /v1/ping/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from memory_core.errors import (
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
    UnsupportedError,
    VersionConflictError,
)
from memory_core.interfaces import BROWSE_ALL, Capability, MemoryBrowser, MemoryEditor
from memory_core.items import validate_items
from memory_core.life import ExpiresForAgent
from memory_core.models import MemoryItem
from memory_core.paging import page_locally
from memory_core.providers.common import RecordSearch, check_limit, kept, remove_target, search_args
from memory_core.providers.mem0 import codec
from memory_core.providers.mem0.http import Mem0Http
from memory_core.records import (
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    RecordPage,
    ScoredRecord,
    Sort,
    UserPage,
    UserSummary,
    decode_cursor,
    encode_cursor,
)

LIST_PAGE = 200  # the largest page_size of POST /v3/memories/
BATCH = 1000  # the most ids one DELETE /v1/batch/ takes
MAX_TOP_K = 1000  # the largest top_k of POST /v3/memories/search/
ALL_USERS = {"AND": [{"user_id": "*"}]}  # Mem0's documented "all users" filter
SERVED_MEMORY = 10_000  # memories whose served (version, updated_at) a store remembers


class HistoryEntry(BaseModel):
    """One change of a memory as Mem0 recorded it."""

    event: str  # ADD, UPDATE or DELETE
    old_memory: str | None = None
    new_memory: str | None = None
    at: dt.datetime
    input: list[dict[str, Any]] = []


def _canonical(record_id: str) -> str | None:
    """Mem0's form of a memory id (a dashed UUID), or ``None`` for a string that cannot be one."""
    try:
        return str(uuid.UUID(str(record_id)))
    except ValueError:
        return None


class Mem0Memory(RecordSearch, ExpiresForAgent, MemoryEditor, MemoryBrowser):
    """One Mem0 project, reached through :class:`Mem0Http`."""

    def __init__(self, http: Mem0Http, *, infer: bool = False, max_concurrency: int = 8,
                 max_scan: int = 10_000) -> None:
        self._http = http
        self._infer = infer
        self._slots = asyncio.Semaphore(max_concurrency)
        self._max_scan = max_scan
        # (version, updated_at) of each memory as last served: an update based on that version fails if
        # updated_at moved since, which catches edits made elsewhere that left memdash's version alone.
        self._served: OrderedDict[str, tuple[int, dt.datetime]] = OrderedDict()

    @property
    def capabilities(self) -> frozenset[Capability]:
        return BROWSE_ALL - {Capability.IMPORT}

    async def ping(self) -> None:
        await self._http.call("ping", "GET", "/v1/ping/")

    # --- toolkit interface -------------------------------------------------------------------------
    async def add_items(self, items: list[MemoryItem], **kwargs) -> None:
        valid = validate_items(items)
        for index, item in enumerate(valid):
            codec.check_item(item, f"item {index}")
        bodies = [codec.add_body(item, infer=self._infer) for item in valid]
        results = await self._gather(self._http.call("add", "POST", "/v3/memories/add/", json=body, write=True)
                                     for body in bodies)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            error = _partial(failures[0], len(bodies) - len(failures), len(bodies))
            raise error from (None if error is failures[0] else failures[0])

    async def remove_items(self, **kwargs) -> None:
        kind, target = remove_target(kwargs)
        if kind == "user":
            await self._http.call("remove_items", "DELETE", "/v1/memories/", params={"user_id": target})
            return
        ids = [c for c in map(_canonical, target) if c]
        _raise_first(await self._gather(self._delete_one(memory_id) for memory_id in ids))

    # --- browsing ------------------------------------------------------------------------------------
    async def search_records(self, query: str, *, user_id: str | None, top_k: int = 5,
                             similarity_threshold: float | None = None) -> list[ScoredRecord]:
        query, top_k, user_id, threshold = search_args(query, top_k, {"user_id": user_id,
                                                                      "similarity_threshold": similarity_threshold})
        if not query.strip():
            return []  # Mem0 refuses a blank query
        body: dict[str, Any] = {"query": query, "filters": {"user_id": user_id}, "top_k": min(top_k, MAX_TOP_K)}
        if threshold is not None:
            body["threshold"] = min(max(threshold, 0.0), 1.0)
        answer = await self._http.call("search", "POST", "/v3/memories/search/", json=body)
        hits = [self._hit(row, user_id) for row in self._rows(answer, "search")]
        hits = kept((h for h in hits if h.record.user_id == user_id), threshold)
        return sorted(hits, key=lambda h: h.score, reverse=True)[:top_k]

    async def list_users(self, *, prefix: str = "", limit: int = 50, cursor: str | None = None) -> UserPage:
        check_limit(limit)
        after = _user_after(cursor) if cursor else None
        names = sorted(n for n in await self._user_names() if n.startswith(prefix) and (after is None or n > after))
        users: list[UserSummary] = []
        for start in range(0, len(names), limit + 1):
            chunk = names[start:start + limit + 1]
            scans = _raise_first(await self._gather(self._scan(name) for name in chunk))
            users += [_summary(name, records) for name, records in zip(chunk, scans, strict=True) if records]
            if len(users) > limit:
                break
        page = users[:limit]
        return UserPage(users=page, next_cursor=encode_cursor(page[-1].user_id) if len(users) > limit else None)

    async def list_records(self, filter: MemoryFilter, *, sort: Sort = Sort(), limit: int = 50,
                           cursor: str | None = None) -> RecordPage:
        check_limit(limit)
        records = [r for r in await self._scan(filter.user_id) if filter.matches(r)]
        return page_locally(records, sort, limit, cursor)

    async def count_records(self, filter: MemoryFilter) -> int:
        if filter == MemoryFilter(user_id=filter.user_id):
            answer = await self._http.call("count", "POST", "/v3/memories/", json=_listing(filter.user_id),
                                           params={"page": 1, "page_size": 1})
            return self._count(answer)
        return sum(1 for r in await self._scan(filter.user_id) if filter.matches(r))

    async def get_record(self, record_id: str) -> MemoryRecord:
        row = await self._row(record_id)
        if row is None:
            raise NotFoundError(f"no memory with id {record_id}")
        return self._record(row, None, "get")

    async def update_record(self, record_id: str, patch: MemoryPatch, *, expected_version: int) -> MemoryRecord:
        """Compare-then-write: a fresh GET, the version and ``updated_at`` checks, then the PUT. Mem0 has no
        conditional update, so a write landing between this GET and PUT (one round trip) is overwritten."""
        served = self._served.get(_canonical(record_id) or "")
        row = await self._row(record_id)
        current = self._record(row, None, "update") if row else None
        changed_elsewhere = (served is not None and current is not None and served[0] == expected_version
                             and served[1] != current.updated_at)
        if current is None or current.version != expected_version or changed_elsewhere:
            raise VersionConflictError(record_id, expected_version, current)
        item = validate_items([patch.apply(current.item)])[0]
        codec.check_item(item, "update")
        body = codec.update_body(row, item, current.version + 1)
        try:
            answer = await self._http.call("update", "PUT", f"/v1/memories/{current.id}/", json=body)
        except NotFoundError:
            raise VersionConflictError(record_id, expected_version, None) from None
        if isinstance(answer, dict) and {"id", "memory", "created_at", "metadata"} <= answer.keys():
            return self._record(answer, current.user_id, "update")
        return await self.get_record(current.id)

    async def delete_records(self, record_ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(c for c in map(_canonical, record_ids) if c))
        found = _raise_first(await self._gather(self._row(memory_id) for memory_id in ids))
        doomed = [memory_id for memory_id, row in zip(ids, found, strict=True) if row is not None]
        for start in range(0, len(doomed), BATCH):
            batch = [{"memory_id": memory_id} for memory_id in doomed[start:start + BATCH]]
            await self._http.call("delete_records", "DELETE", "/v1/batch/", json={"memories": batch})
        return len(doomed)

    async def add_records(self, records: Sequence[MemoryRecord]) -> None:
        raise UnsupportedError("mem0 assigns its own ids and timestamps, so records cannot be imported "
                               "losslessly; add them as items instead")

    async def memory_history(self, record_id: str) -> list[HistoryEntry]:
        """Every change Mem0 recorded for a memory, oldest first (for the dashboard)."""
        memory_id = _canonical(record_id)
        if memory_id is None:
            raise NotFoundError(f"no memory with id {record_id}")
        try:
            rows = await self._http.call("history", "GET", f"/v1/memories/{memory_id}/history/")
        except NotFoundError:
            raise NotFoundError(f"no memory with id {record_id}") from None
        try:
            entries = [HistoryEntry(event=row["event"], old_memory=row.get("old_memory"),
                                    new_memory=row.get("new_memory"), at=row["created_at"],
                                    input=row.get("input") or []) for row in rows]
        except (KeyError, TypeError, ValidationError) as exc:
            raise self._http.unavailable("history", f"unexpected answer ({type(exc).__name__})") from None
        return sorted(entries, key=lambda e: e.at)

    # --- helpers -------------------------------------------------------------------------------------
    async def _gather(self, calls: Any) -> list[Any]:
        """Run the awaitables at most ``max_concurrency`` at a time; exceptions are returned, not raised."""
        async def bounded(call: Awaitable[Any]) -> Any:
            async with self._slots:
                return await call
        return await asyncio.gather(*(bounded(c) for c in calls), return_exceptions=True)

    async def _row(self, record_id: str) -> dict[str, Any] | None:
        """The memory as Mem0 returns it, or ``None`` when it does not exist."""
        memory_id = _canonical(record_id)
        if memory_id is None:
            return None
        return await self._http.find("get", f"/v1/memories/{memory_id}/")

    async def _delete_one(self, memory_id: str) -> None:
        with contextlib.suppress(NotFoundError):  # already gone: what was asked for
            await self._http.call("remove_items", "DELETE", f"/v1/memories/{memory_id}/")

    async def _scan(self, user_id: str | None) -> list[MemoryRecord]:
        """Every memory of a user (``None``: of every user), following Mem0's numbered pages."""
        found: dict[str, MemoryRecord] = {}
        for page in itertools.count(1):
            try:
                answer = await self._http.call("list", "POST", "/v3/memories/", json=_listing(user_id),
                                               params={"page": page, "page_size": LIST_PAGE})
            except NotFoundError:
                if page == 1:
                    raise self._http.unavailable("list", "the listing endpoint answered 404") from None
                break  # the last page emptied while we read (memories were deleted)
            for row in self._rows(answer, "list"):
                found[str(row.get("id"))] = self._record(row, user_id, "list")
            if len(found) > self._max_scan:
                raise UnsupportedError(f"mem0 store at {self._http.host}: more than {self._max_scan} memories to "
                                       f"list; pick a user, or raise max_scan")
            if not isinstance(answer, dict) or not answer.get("next"):
                break
        return list(found.values())

    async def _user_names(self) -> set[str]:
        """Every user entity's name, page after page of ``GET /v1/entities/``. Only the query of a ``next``
        link is used: the key never goes to whatever host a link names."""
        names: set[str] = set()
        params: dict[str, str] | None = None
        seen: set[str] = set()
        while True:
            answer = await self._http.call("list_users", "GET", "/v1/entities/", params=params)
            names |= {str(r["name"]) for r in self._rows(answer, "list_users") if r.get("type") == "user"
                      and r.get("name")}
            link = answer.get("next") if isinstance(answer, dict) else None
            if not link or link in seen:
                return names
            seen.add(link)
            params = dict(httpx.URL(link).params)

    def _rows(self, answer: Any, operation: str) -> list[dict[str, Any]]:
        rows = answer.get("results") if isinstance(answer, dict) else answer
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise self._http.unavailable(operation, "unexpected answer (no list of results)")
        return rows

    def _count(self, answer: Any) -> int:
        try:
            return int(answer["count"])
        except (KeyError, TypeError, ValueError):
            raise self._http.unavailable("count", "unexpected answer (no count)") from None

    def _record(self, row: dict[str, Any], user_id: str | None, operation: str) -> MemoryRecord:
        """The record of a Mem0 memory, remembered as served (version, updated_at) for :meth:`update_record`."""
        try:
            record = codec.record(row, user_id)
        except (KeyError, TypeError, ValueError) as exc:
            raise self._http.unavailable(operation, f"unreadable memory {row.get('id')!r} "
                                                    f"({type(exc).__name__}: {str(exc)[:200]})") from None
        self._served[record.id] = (record.version, record.updated_at)
        self._served.move_to_end(record.id)
        if len(self._served) > SERVED_MEMORY:
            self._served.popitem(last=False)
        return record

    def _hit(self, row: dict[str, Any], user_id: str) -> ScoredRecord:
        score, parts = codec.score_of(row)
        return ScoredRecord(record=self._record(row, user_id, "search"), score=score, parts=parts)


def _scope(user_id: str | None) -> dict[str, Any]:
    return {"user_id": user_id} if user_id is not None else ALL_USERS


def _listing(user_id: str | None) -> dict[str, Any]:
    """A listing's body: expired memories too (Mem0 hides them by default), so operators see them and the sweep
    (``memdash expire``) moves them to the trash."""
    return {"filters": _scope(user_id), "show_expired": True}


def _user_after(cursor: str) -> str:
    """The last user id of the previous page, from a ``list_users`` cursor."""
    values = decode_cursor(cursor)
    if len(values) != 1 or not isinstance(values[0], str):
        raise InvalidInputError(f"invalid page cursor {cursor!r}")
    return values[0]


def _summary(user_id: str, records: list[MemoryRecord]) -> UserSummary:
    return UserSummary(user_id=user_id, memory_count=len(records), last_activity=max(r.updated_at for r in records))


def _raise_first(results: list[Any]) -> list[Any]:
    """``results`` of :meth:`Mem0Memory._gather`, or the first exception among them, raised."""
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _partial(exc: BaseException, written: int, total: int) -> BaseException:
    """The error of a failed add, saying how much of the batch Mem0 did store."""
    if total == 1 or not isinstance(exc, InvalidInputError | StoreUnavailableError):
        return exc
    return type(exc)(f"{exc} ({written} of {total} items were written before the failure)")
