"""``AgentMemoryServer``: the toolkit's MemoryEditor and memdash's MemoryBrowser over Redis Agent Memory
Server's REST API (``/v1/long-term-memory``).

The server indexes a new memory in a background task, so a write returns once the server can read the memory
back (read-your-writes for the operator). Browsing reads with ``recency_boost`` off, which leaves the memories'
``last_accessed`` and ``access_count`` alone: only the agent's own searches count as use. Listing is a search
without text, 100 memories per request, sorted and paged here (at most ``max_scan`` per call).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

from memory_core.errors import NotFoundError, UnsupportedError, VersionConflictError
from memory_core.http import JsonHttp
from memory_core.interfaces import Capability, MemoryBrowser, MemoryEditor
from memory_core.items import new_id, validate_items, validate_records
from memory_core.models import MemoryItem
from memory_core.paging import page_locally
from memory_core.providers.agent_memory import codec
from memory_core.providers.common import check_limit, is_hit, remove_target, search_args, with_score
from memory_core.records import (
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    RecordPage,
    ScoredRecord,
    Sort,
    UserPage,
)

PAGE = 100  # the server's largest search page
INDEX_WAIT_S = 10.0
SERVED = 10_000  # memories whose served updated_at the store remembers, for update conflicts

CAPABILITIES = frozenset({Capability.LIST, Capability.LIST_ALL_USERS, Capability.COUNT, Capability.GET,
                          Capability.UPDATE, Capability.DELETE_BY_IDS, Capability.SEARCH_RECORDS,
                          Capability.VECTOR_SEARCH, Capability.PING})


class AgentMemoryServer(MemoryEditor, MemoryBrowser):
    """Long-term memories of one Agent Memory Server, in the toolkit's default namespace for new ones."""

    def __init__(self, http: JsonHttp, *, namespace: str, max_scan: int = 10_000) -> None:
        self._http, self._namespace, self._max_scan = http, namespace, max_scan
        self._served: dict[str, str] = {}

    @property
    def capabilities(self) -> frozenset[Capability]:
        return CAPABILITIES

    async def ping(self) -> None:
        await self._http.call("ping", "GET", "/v1/health")

    # --- the toolkit's interface --------------------------------------------------------------------------
    async def add_items(self, items: list[MemoryItem], **kwargs: Any) -> None:
        """One long-term memory per item, readable when this returns. ``deduplicate=True`` lets the server merge
        it into a similar one (the toolkit's editor asks for that by default; its semantic merge needs the
        server's LLM), so memdash asks only when told to: an add adds."""
        items = validate_items(items)
        memories = [codec.new_memory(new_id(), item, self._namespace, f"item {i}")
                    for i, item in enumerate(items, 1)]
        await self._create(memories, deduplicate=bool(kwargs.get("deduplicate", False)))

    async def search(self, query: str, top_k: int = 5, **kwargs: Any) -> list[MemoryItem]:
        """The server's ranking (recency boost on, as the agent's searches run), items shaped as the toolkit's
        editor shapes them, scored as every memdash store scores (similarity, 1 = same; the toolkit's editor
        reports the server's distance instead)."""
        query, top_k, user_id, threshold = search_args(query, top_k, kwargs)
        rows = await self._search(query, user_id=user_id, limit=min(top_k, PAGE), offset=0, boost=True)
        items = [with_score(codec.agent_item(row, user_id), _similarity(row)) for row in rows]
        return [item for item in items if is_hit(item.similarity_score, threshold)]

    async def remove_items(self, **kwargs: Any) -> None:
        kind, target = remove_target(kwargs)
        ids = target if kind == "ids" else [r.id for r in await self._scan(str(target))]
        await self.delete_records(list(ids))

    # --- browsing ------------------------------------------------------------------------------------------
    async def search_records(self, query: str, *, user_id: str | None, top_k: int = 5,
                             filter: MemoryFilter | None = None) -> list[ScoredRecord]:
        check_limit(top_k)
        rows = await self._search(query, user_id=user_id, limit=min(top_k, PAGE), offset=0, boost=False)
        hits = [ScoredRecord(record=self._remember(codec.record(row)), score=_similarity(row),
                             parts={"vector": _similarity(row)}) for row in rows]
        return [hit for hit in hits if filter is None or filter.matches(hit.record)]

    async def list_users(self, *, prefix: str = "", limit: int = 50, cursor: str | None = None) -> UserPage:
        raise UnsupportedError("the agent memory server has no list of users: pick a user")

    async def list_records(self, filter: MemoryFilter, *, sort: Sort = Sort(), limit: int = 50,
                           cursor: str | None = None) -> RecordPage:
        check_limit(limit)
        records = [r for r in await self._scan(filter.user_id) if filter.matches(r)]
        return page_locally(records, sort, limit, cursor)

    async def count_records(self, filter: MemoryFilter) -> int:
        return sum(1 for r in await self._scan(filter.user_id) if filter.matches(r))

    async def get_record(self, record_id: str) -> MemoryRecord:
        row = await self._http.find("get", f"/v1/long-term-memory/{record_id}")
        if row is None:
            raise NotFoundError(f"no memory with id {record_id}")
        return self._remember(codec.record(row))

    async def update_record(self, record_id: str, patch: MemoryPatch, *, expected_version: int) -> MemoryRecord:
        """Compare-then-write: the memory's ``updated_at`` must be the one last served (the server keeps no
        version), then the PATCH."""
        body = codec.patch_body(patch, f"memory {record_id}")
        served = self._served.get(record_id)
        try:
            current = await self.get_record(record_id)
        except NotFoundError:
            raise VersionConflictError(record_id, expected_version, None) from None
        if expected_version != current.version or (served and served != current.updated_at.isoformat()):
            raise VersionConflictError(record_id, expected_version, current)
        if not body:
            return current
        await self._http.call("update", "PATCH", f"/v1/long-term-memory/{record_id}", json=body, write=True)
        return await self.get_record(record_id)  # as stored (the answer's times are finer than the stored ones)

    async def delete_records(self, record_ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(str(i) for i in record_ids))
        existing = [i for i in ids if await self._http.find("get", f"/v1/long-term-memory/{i}") is not None]
        for start in range(0, len(existing), PAGE):
            await self._http.call("delete", "DELETE", "/v1/long-term-memory",
                                  params={"memory_ids": existing[start:start + PAGE]}, write=True)
        for memory_id in existing:
            self._served.pop(memory_id, None)
        return len(existing)

    async def add_records(self, records: Sequence[MemoryRecord]) -> None:
        """Create memories under the records' ids with their creation times (the server sets ``updated_at``
        and keeps no version, so this is not a lossless import: ``Capability.IMPORT`` is not declared)."""
        latest = validate_records(records)
        memories = [{**codec.new_memory(r.id, r.item, self._namespace, f"record {i}"),
                     "created_at": r.created_at.isoformat()} for i, r in enumerate(latest, 1)]
        await self._create(memories, deduplicate=False)

    # --- helpers -------------------------------------------------------------------------------------------
    async def _create(self, memories: list[dict[str, Any]], *, deduplicate: bool) -> None:
        if not memories:
            return
        await self._http.call("add", "POST", "/v1/long-term-memory/", write=True,
                              json={"memories": memories, "deduplicate": deduplicate})
        if not deduplicate:  # a deduplicated memory may never appear under its own id
            await self._indexed([m["id"] for m in memories])

    async def _indexed(self, ids: list[str]) -> None:
        """Wait until the server's background indexing lets every id be read back."""
        deadline = time.monotonic() + INDEX_WAIT_S
        pending = list(ids)
        while pending and time.monotonic() < deadline:
            pending = [i for i in pending if await self._http.find("get", f"/v1/long-term-memory/{i}") is None]
            if pending:
                await asyncio.sleep(0.05)
        if pending:
            raise self._http.unavailable("add", f"{len(pending)} new memories were not readable after "
                                                f"{INDEX_WAIT_S:g} s (is its indexing failing?)")

    async def _search(self, text: str, *, user_id: str | None, limit: int, offset: int,
                      boost: bool) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"text": text, "limit": limit, "offset": offset}
        if user_id is not None:
            body["user_id"] = {"eq": user_id}
        if not boost:
            body["recency_boost"] = False  # browsing is not use: last_accessed and access_count stay
        answer = await self._http.call("search", "POST", "/v1/long-term-memory/search", json=body)
        rows = answer.get("memories") if isinstance(answer, dict) else None
        if not isinstance(rows, list):
            raise self._http.unavailable("search", "unexpected answer (no memories list)")
        # the server matches user ids as a case-insensitive tag: "Alice" would get alice's memories
        return [row for row in rows if isinstance(row, dict) and row.get("id")
                and (user_id is None or row.get("user_id") == user_id)]

    async def _scan(self, user_id: str | None) -> list[MemoryRecord]:
        """Every memory of a user (``None``: of everyone), 100 per request."""
        found: dict[str, MemoryRecord] = {}
        for offset in range(0, self._max_scan + PAGE, PAGE):
            rows = await self._search("", user_id=user_id, limit=PAGE, offset=offset, boost=False)
            for row in rows:
                found[str(row["id"])] = self._remember(codec.record(row))
            if len(found) > self._max_scan:
                raise UnsupportedError(f"{self._http.root}: more than {self._max_scan} memories to list; pick a "
                                       "user, or raise max_scan")
            if len(rows) < PAGE:
                break
        return list(found.values())

    def _remember(self, record: MemoryRecord) -> MemoryRecord:
        if len(self._served) >= SERVED:
            with contextlib.suppress(StopIteration):
                del self._served[next(iter(self._served))]
        self._served[record.id] = record.updated_at.isoformat()
        return record


def _similarity(row: dict[str, Any]) -> float:
    """The server's cosine distance (0 = same, 2 = opposite) as memdash's similarity (1 = same)."""
    dist = row.get("dist")
    return max(0.0, min(1.0, 1.0 - float(dist))) if isinstance(dist, int | float) else 0.0
