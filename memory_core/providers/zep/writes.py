"""Writing items to Zep as the toolkit's editor does: the user and the thread are created on demand (an existing
one is fine), then messages go to the thread, at most 30 per call, and memory texts to the user's graph."""

from __future__ import annotations

from memory_core.errors import InvalidInputError, MemdashError, NotFoundError
from memory_core.providers.zep import codec
from memory_core.providers.zep.http import ConflictError, ZepHttp, seg


class Writer:
    """Writes one user's items in order through :class:`ZepHttp`."""

    def __init__(self, http: ZepHttp) -> None:
        self._http = http

    async def write_user(self, user_id: str, writes: list[codec.Write], ignore: list[str] | None
                         ) -> tuple[int, MemdashError | None]:
        """``(items written, the error that stopped the rest)``; nothing is retried past a failure."""
        done = 0
        threads: set[str] = set()
        try:
            await self._ensure_user(user_id)
            for write in writes:
                if write.text is not None:
                    await self._http.call("add_items", "POST", "graph", json=write.text_body(), write=True)
                else:
                    await self._add_messages(write, threads, ignore)
                done += 1
        except MemdashError as exc:
            return done, exc
        return done, None

    async def thread_owner(self, thread_id: str, operation: str) -> str | None:
        """The user of a thread, ``""`` when Zep does not say, ``None`` when the thread does not exist."""
        try:
            data = await self._http.call(operation, "GET", f"threads/{seg(thread_id)}/messages", params={"limit": 1})
        except NotFoundError:
            return None
        return str(data.get("user_id") or "") if isinstance(data, dict) else ""

    async def _add_messages(self, write: codec.Write, threads: set[str], ignore: list[str] | None) -> None:
        thread_id = str(write.thread_id)
        if thread_id not in threads:
            await self._ensure_thread(thread_id, write.user_id)
            threads.add(thread_id)
        extra = {"ignore_roles": ignore} if ignore else {}
        for start in range(0, len(write.messages), codec.MAX_MESSAGES):
            body = {"messages": write.messages[start:start + codec.MAX_MESSAGES], **extra}
            await self._http.call("add_items", "POST", f"threads/{seg(thread_id)}/messages", json=body, write=True)

    async def _ensure_user(self, user_id: str) -> None:
        path = f"users/{seg(user_id)}"
        try:
            await self._http.call("add_items", "GET", path)
            return
        except NotFoundError:
            pass
        try:
            await self._http.call("add_items", "POST", "users", json={"user_id": user_id})
        except InvalidInputError as refused:  # 400/409: created meanwhile by another writer, or really refused
            try:
                await self._http.call("add_items", "GET", path)
            except NotFoundError:
                raise refused from None

    async def _ensure_thread(self, thread_id: str, user_id: str) -> None:
        """Create the thread unless it exists (409 tolerated, as in the toolkit); refuse another user's thread,
        whose messages would land in that user's graph."""
        owner = await self.thread_owner(thread_id, "add_items")
        if owner is None:
            try:
                await self._http.call("add_items", "POST", "threads", json={"thread_id": thread_id,
                                                                            "user_id": user_id})
                return
            except ConflictError:
                owner = await self.thread_owner(thread_id, "add_items")
        if owner and owner != user_id:
            raise InvalidInputError(f"thread {thread_id!r} belongs to user {owner!r}, not {user_id!r}")
