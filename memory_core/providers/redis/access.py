"""Reading and writing the documents of one key prefix through memdash's index."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any

from memory_core.errors import StoreUnavailableError
from memory_core.providers.redis import documents, query
from memory_core.providers.redis.connection import Link
from memory_core.providers.redis.schema import KeySpace
from memory_core.providers.redis.scripts import Scripts
from memory_core.records import MemoryRecord, Sort, to_micros, utcnow

CHUNK = 500  # keys per MGET / DEL / stamp call
_ID_ATTEMPTS = 8
_FIRST_WIDTH = 1_000_000  # µs: the first window of sort values a page is looked for in
_WIDEST = 2**56  # beyond this the window is unbounded


class Documents:
    """The documents under ``{prefix}:memory:``; invalid ones met while reading are kept in ``invalid_seen``."""

    def __init__(self, link: Link, space: KeySpace) -> None:
        self.link = link
        self.space = space
        self.scripts = Scripts(link, space)
        self.invalid_seen: dict[str, str] = {}

    # --- reads -----------------------------------------------------------------------------------------
    async def load(self, keys: Sequence[str]) -> dict[str, MemoryRecord]:
        """The valid records among ``keys`` (missing keys left out), adopting toolkit-written ones first."""
        raw = await self._mget(keys)
        strangers = [key for key, doc in raw.items() if documents.is_stranger(doc)]
        if strangers:
            await self.adopt(strangers)
            raw.update(await self._mget(strangers))
        found = {}
        for key, doc in raw.items():
            try:
                found[key] = documents.decode(self.space.id_of(key) or key, doc)
            except documents.InvalidDocument as exc:
                self.invalid_seen[key] = str(exc)
        return found

    async def raw(self, key: str) -> Any:
        """The whole document (embedding included), ``None`` when the key is missing."""
        return documents.loads(await self.link.execute("JSON.GET", key, "$"))

    async def _mget(self, keys: Sequence[str]) -> dict[str, Any]:
        """The documents' fields without their embeddings (the bulk of a document), in one round trip per
        :data:`CHUNK` keys; keys that are missing or not JSON are left out."""
        found: dict[str, Any] = {}
        for start in range(0, len(keys), CHUNK):
            chunk = list(keys[start:start + CHUNK])

            async def pipelined(client: Any, chunk: list[str] = chunk) -> list[Any]:
                pipe = client.pipeline(transaction=False)
                for key in chunk:
                    pipe.execute_command("JSON.GET", key, *documents.READ_PATHS)
                return await pipe.execute(raise_on_error=False)

            replies = await self.link.run(pipelined)
            found.update((key, documents.from_paths(reply)) for key, reply in zip(chunk, replies, strict=True)
                         if isinstance(reply, str))
        return found

    async def types(self, keys: Sequence[str]) -> list[str]:
        """``TYPE`` of each key, in one round trip."""
        async def pipelined(client: Any) -> list[str]:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.type(key)
            return await pipe.execute()
        return await self.link.run(pipelined)

    async def rows(self, query: str, *fields: str) -> AsyncIterator[dict[str, str]]:
        """Every row of ``query`` on memdash's index with the fields loaded, read through a cursor."""
        index = self.space.browse_index
        reply = await self.link.query("FT.AGGREGATE", index, query, "LOAD", len(fields), *fields,
                                      "WITHCURSOR", "COUNT", 1000)
        while True:
            body, cursor = reply
            for row in body.get("results", []):
                yield row.get("extra_attributes", {})
            if not cursor:
                return
            reply = await self.link.execute("FT.CURSOR", "READ", index, cursor)

    async def page_rows(self, base: str, sort: Sort, after: tuple[int, int] | None,
                        count: int) -> tuple[list[tuple[str, int, int]], bool]:
        """The next ``count`` rows of ``base`` after the keyset cursor ``after``, as ``(key, sort value, seq)``,
        and whether no row follows them.

        RediSearch sorts every match of a query, so the rows are first narrowed to a window of sort values
        next to the cursor (or to the first or last value) that holds at least ``count`` of them: its width
        starts at one second and grows 16-fold per (cheap) count; only the window is sorted."""
        anchor = after[0] if after else await self._extreme(base, sort)
        if anchor is None:
            return [], True
        width: int | None = _FIRST_WIDTH
        while True:
            window = query.join(base, query.window(sort, anchor, after, width))
            matches = await self.total(window)
            if matches >= count or width is None:
                break
            width = width * 16 if width < _WIDEST else None
        rows = await self._sorted_rows(window, sort, count)
        return rows, width is None and matches <= count

    async def _extreme(self, base: str, sort: Sort) -> int | None:
        """The first sort value of ``base`` in the sort's order (its maximum when descending)."""
        reducer = "MAX" if sort.descending else "MIN"
        reply = await self.link.query("FT.AGGREGATE", self.space.browse_index, base, "GROUPBY", 0, "REDUCE",
                                      reducer, 1, f"@{sort.field.value}", "AS", "edge")
        results = reply.get("results", [])
        edge = results[0].get("extra_attributes", {}).get("edge") if results else None
        return int(float(edge)) if edge not in (None, "", "nan", "-inf", "inf") else None

    async def _sorted_rows(self, where: str, sort: Sort, limit: int) -> list[tuple[str, int, int]]:
        """``(key, sort value, seq)`` of the first ``limit`` rows of ``where`` in the sort's order."""
        field, order = sort.field.value, "DESC" if sort.descending else "ASC"
        reply = await self.link.query("FT.AGGREGATE", self.space.browse_index, where, "SORTBY", 4, f"@{field}",
                                      order, "@seq", order, "MAX", limit, "LOAD", 1, "@__key")
        rows = []
        for result in reply.get("results", []):
            row = result.get("extra_attributes", {})
            if row.get(field) is not None and row.get("seq") is not None:
                rows.append((row["__key"], int(float(row[field])), int(float(row["seq"]))))
        return rows

    async def total(self, query: str) -> int:
        reply = await self.link.query("FT.SEARCH", self.space.browse_index, query, "NOCONTENT", "LIMIT", 0, 0)
        return int(reply["total_results"])

    # --- writes ----------------------------------------------------------------------------------------
    async def insert_new(self, docs: Sequence[str], users: Sequence[str], created_us: int) -> None:
        """Store new documents (of ``users``) under fresh ``{prefix}:memory:<8 hex>`` keys, as the toolkit names
        them, but never over an existing key: taken ids are drawn again and the batch is written whole or not
        at all."""
        ids = [secrets.token_hex(4) for _ in docs]
        for _ in range(_ID_ATTEMPTS):
            taken = await self.scripts.insert([self.space.key(i) for i in ids], docs, users, replace=False,
                                              created_us=created_us)
            if not taken:
                return
            for position in taken:
                ids[position - 1] = secrets.token_hex(4)
        raise StoreUnavailableError(f"no free memory id under {self.space.doc_prefix} after {_ID_ATTEMPTS} draws")

    async def replace(self, keys: Sequence[str], docs: Sequence[str], users: Sequence[str]) -> None:
        """Write documents (of ``users``) under these keys, replacing what is there, in one atomic call."""
        await self.scripts.insert(keys, docs, users, replace=True, created_us=0)

    async def delete(self, keys: Sequence[str]) -> int:
        """Delete documents, their retrieval counts and their users' counts in one script; returns how many
        existed."""
        if not keys:
            return 0
        return await self.scripts.delete(keys, [self.space.id_of(key) or key for key in keys])

    async def adopt(self, keys: Sequence[str] | None = None) -> None:
        """Give toolkit-written documents memdash's fields (timestamps = now, version 1, a seq); with no keys,
        every such document of the prefix."""
        if keys is None:
            keys = [row["__key"] async for row in self.rows("ismissing(@seq)", "@__key")]
        now = to_micros(utcnow())
        for start in range(0, len(keys), CHUNK):
            await self.scripts.stamp(keys[start:start + CHUNK], now)

    async def measure(self) -> None:
        """Give documents written before memdash stored sizes their ``size`` (the statistics sort by it)."""
        keys = [row["__key"] async for row in self.rows("ismissing(@size)", "@__key")]
        for start in range(0, len(keys), CHUNK):
            await self.scripts.measure(keys[start:start + CHUNK])

    async def scan(self) -> AsyncIterator[list[str]]:
        """Every key under the memory prefix, in ``SCAN`` batches (not through an index)."""
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in self.space.doc_prefix) + "*"
        cursor = 0
        while True:
            cursor, keys = await self.link.execute("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            if keys:
                yield keys
            if int(cursor) == 0:
                return
