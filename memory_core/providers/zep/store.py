"""The ``zep_memory`` store: the toolkit's Zep editor semantics plus browsing, over Zep's v3 REST API.

Endpoints, under ``<host>/api/v2``: ``GET /users-ordered``, ``POST /users``, ``GET|DELETE /users/{id}``,
``GET /users/{id}/threads``, ``POST /threads``, ``DELETE /threads/{id}``, ``GET|POST /threads/{id}/messages``,
``POST /graph`` (text), ``POST /graph/search``, ``POST /graph/edge/user/{id}``, ``GET|DELETE /graph/edge/{uuid}``,
``POST /graph/episodes/user/{id}`` and ``GET /graph/episodes/{uuid}``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from memory_core.errors import NotFoundError, UnsupportedError
from memory_core.interfaces import Capability, MemoryBrowser, MemoryEditor
from memory_core.items import validate_items
from memory_core.models import MemoryItem
from memory_core.paging import page_locally
from memory_core.providers.common import check_limit, remove_target, search_args
from memory_core.providers.zep import codec, paging
from memory_core.providers.zep.http import NEXT_CURSOR, ZepHttp, seg
from memory_core.providers.zep.writes import Writer
from memory_core.records import (
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    RecordPage,
    ScoredRecord,
    Sort,
    UserPage,
    UserSummary,
    encode_cursor,
)

USERS_PAGE = 100  # pageSize of GET /users-ordered
EDGE_PAGE = 100  # limit of POST /graph/edge/user/{id}
EPISODE_PAGE = 50  # the most POST /graph/episodes/user/{id} returns at once
MAX_SEARCH = 50  # the largest limit of POST /graph/search
DEFAULT_THREAD = "default_zep_thread-{user_id}"
M = TypeVar("M", bound=BaseModel)
BROWSING = frozenset({Capability.PING, Capability.LIST_USERS, Capability.LIST, Capability.LIST_ALL_USERS,
                      Capability.COUNT, Capability.GET, Capability.DELETE_BY_IDS, Capability.TEXT_SEARCH,
                      Capability.VECTOR_SEARCH})


class ZepMemory(MemoryEditor, MemoryBrowser):
    """One Zep project, reached through :class:`ZepHttp`. A record is one fact (entity edge) of a user's graph."""

    def __init__(self, http: ZepHttp, *, search_mode: str = "facts", scope: str = "edges",
                 reranker: str = "cross_encoder", default_thread_id: str = DEFAULT_THREAD, max_concurrency: int = 8,
                 max_scan: int = 10_000) -> None:
        self._http = http
        self._writer = Writer(http)
        self._mode, self._scope, self._reranker = search_mode, scope, reranker
        self._default_thread = default_thread_id
        self._slots = asyncio.Semaphore(max_concurrency)
        self._max_scan = max_scan

    @property
    def capabilities(self) -> frozenset[Capability]:
        """Facts cannot be edited or imported (Zep derives them); search links to records only for facts."""
        records = {Capability.SEARCH_RECORDS} if (self._mode, self._scope) == ("facts", "edges") else set()
        return BROWSING | records

    async def ping(self) -> None:
        await self._http.call("ping", "GET", "users-ordered", params={"pageNumber": 1, "pageSize": 1})

    # --- toolkit interface -------------------------------------------------------------------------
    async def add_items(self, items: list[MemoryItem], **kwargs) -> None:
        """Conversations go to the item's thread (``metadata['thread_id']``, else ``thread_id=``, else the user's
        default thread), memory-only items to the user's graph as text; users and threads are created on demand."""
        valid = validate_items(items)
        ignore = codec.roles(kwargs.get("ignore_roles"))
        writes = [codec.plan(item, i, codec.thread_of(item, kwargs.get("thread_id"), self._default_thread))
                  for i, item in enumerate(valid)]
        by_user: dict[str, list[codec.Write]] = {}
        for write in writes:
            by_user.setdefault(write.user_id, []).append(write)
        calls = (self._writer.write_user(user, user_writes, ignore) for user, user_writes in by_user.items())
        results = paging.raise_first(await self._gather(calls))
        failures = [exc for _, exc in results if exc is not None]
        if failures:
            done = sum(count for count, _ in results)
            raise paging.partial(failures[0], done, len(writes), "items were written before the failure")

    async def search(self, query: str, top_k: int = 5, **kwargs) -> list[MemoryItem]:
        query, top_k, user_id, threshold = search_args(query, top_k, kwargs)
        hits = await self._hits(query, user_id, top_k, threshold)
        if self._mode == "aggregated":
            return self._aggregated(hits, user_id, kwargs.get("thread_id"))
        return [MemoryItem(user_id=user_id, memory=codec.hit_text(row, self._scope), similarity_score=score,
                           metadata=codec.hit_metadata(row, self._scope)) for row, score in hits]

    async def remove_items(self, **kwargs) -> None:
        """``memory_id``/``memory_ids`` delete facts; else ``thread_id`` deletes a thread (with the facts Zep
        derived from it); else ``user_id`` deletes the user with all their threads and graph."""
        has_ids = kwargs.get("memory_id") is not None or kwargs.get("memory_ids") is not None
        if not has_ids and kwargs.get("thread_id"):
            await self.delete_thread(str(kwargs["thread_id"]))
            return
        kind, target = remove_target(kwargs)
        if kind == "ids":
            await self.delete_records(target)
        else:
            await self.delete_user(str(target))

    # --- browsing ------------------------------------------------------------------------------------
    async def search_records(self, query: str, *, user_id: str | None, top_k: int = 5,
                             similarity_threshold: float | None = None) -> list[ScoredRecord]:
        if Capability.SEARCH_RECORDS not in self.capabilities:
            raise UnsupportedError(f"zep store: search_records needs search_mode 'facts' and scope 'edges' "
                                   f"(configured: {self._mode}, {self._scope})")
        query, top_k, user_id, threshold = search_args(query, top_k, {"user_id": user_id,
                                                                      "similarity_threshold": similarity_threshold})
        hits = await self._hits(query, user_id, top_k, threshold)
        return [ScoredRecord(record=self._fact(row, user_id, "search"), score=score,
                             parts={"zep": float(row.get("score") or 0.0)}) for row, score in hits]

    async def list_users(self, *, prefix: str = "", limit: int = 50, cursor: str | None = None) -> UserPage:
        check_limit(limit)
        after = paging.last_user(cursor)
        users = [u for u in await self._users(prefix) if after is None or u["user_id"] > after]
        page = users[:limit]
        summaries = paging.raise_first(await self._gather(self._summary(user) for user in page))
        return UserPage(users=summaries, next_cursor=encode_cursor(page[-1]["user_id"]) if len(users) > limit else None)

    async def list_records(self, filter: MemoryFilter, *, sort: Sort = Sort(), limit: int = 50,
                           cursor: str | None = None) -> RecordPage:
        check_limit(limit)
        return page_locally([r for r in await self._scan(filter.user_id) if filter.matches(r)], sort, limit, cursor)

    async def count_records(self, filter: MemoryFilter) -> int:
        return sum(1 for r in await self._scan(filter.user_id) if filter.matches(r))

    async def get_record(self, record_id: str) -> MemoryRecord:
        edge = await self._edge(record_id)
        if edge is None:
            raise NotFoundError(f"no memory with id {record_id}")
        owner = await self._owner(edge)
        if owner is None:
            raise UnsupportedError(f"zep store: fact {record_id} exists, but none of its episodes says whose graph "
                                   f"it is in; open it from its user's facts")
        return self._fact(edge, owner, "get")

    async def update_record(self, record_id: str, patch: MemoryPatch, *, expected_version: int) -> MemoryRecord:
        raise UnsupportedError("zep derives facts from messages and texts and has no versioned update; delete the "
                               "fact and add what is true instead")

    async def delete_records(self, record_ids: Sequence[str]) -> int:
        """Delete facts one by one (Zep has no batch delete); a failure says how many were deleted before it."""
        ids = list(dict.fromkeys(c for c in map(codec.edge_id, record_ids) if c))
        results = await self._gather(self._delete("delete_records", f"graph/edge/{seg(i)}") for i in ids)
        deleted = sum(r is True for r in results)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise paging.partial(failures[0], deleted, len(ids), "facts were deleted, the others were not")
        return deleted

    async def add_records(self, records: Sequence[MemoryRecord]) -> None:
        raise UnsupportedError("zep assigns its own ids and timestamps and derives facts itself, so records cannot "
                               "be imported losslessly; add them as items instead")

    # --- what Zep keeps besides facts (for the dashboard) ---------------------------------------------
    async def list_threads(self, user_id: str) -> list[codec.ZepThread]:
        """A user's threads, oldest first (none for an unknown user)."""
        try:
            rows = await self._http.call("list_threads", "GET", f"users/{seg(user_id)}/threads")
        except NotFoundError:
            return []
        threads = self._models(codec.ZepThread, rows or [], "list_threads")
        return sorted(threads, key=lambda t: t.created_at or dt.datetime.min.replace(tzinfo=dt.UTC))

    async def thread_messages(self, thread_id: str, *, limit: int = 50, cursor: str | None = None
                              ) -> codec.MessagePage:
        """One page of a thread's messages, oldest first; ``NotFoundError`` for an unknown thread."""
        check_limit(limit)
        page = paging.page_number(cursor)
        data = await self._http.call("thread_messages", "GET", f"threads/{seg(thread_id)}/messages",
                                     params={"limit": limit, "cursor": page})
        if not isinstance(data, dict):
            raise self._http.unavailable("thread_messages", "unexpected answer (not an object)")
        messages = self._models(codec.ZepMessage, data.get("messages") or [], "thread_messages")
        total = data.get("total_count")
        more = page * limit < total if isinstance(total, int) else len(messages) == limit
        return codec.MessagePage(thread_id=thread_id, user_id=data.get("user_id"), messages=messages,
                                 total_count=total, next_cursor=encode_cursor(page + 1) if more else None)

    async def list_episodes(self, user_id: str, *, limit: int = 50, cursor: str | None = None) -> codec.EpisodePage:
        """One page of the episodes (messages, texts) of a user's graph, newest first."""
        check_limit(limit)
        body = {"limit": min(limit, EPISODE_PAGE), "order_by": "created_at", "direction": "desc", "cursor": cursor}
        try:
            answer = await self._http.answer("list_episodes", "POST", f"graph/episodes/user/{seg(user_id)}",
                                             json={k: v for k, v in body.items() if v is not None})
        except NotFoundError:
            return codec.EpisodePage(episodes=[])
        episodes = self._models(codec.ZepEpisode, answer.data or [], "list_episodes")
        return codec.EpisodePage(episodes=episodes, next_cursor=answer.headers.get(NEXT_CURSOR) if episodes else None)

    async def delete_thread(self, thread_id: str) -> bool:
        """Delete a thread, its messages and what Zep derived from them; ``False`` when it did not exist."""
        return await self._delete("delete_thread", f"threads/{seg(thread_id)}")

    async def delete_user(self, user_id: str) -> bool:
        """Delete a user with all their threads and graph; ``False`` when the user did not exist."""
        return await self._delete("delete_user", f"users/{seg(user_id)}")

    # --- reading ------------------------------------------------------------------------------------
    async def _hits(self, query: str, user_id: str, top_k: int, threshold: float | None
                    ) -> list[tuple[dict[str, Any], float]]:
        """Graph search results with their similarity, best first (at most 50: Zep's limit)."""
        if not query.strip():
            return []  # Zep refuses a blank query
        body = {"user_id": user_id, "query": query, "limit": min(top_k, MAX_SEARCH), "scope": self._scope,
                "reranker": self._reranker}
        try:
            data = await self._http.call("search", "POST", "graph/search", json=body)
        except NotFoundError:
            return []  # no such user: nothing remembered
        rows = self._rows(data.get(self._scope) if isinstance(data, dict) else None, "search")
        scored = zip(rows, codec.similarities(rows, self._reranker), strict=True)
        hits = [(row, score) for row, score in scored if threshold is None or score >= threshold]
        return sorted(hits, key=lambda hit: hit[1], reverse=True)[:top_k]

    def _aggregated(self, hits: list[tuple[dict[str, Any], float]], user_id: str, thread_id: Any
                    ) -> list[MemoryItem]:
        """The toolkit's form: every result joined into one item (none when nothing was found)."""
        if not hits:
            return []
        thread = thread_id or self._default_thread.replace("{user_id}", user_id)
        metadata = {"source": "graph_search", "thread_id": thread, "uuids": [row.get("uuid") for row, _ in hits]}
        memory = "\n".join(codec.hit_text(row, self._scope) for row, _ in hits)
        return [MemoryItem(conversation=[], user_id=user_id, memory=memory, metadata=metadata,
                           similarity_score=hits[0][1])]

    async def _users(self, prefix: str) -> list[dict[str, Any]]:
        """Every user whose id starts with ``prefix``, sorted by id here (Zep's collation may differ)."""
        found: dict[str, dict[str, Any]] = {}
        seen = 0
        for number in itertools.count(1):
            params = {"pageNumber": number, "pageSize": USERS_PAGE, "search": prefix or None, "order_by": "user_id",
                      "asc": True}
            data = await self._http.call("list_users", "GET", "users-ordered", params=params)
            data = data if isinstance(data, dict) else {}
            rows = self._rows(data.get("users"), "list_users")
            seen += len(rows)
            found |= {str(r["user_id"]): r for r in rows if r.get("user_id") and str(r["user_id"]).startswith(prefix)}
            self._check_scan(len(found), "users")
            total = data.get("total_count")
            if not rows or (seen >= total if isinstance(total, int) else len(rows) < USERS_PAGE):
                break
        return [found[key] for key in sorted(found)]

    async def _summary(self, user: dict[str, Any]) -> UserSummary:
        records = await self._scan_user(user["user_id"])
        created = codec.when(user["created_at"]) if user.get("created_at") else None
        last = max((r.updated_at for r in records), default=created)
        return UserSummary(user_id=user["user_id"], memory_count=len(records), last_activity=last)

    async def _scan(self, user_id: str | None) -> list[MemoryRecord]:
        """Every fact of a user (``None``: of every user)."""
        if user_id is not None:
            return await self._scan_user(user_id)
        ids = [user["user_id"] for user in await self._users("")]
        scans = paging.raise_first(await self._gather(self._scan_user(i) for i in ids))
        records = [record for scan in scans for record in scan]
        self._check_scan(len(records), "facts")
        return records

    async def _scan_user(self, user_id: str) -> list[MemoryRecord]:
        """A user's facts, following Zep's cursor (or, from servers without one, the last uuid of a page)."""
        found: dict[str, MemoryRecord] = {}
        body: dict[str, Any] = {"limit": EDGE_PAGE}
        while True:
            try:
                answer = await self._http.answer("list", "POST", f"graph/edge/user/{seg(user_id)}", json=body)
            except NotFoundError:
                return list(found.values())  # no such user (or it went while we read)
            rows = self._rows(answer.data, "list")
            before = len(found)
            found |= {str(row.get("uuid")): self._fact(row, user_id, "list") for row in rows}
            self._check_scan(len(found), "facts")
            if len(found) == before:
                return list(found.values())
            if answer.headers.get(NEXT_CURSOR):
                body = {"limit": EDGE_PAGE, "cursor": answer.headers.get(NEXT_CURSOR)}
            elif len(rows) == EDGE_PAGE:
                body = {"limit": EDGE_PAGE, "uuid_cursor": rows[-1].get("uuid")}
            else:
                return list(found.values())

    async def _edge(self, record_id: str) -> dict[str, Any] | None:
        edge_id = codec.edge_id(record_id)
        if edge_id is None:
            return None
        return await self._http.find("get", f"graph/edge/{seg(edge_id)}")

    async def _owner(self, edge: dict[str, Any]) -> str | None:
        """Whose graph a fact is in: edges do not say, their episodes' threads (or memdash's text metadata) do."""
        for episode_id in list(edge.get("episodes") or [])[:3]:
            try:
                episode = await self._http.call("get", "GET", f"graph/episodes/{seg(episode_id)}")
            except NotFoundError:
                continue
            episode = episode if isinstance(episode, dict) else {}
            owner = (episode.get("metadata") or {}).get(codec.OWNER_KEY)
            if not owner and episode.get("thread_id"):
                owner = await self._writer.thread_owner(str(episode["thread_id"]), "get")
            if owner:
                return str(owner)
        return None

    async def _delete(self, operation: str, path: str) -> bool:
        """``True`` when the thing existed and is gone, ``False`` when Zep did not know it."""
        try:
            await self._http.call(operation, "DELETE", path)
        except NotFoundError:
            return False
        return True

    # --- helpers -------------------------------------------------------------------------------------
    async def _gather(self, calls: Iterable[Awaitable[Any]]) -> list[Any]:
        """Run the awaitables at most ``max_concurrency`` at a time; exceptions are returned, not raised."""
        async def bounded(call: Awaitable[Any]) -> Any:
            async with self._slots:
                return await call
        return await asyncio.gather(*(bounded(c) for c in calls), return_exceptions=True)

    def _check_scan(self, count: int, what: str) -> None:
        if count > self._max_scan:
            raise UnsupportedError(f"zep store at {self._http.api_root}: more than {self._max_scan} {what} to read; "
                                   f"pick a user, or raise max_scan")

    def _rows(self, rows: Any, operation: str) -> list[dict[str, Any]]:
        if rows is None:
            return []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise self._http.unavailable(operation, "unexpected answer (not a list of objects)")
        return rows

    def _fact(self, row: dict[str, Any], user_id: str, operation: str) -> MemoryRecord:
        try:
            return codec.fact_record(row, user_id)
        except (KeyError, TypeError, ValueError) as exc:
            raise self._http.unavailable(operation, f"unreadable fact {row.get('uuid')!r} "
                                                    f"({type(exc).__name__}: {str(exc)[:200]})") from None

    def _models(self, model: type[M], rows: Any, operation: str) -> list[M]:
        try:
            return [model.model_validate(row) for row in self._rows(rows, operation)]
        except ValidationError as exc:
            raise self._http.unavailable(operation, f"unexpected answer ({exc.error_count()} invalid fields)") from None
