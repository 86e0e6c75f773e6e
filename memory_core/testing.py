"""One conformance suite for every memdash store: ours, and any plugin author's.

Subclass :class:`MemoryStoreConformance` in a test module and give it an ``editor`` fixture that yields
the store under test; pytest then runs every check below against it::

    import pytest_asyncio
    from memory_core.builder import MemoryBuilder
    from memory_core.config import parse_config
    from memory_core.testing import MemoryStoreConformance

    class TestMyStore(MemoryStoreConformance):
        @pytest_asyncio.fixture
        async def editor(self, tmp_path):
            config = parse_config(f"memory:\n  m:\n    _type: my_store\n    path: {tmp_path}/m.db\n")
            async with MemoryBuilder(config) as builder:
                yield await builder.get_memory_client("m")

That is all: no pytest configuration is needed. The tests carry ``pytest.mark.asyncio`` themselves, so
they run with pytest-asyncio in ``strict`` mode (its default) and in ``auto`` mode; with
``asyncio_mode = "auto"`` a plain ``@pytest.fixture`` works for ``editor`` too. Keep the fixture
function-scoped (the default): each test runs in its own event loop. The class name does not start
with ``Test``, so pytest collects the suite only through your subclass.

Sections:

* **Toolkit semantics** (``test_toolkit_*``) run on every store: add/search/remove exactly as agents
  use them, with memdash's conventions (``search`` needs ``user_id`` and sets ``similarity_score``,
  higher = more similar; ``remove_items`` takes ``memory_id`` first, then ``user_id``; a batch with
  one bad item writes nothing).
* **Browsing** (``test_browse_*``) checks the optional :class:`~memory_core.interfaces.MemoryBrowser`
  methods. Each test needs some :class:`~memory_core.interfaces.Capability` (:func:`needs`). A subclass that
  states its store's ``capabilities`` gets only the tests the store can run, plus one checking the store
  declares exactly that; without it, a test whose capability the store lacks is skipped with "store does not
  declare <capability>".
  ``add_records`` (lossless import) needs ``import`` (and ``get`` to check what was written).
* **The agent's use** (``test_use_*``): what the agent's own ``search`` returns decides the retrieval counts
  (``retrievals``) and what ``browse_by_use`` lists and sorts by; a store without ``browse_by_use`` refuses that
  filter and sort rather than ignoring them; paused memories (``pause``) and expired ones (``expire``) are never
  returned to the agent, and ``top_k`` still holds.

Every test writes under fresh user ids (``<user_prefix>-<random>-<name>``) and removes those users'
memories afterwards, so the suite can run against a shared or remote store. Overridable hooks:
:attr:`MemoryStoreConformance.user_prefix` and :meth:`MemoryStoreConformance.settle` (wait until
writes are visible, for eventually consistent hosted stores).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, ClassVar

import pytest
import pytest_asyncio

from memory_core import life
from memory_core.errors import InvalidInputError, NotFoundError, UnsupportedError, VersionConflictError
from memory_core.interfaces import Capability, MemoryEditor, capabilities_of
from memory_core.models import MemoryItem
from memory_core.reach import AgentReach
from memory_core.records import (
    TIME_FIELDS,
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    ScoredRecord,
    Sort,
    SortField,
)
from memory_core.usage import not_counted

__all__ = ["MemoryStoreConformance", "Users"]

# Scores are "in [0, 1]-ish": allow float noise at the edges.
_SCORE_SLACK = 1e-6


class Users:
    """Makes unique user ids for one test and remembers them for cleanup."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.created: list[str] = []

    def __call__(self, name: str) -> str:
        user_id = f"{self.prefix}{name}"
        if user_id not in self.created:
            self.created.append(user_id)
        return user_id


Test = Callable[..., Awaitable[None]]
_IDS = frozenset({Capability.LIST, Capability.SEARCH_RECORDS})  # either tells the suite a memory's id


def needs(*capabilities: Capability, ids: bool = False) -> Callable[[Test], Test]:
    """Mark a suite test as needing ``capabilities`` (``ids``: a way to learn memory ids, ``list`` or
    ``search_records``). A subclass that declares :attr:`MemoryStoreConformance.capabilities` does not get the
    tests its store cannot run; in one that does not, they are skipped when the store lacks them."""
    def mark(test: Test) -> Test:
        @functools.wraps(test)
        async def run(self: Any, *args: Any, **kwargs: Any) -> None:
            _require(kwargs["editor"], *capabilities)
            if ids:
                _require_ids(kwargs["editor"])
            await test(self, *args, **kwargs)

        run.needs = (frozenset(capabilities), ids)  # type: ignore[attr-defined]
        return run
    return mark


def _runs_on(test: object, declared: frozenset[Capability]) -> bool:
    """Whether a store declaring ``declared`` can run ``test`` (see :func:`needs`)."""
    needed, ids = getattr(test, "needs", (frozenset(), False))
    return needed <= declared and (not ids or bool(declared & _IDS))


def _require(editor: MemoryEditor, *needed: Capability) -> None:
    """Skip the calling test unless the store declares every capability in ``needed``."""
    declared = capabilities_of(editor)
    assert isinstance(declared, frozenset) and all(isinstance(c, Capability) for c in declared), (
        f"capabilities must be a frozenset of Capability, got {declared!r}"
    )
    missing = [c.value for c in needed if c not in declared]
    if missing:
        pytest.skip(f"store does not declare {', '.join(missing)}")


def _require_ids(editor: MemoryEditor) -> None:
    """Skip unless the store can tell us memory ids (by listing or by searching records)."""
    declared = capabilities_of(editor)
    if Capability.LIST not in declared and Capability.SEARCH_RECORDS not in declared:
        pytest.skip("store does not declare list or search_records (needed to learn a memory id)")


def _memories(items: Iterable[MemoryItem]) -> list[str | None]:
    return [item.memory for item in items]


def _one(items: list[MemoryItem], memory: str) -> MemoryItem:
    """The single result whose memory text is ``memory``."""
    found = [item for item in items if item.memory == memory]
    assert len(found) == 1, f"expected one result with memory {memory[:60]!r}, got {len(found)} in {len(items)}"
    return found[0]


async def _list_all(editor: Any, flt: MemoryFilter, sort: Sort = Sort(), limit: int = 50) -> list[MemoryRecord]:
    """Every record matching ``flt``, following cursors to the last page."""
    records: list[MemoryRecord] = []
    cursor = None
    for _ in range(200):
        page = await editor.list_records(flt, sort=sort, limit=limit, cursor=cursor)
        assert len(page.records) <= limit, f"list_records returned {len(page.records)} rows for limit={limit}"
        records.extend(page.records)
        cursor = page.next_cursor
        if cursor is None:
            return records
    raise AssertionError("list_records never returned a last page (next_cursor stayed set)")


def _record(user_id: str, memory: str | None, *, created: dt.datetime, updated: dt.datetime | None = None,
            version: int = 1, **fields: Any) -> MemoryRecord:
    """A record as an export would carry it, with a fresh id."""
    item = MemoryItem(user_id=user_id, memory=memory, **fields)
    return MemoryRecord(id=uuid.uuid4().hex, item=item, created_at=created, updated_at=updated or created,
                        version=version)


class MemoryStoreConformance:
    """Subclass as ``TestXxx`` and provide an ``editor`` fixture yielding the store under test."""

    pytestmark = pytest.mark.asyncio

    #: Start of every user id the suite writes; a random part per test keeps runs apart.
    user_prefix: str = "conformance"
    #: Tests of the suite that do not apply to this store, each with the reason (naming the store's own test that
    #: checks what it does instead). They are not generated for the store at all, rather than skipped.
    not_applicable: ClassVar[dict[str, str]] = {}
    #: Whether a word inside a text finds it whatever its script: an emoji, Chinese or Japanese written without
    #: spaces, and the composed and decomposed forms of an accented letter (memdash's own stores analyse text
    #: with ``memory_core.items.tokens``; a hosted service analyses it its own way).
    finds_words_in_every_script: bool = True
    #: What the store declares (``capabilities_of``), stated by the test module: the suite then generates only the
    #: tests the store can run, and checks the store declares exactly this. ``None``: every test is generated and
    #: those needing what the store lacks are skipped when they run.
    capabilities: ClassVar[frozenset[Capability] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls.not_applicable:
            if not name.startswith("test_") or not callable(getattr(MemoryStoreConformance, name, None)):
                raise TypeError(f"{cls.__name__}.not_applicable names {name!r}, which is no test of the suite")
            setattr(cls, name, None)  # pytest collects only callables: the test does not exist for this store
        suite = [name for name in vars(MemoryStoreConformance) if name.startswith("test_")]
        if cls.capabilities is None:
            cls.test_capabilities_are_the_declared_ones = None  # type: ignore[assignment]
        else:
            for name in suite:
                if not _runs_on(getattr(MemoryStoreConformance, name), cls.capabilities):
                    setattr(cls, name, None)
        if not cls.finds_words_in_every_script:  # this store analyses text its own way
            cls.test_toolkit_search_finds_a_word_in_any_script = None  # type: ignore[assignment]

    async def test_capabilities_are_the_declared_ones(self, editor: MemoryEditor) -> None:
        assert capabilities_of(editor) == self.capabilities, (
            f"the store declares {sorted(c.value for c in capabilities_of(editor))}, the test module says "
            f"{sorted(c.value for c in self.capabilities or ())}")

    async def settle(self) -> None:
        """Called after each write, before reading it back. Override for eventually consistent stores."""

    @pytest.fixture
    def editor(self) -> MemoryEditor:
        pytest.fail("define an `editor` fixture that yields the store under test (see memory_core.testing)")

    @pytest_asyncio.fixture
    async def users(self, editor: MemoryEditor) -> AsyncIterator[Users]:
        """Unique user ids for this test; their memories are removed afterwards."""
        made = Users(f"{self.user_prefix}-{uuid.uuid4().hex[:10]}-")
        yield made
        for user_id in made.created:
            await editor.remove_items(user_id=user_id)

    async def _add(self, editor: MemoryEditor, items: list[MemoryItem]) -> None:
        assert await editor.add_items(items) is None
        await self.settle()

    async def _search(self, editor: MemoryEditor, query: str, user_id: str, top_k: int = 10,
                      **kwargs: Any) -> list[MemoryItem]:
        results = await editor.search(query, top_k=top_k, user_id=user_id, **kwargs)
        assert isinstance(results, list), f"search must return a list, got {type(results).__name__}"
        for item in results:
            assert isinstance(item, MemoryItem), f"search returned a {type(item).__name__}, not a MemoryItem"
            assert item.similarity_score is None or item.similarity_score > 0, (
                f"a hit scoring {item.similarity_score} shares nothing with {query!r}: no store returns it")
        return results

    async def _records(self, editor: Any, user_id: str, query: str) -> dict[str | None, MemoryRecord]:
        """A user's records by memory text, through listing or, failing that, ``search_records(query)``."""
        if Capability.LIST in capabilities_of(editor):
            records = await _list_all(editor, MemoryFilter(user_id=user_id))
        else:
            records = [hit.record for hit in await editor.search_records(query, user_id=user_id, top_k=50)]
        return {record.item.memory: record for record in records}

    # --- toolkit semantics ----------------------------------------------------------------------------
    async def test_toolkit_add_then_search_finds_it(self, editor: MemoryEditor, users: Users) -> None:
        alice = users("alice")
        item = MemoryItem(user_id=alice, memory="Alice's favourite colour is teal", tags=["prefs"],
                          metadata={"source": "chat"})
        await self._add(editor, [item])
        results = await self._search(editor, "favourite colour teal", alice, top_k=5)
        found = _one(results, item.memory)
        assert (found.user_id, found.tags, found.metadata) == (alice, ["prefs"], {"source": "chat"})
        assert found.similarity_score is not None
        # what the toolkit's get_memory tool does with the results
        assert json.loads(json.dumps([r.model_dump(mode="json") for r in results]))[0]["user_id"] == alice

    async def test_toolkit_users_are_isolated(self, editor: MemoryEditor, users: Users) -> None:
        alice, bob = users("alice"), users("bob")
        same = "The door code is 4512"
        await self._add(editor, [
            MemoryItem(user_id=alice, memory=same, metadata={"owner": "alice"}),
            MemoryItem(user_id=bob, memory=same, metadata={"owner": "bob"}),
            MemoryItem(user_id=bob, memory="Bob keeps a pet iguana named Rex", metadata={"owner": "bob"}),
        ])
        for query in (same, "pet iguana named Rex"):
            results = await self._search(editor, query, alice)
            assert all(r.metadata.get("owner") == "alice" and r.user_id == alice for r in results), (
                f"alice's search for {query!r} returned another user's memory: {results}"
            )
        assert [r.metadata for r in await self._search(editor, same, alice) if r.memory == same] == [
            {"owner": "alice"}]
        assert {"owner": "bob"} in [r.metadata for r in await self._search(editor, same, bob)]

    @needs(ids=True)
    async def test_toolkit_remove_by_memory_id(self, editor: MemoryEditor, users: Users) -> None:
        alice = users("alice")
        keep, drop = "Alice plays the cello on Sundays", "Alice is allergic to peanuts"
        await self._add(editor, [MemoryItem(user_id=alice, memory=keep), MemoryItem(user_id=alice, memory=drop)])
        records = await self._records(editor, alice, "Alice cello Sundays allergic peanuts")
        # memory_id wins over user_id: only that memory goes
        assert await editor.remove_items(memory_id=records[drop].id, user_id=alice) is None
        await self.settle()
        left = _memories(await self._search(editor, "Alice cello Sundays allergic peanuts", alice))
        assert drop not in left and keep in left

    async def test_toolkit_remove_by_user_id(self, editor: MemoryEditor, users: Users) -> None:
        alice, bob = users("alice"), users("bob")
        text = "Lunch with the design team on Friday"
        await self._add(editor, [MemoryItem(user_id=alice, memory=text),
                                 MemoryItem(user_id=alice, memory="Alice's passport expires in May"),
                                 MemoryItem(user_id=bob, memory=text)])
        assert await editor.remove_items(user_id=alice) is None
        await self.settle()
        assert await self._search(editor, text, alice) == []
        assert await self._search(editor, "passport expires May", alice) == []
        assert _memories(await self._search(editor, text, bob)) == [text]

    async def test_toolkit_remove_needs_memory_id_or_user_id(self, editor: MemoryEditor, users: Users) -> None:
        alice = users("alice")
        text = "Alice's locker number is 37"
        await self._add(editor, [MemoryItem(user_id=alice, memory=text)])
        for kwargs in ({}, {"user_id": None, "memory_id": None}, {"thread": "t1"}):
            with pytest.raises(InvalidInputError):
                await editor.remove_items(**kwargs)
        await self.settle()
        assert text in _memories(await self._search(editor, "locker number", alice))

    async def test_toolkit_top_k_is_respected(self, editor: MemoryEditor, users: Users) -> None:
        alice = users("alice")
        await self._add(editor, [MemoryItem(user_id=alice, memory=f"Reminder {i}: water the garden plants")
                                 for i in range(8)])
        for top_k, expected in ((1, 1), (3, 3), (20, 8)):
            results = await self._search(editor, "water the garden plants", alice, top_k=top_k)
            assert len(results) == expected, f"top_k={top_k} over 8 matching memories gave {len(results)}"

    async def test_toolkit_numbers_out_of_range_are_input_errors(self, editor: MemoryEditor, users: Users) -> None:
        """Hostile sizes are refused with a message, never a raw OverflowError from the backend."""
        alice = users("alice")
        for top_k in (0, 2**63, 10_001):
            with pytest.raises(InvalidInputError, match="top_k must be a whole number from 1 to 10,000"):
                await editor.search("anything", top_k=top_k, user_id=alice)
        if Capability.LIST in capabilities_of(editor):
            with pytest.raises(InvalidInputError, match="limit must be a whole number from 1 to 10,000"):
                await editor.list_records(MemoryFilter(user_id=alice), limit=2**63)  # type: ignore[attr-defined]

    async def test_toolkit_similarity_scores(self, editor: MemoryEditor, users: Users) -> None:
        alice = users("alice")
        exact, unrelated = "The quarterly budget review is on Thursday at noon", "Penguins huddle on Antarctic ice"
        await self._add(editor, [MemoryItem(user_id=alice, memory=unrelated),
                                 MemoryItem(user_id=alice, memory="The garden party budget is small"),
                                 MemoryItem(user_id=alice, memory=exact)])
        results = await self._search(editor, exact, alice, top_k=5)
        assert results and results[0].memory == exact, f"the exact match should rank first: {_memories(results)}"
        scores = [r.similarity_score for r in results]
        assert all(isinstance(s, float) and math.isfinite(s) for s in scores), f"similarity_score unset: {scores}"
        assert all(-_SCORE_SLACK <= s <= 1 + _SCORE_SLACK for s in scores), f"scores outside [0, 1]: {scores}"
        assert scores == sorted(scores, reverse=True), f"results not sorted by descending score: {scores}"
        for r in results:
            if r.memory == unrelated:
                assert r.similarity_score < results[0].similarity_score, "higher score must mean more similar"

    async def test_toolkit_similarity_threshold_filters(self, editor: MemoryEditor, users: Users) -> None:
        alice = users("alice")
        exact = "Alice adopted a grey kitten named Pepper"
        await self._add(editor, [MemoryItem(user_id=alice, memory=exact),
                                 MemoryItem(user_id=alice, memory="Pepper is a spice for soup"),
                                 MemoryItem(user_id=alice, memory="The train to Oslo leaves at nine")])
        results = await self._search(editor, exact, alice)
        assert len(results) >= 2 and results[0].memory == exact, f"unexpected ranking: {_memories(results)}"
        top, runner_up = results[0].similarity_score, results[1].similarity_score
        assert top > runner_up, f"an exact match should score above a partial one ({top} vs {runner_up})"
        threshold = (top + runner_up) / 2
        kept = await self._search(editor, exact, alice, similarity_threshold=threshold)
        assert _memories(kept) == [exact], f"similarity_threshold={threshold} kept {_memories(kept)}"
        assert all(r.similarity_score >= threshold for r in kept)
        assert await self._search(editor, exact, alice, similarity_threshold=1.5) == []

    async def test_toolkit_unicode_round_trips(self, editor: MemoryEditor, users: Users) -> None:
        alice = users("alice")
        texts = [
            "我喜欢在京都喝抹茶",
            "東京タワーは赤い",
            "Party planning 🎉 with the python club 🐍 👩‍💻 ❤️",
            "مرحبا بالعالم، أحب القهوة",
            "שלום עולם, אני אוהב תה",
            "Zoe\u0308 runs the cafe\u0301 on Rue de l'E\u0301glise",  # decomposed: must not be normalised
        ]
        await self._add(editor, [MemoryItem(user_id=alice, memory=t, tags=["标签", "🏷️"],
                                            metadata={"note": t, "עברית": "✓"}) for t in texts])
        for text in texts:
            found = _one(await self._search(editor, text, alice), text)
            assert (found.tags, found.metadata) == (["标签", "🏷️"], {"note": text, "עברית": "✓"})

    async def test_toolkit_search_finds_a_word_in_any_script(self, editor: MemoryEditor, users: Users) -> None:
        alice = users("alice")
        zoe = "Zoe\u0308 runs the cafe\u0301 on Rue de l'E\u0301glise"  # decomposed accents
        texts = {"京都": "我喜欢在京都喝抹茶", "タワー": "東京タワーは赤い", "서울": "저는 서울에서 살아요",
                 "🐍": "Party planning 🎉 with the python club 🐍", "café": zoe, "zoë": zoe,
                 "ＴＥＡ": "Alice drinks green tea"}
        await self._add(editor, [MemoryItem(user_id=alice, memory=t) for t in {*texts.values(), "The weather is mild"}])
        for query, text in texts.items():
            found = await self._search(editor, query, alice, top_k=1)
            assert _memories(found) == [text], f"searching {query!r}"

    async def test_toolkit_empty_query_returns_a_list(self, editor: MemoryEditor, users: Users) -> None:
        alice = users("alice")
        await self._add(editor, [MemoryItem(user_id=alice, memory="Alice likes jazz")])
        for query in ("", "   "):
            results = await self._search(editor, query, alice)
            assert all(r.user_id == alice for r in results)

    async def test_toolkit_search_requires_user_id(self, editor: MemoryEditor, users: Users) -> None:
        alice = users("alice")
        await self._add(editor, [MemoryItem(user_id=alice, memory="Alice likes jazz")])
        for kwargs in ({}, {"user_id": None}, {"user_id": ""}):
            with pytest.raises(InvalidInputError):
                await editor.search("jazz", top_k=5, **kwargs)

    async def test_toolkit_large_memory(self, editor: MemoryEditor, users: Users) -> None:
        alice = users("alice")
        body = " ".join(f"sentence{i} about the long meeting notes" for i in range(3000))
        text = ("quokkazanzibar " + body)[:100_000]
        assert len(text) == 100_000
        await self._add(editor, [MemoryItem(user_id=alice, memory=text)])
        found = _one(await self._search(editor, "quokkazanzibar", alice), text)
        assert len(found.memory or "") == 100_000

    async def test_toolkit_concurrent_adds_lose_nothing(self, editor: MemoryEditor, users: Users) -> None:
        alice = users("alice")
        texts = [f"Concurrent note number {i} about the harbour" for i in range(20)]
        await asyncio.gather(*(editor.add_items([MemoryItem(user_id=alice, memory=t)]) for t in texts))
        await self.settle()
        found = _memories(await self._search(editor, "concurrent note harbour", alice, top_k=50))
        assert sorted(found) == sorted(texts), f"{len(found)} of 20 concurrently added memories found"

    async def test_toolkit_batch_with_an_invalid_item_writes_nothing(self, editor: MemoryEditor,
                                                                   users: Users) -> None:
        alice = users("alice")
        valid = MemoryItem(user_id=alice, memory="This valid memory must not be written")
        not_json = MemoryItem(user_id=alice, memory="bad metadata", metadata={"handle": object()})
        for batch in ([valid, not_json], [valid, {"memory": "a dict without user_id"}]):
            with pytest.raises(InvalidInputError):
                await editor.add_items(batch)  # type: ignore[list-item]
        await self.settle()
        assert await self._search(editor, "valid memory must not be written", alice) == []

    async def test_toolkit_text_no_store_can_keep_is_refused_by_every_store(self, editor: MemoryEditor,
                                                                           users: Users) -> None:
        """One policy for every store: a lone surrogate or a NUL character anywhere in an item is an
        ``InvalidInputError`` naming the field, and nothing of the batch is written."""
        alice = users("alice")
        valid = MemoryItem(user_id=alice, memory="A valid neighbour of a text no store can keep")
        for bad in (MemoryItem(user_id=alice, memory="lone \ud800 surrogate"),
                    MemoryItem(user_id=alice, memory="nul \x00 inside"),
                    MemoryItem(user_id=alice, memory="ok", tags=["fine", "bad \udfff"]),
                    MemoryItem(user_id=alice, memory="ok", metadata={"note": "nul \x00"}),
                    MemoryItem(user_id=alice, conversation=[{"role": "user", "content": "\ud83d alone"}])):
            with pytest.raises(InvalidInputError, match=r"item 1: field '.+' (holds a NUL|is not valid Unicode)"):
                await editor.add_items([valid, bad])
        await self.settle()
        assert await self._search(editor, "valid neighbour store keep", alice) == []
        for user_id in ("lone \ud800", "nul \x00"):  # a user id no store can hold finds and removes nothing
            with pytest.raises(InvalidInputError, match=r"the user_id (holds a NUL|is not valid Unicode)"):
                await editor.search("keep", top_k=5, user_id=user_id)
            with pytest.raises(InvalidInputError, match=r"the user_id (holds a NUL|is not valid Unicode)"):
                await editor.remove_items(user_id=user_id)

    async def test_toolkit_fields_round_trip(self, editor: MemoryEditor, users: Users) -> None:
        alice = users("alice")
        nested = {"source": {"app": "chat", "thread": [1, 2, {"deep": None}]}, "weight": 0.5, "flag": True,
                  "empty": {}}
        conversation = [{"role": "user", "content": "Book me a trip to Lisbon"},
                        {"role": "assistant", "content": "Done, Lisbon it is."}]
        plain = MemoryItem(user_id=alice, memory="Alice prefers window seats on trains", conversation=None,
                           tags=["travel", "prefs"], metadata=nested)
        talk = MemoryItem(user_id=alice, memory="Alice booked a trip to Lisbon", conversation=conversation)
        await self._add(editor, [plain, talk])
        got = _one(await self._search(editor, "window seats on trains", alice), plain.memory)
        assert got.conversation is None
        assert (got.tags, got.metadata) == (["travel", "prefs"], nested)
        got = _one(await self._search(editor, "trip to Lisbon", alice), talk.memory)
        assert (got.conversation, got.tags, got.metadata) == (conversation, [], {})

    async def test_toolkit_conversation_only_item_is_searchable(self, editor: MemoryEditor,
                                                                users: Users) -> None:
        """What the toolkit's auto_memory_agent writes: a conversation and no memory text."""
        alice = users("alice")
        conversation = [{"role": "user", "content": "I just moved to Reykjavik"},
                        {"role": "assistant", "content": "Welcome to Iceland!"}]
        await self._add(editor, [MemoryItem(user_id=alice, conversation=conversation)])
        results = await self._search(editor, "moved to Reykjavik", alice)
        assert [(r.conversation, r.memory) for r in results] == [(conversation, None)]

    async def test_toolkit_results_are_copies(self, editor: MemoryEditor, users: Users) -> None:
        """Changing a returned item (as a tool or agent might) must not change what is stored."""
        alice = users("alice")
        await self._add(editor, [MemoryItem(user_id=alice, memory="Alice owns a green kayak", tags=["boat"],
                                            metadata={"run_id": "r1"})])
        first = _one(await self._search(editor, "green kayak", alice), "Alice owns a green kayak")
        first.tags.append("mutated")
        first.metadata.pop("run_id")
        again = _one(await self._search(editor, "green kayak", alice), "Alice owns a green kayak")
        assert (again.tags, again.metadata) == (["boat"], {"run_id": "r1"})

    # --- browsing -------------------------------------------------------------------------------------
    @needs(Capability.PING)
    async def test_browse_ping(self, editor: Any, users: Users) -> None:
        assert await editor.ping() is None

    @pytest.mark.parametrize("descending", [True, False], ids=["desc", "asc"])
    @needs(Capability.LIST)
    async def test_browse_paging_is_stable_while_rows_are_added(self, editor: Any, users: Users,
                                                                descending: bool) -> None:
        alice = users("alice")
        for batch in range(3):
            await self._add(editor, [MemoryItem(user_id=alice, memory=f"Paging row {batch}-{i}") for i in range(4)])
        flt = MemoryFilter(user_id=alice)
        before = {r.id for r in await _list_all(editor, flt)}
        assert len(before) == 12
        seen: list[str] = []
        cursor = None
        for fetch in range(20):
            page = await editor.list_records(flt, sort=Sort(field=SortField.CREATED, descending=descending),
                                             limit=5, cursor=cursor)
            assert len(page.records) <= 5
            seen.extend(r.id for r in page.records)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
            await self._add(editor, [MemoryItem(user_id=alice, memory=f"Inserted while paging {fetch}-{i}")
                                     for i in range(2)])
        else:
            raise AssertionError("paging never ended")
        assert len(seen) == len(set(seen)), "a row appeared on two pages"
        assert before <= set(seen), f"{len(before - set(seen))} rows that existed before paging were missed"

    @pytest.mark.parametrize("field", TIME_FIELDS, ids=[f.value for f in TIME_FIELDS])
    @needs(Capability.LIST)
    async def test_browse_sort_by_timestamp(self, editor: Any, users: Users, field: SortField) -> None:
        alice = users("alice")
        await self._add(editor, [MemoryItem(user_id=alice, memory=f"Older row {i}") for i in range(3)])
        await self._add(editor, [MemoryItem(user_id=alice, memory=f"Newer row {i}") for i in range(3)])
        flt = MemoryFilter(user_id=alice)
        touched = None
        if Capability.UPDATE in capabilities_of(editor):
            oldest = (await _list_all(editor, flt, Sort(field=SortField.CREATED, descending=False)))[0]
            touched = await editor.update_record(oldest.id, MemoryPatch(memory="Older row, edited"),
                                                 expected_version=oldest.version)
            await self.settle()
        orders = {}
        for descending in (False, True):
            sort = Sort(field=field, descending=descending)
            whole = await _list_all(editor, flt, sort)
            paged = await _list_all(editor, flt, sort, limit=2)
            assert [r.id for r in paged] == [r.id for r in whole], "paging changed the order of rows"
            keys = [getattr(r, field.value) for r in whole]
            assert keys == sorted(keys, reverse=descending), f"not sorted by {field.value} desc={descending}"
            assert len({r.id for r in whole}) == 6
            orders[descending] = whole
        if touched is not None:
            newest_first = [r.id for r in orders[True]]
            if field is SortField.UPDATED:
                assert newest_first[0] == touched.id, "the record just updated should be the most recently updated"
            else:
                assert touched.id in newest_first[3:], "updating a record must not change its created_at"

    @needs(Capability.LIST)
    async def test_browse_filters_match_reference(self, editor: Any, users: Users) -> None:
        """Every MemoryFilter field gives the ids that ``MemoryFilter.matches`` selects."""
        alice, bob = users("alice"), users("bob")
        run = {"suite_run": users.prefix}
        chat = [{"role": "user", "content": "I love apples"}]
        batches = [
            [MemoryItem(user_id=alice, memory="Apple pie recipe from grandma", tags=["red", "food"],
                        metadata={**run, "kind": "note", "n": 1}),
             MemoryItem(user_id=alice, memory="Buy pineapple and bananas", tags=["green", "food"],
                        metadata={**run, "kind": "task", "n": 2})],
            [MemoryItem(user_id=alice, memory="Call the dentist", tags=["red", "green"],
                        metadata={**run, "kind": "task", "n": 1, "flag": True}),
             MemoryItem(user_id=alice, memory="Émile likes crème brûlée", tags=["blue"],
                        metadata={**run, "kind": "note", "flag": False}),
             MemoryItem(user_id=alice, conversation=chat, tags=["red"], metadata={**run, "kind": "chat", "opt": None})],
            [MemoryItem(user_id=alice, memory="Weekly review", metadata=run),
             MemoryItem(user_id=bob, memory="APPLE stock is up", tags=["red", "blue"],
                        metadata={**run, "kind": "note", "n": 1}),
             MemoryItem(user_id=bob, memory="Green tea in the morning", tags=["green"],
                        metadata={**run, "kind": "task", "flag": True})],
        ]
        for batch in batches:
            await self._add(editor, batch)
        if Capability.UPDATE in capabilities_of(editor):
            review = (await self._records(editor, alice, "Weekly review"))["Weekly review"]
            await editor.update_record(review.id, MemoryPatch(tags=["blue"]), expected_version=review.version)
            await self.settle()
        ours = await _list_all(editor, MemoryFilter(user_id=alice)) + await _list_all(editor, MemoryFilter(user_id=bob))
        assert len(ours) == 8
        created = sorted(r.created_at for r in ours)
        updated = sorted(r.updated_at for r in ours)
        mid = created[len(created) // 2]
        cases: list[dict[str, Any]] = [
            {}, {"tags_any": ("red",)}, {"tags_any": ("blue", "food")}, {"tags_any": ("nope",)},
            {"tags_all": ("red", "green")}, {"tags_all": ("food",)},
            {"metadata": {"kind": "task"}}, {"metadata": {"kind": "note", "n": 1}}, {"metadata": {"flag": False}},
            {"metadata": {"opt": None}}, {"metadata": {"kind": "absent"}},
            {"text_contains": "apple"}, {"text_contains": "ÉMILE"}, {"text_contains": "crème"},
            {"created_from": mid}, {"created_to": mid}, {"created_from": mid, "created_to": mid},
            {"updated_from": updated[-1]}, {"updated_to": updated[0]},
            {"tags_any": ("red", "blue"), "metadata": {"kind": "note"}, "text_contains": "apple"},
        ]
        filters = [MemoryFilter(user_id=alice, **case) for case in cases]
        filters += [MemoryFilter(user_id=bob), MemoryFilter(user_id=bob, tags_any=("red",))]
        if Capability.LIST_ALL_USERS in capabilities_of(editor):
            filters += [MemoryFilter(**{**case, "metadata": {**case.get("metadata", {}), **run}}) for case in cases]
        our_ids = {r.id for r in ours}
        count = Capability.COUNT in capabilities_of(editor)
        problems = []

        def shown(flt: MemoryFilter) -> str:
            return repr(flt.model_dump(exclude_defaults=True))

        for flt in filters:
            expected = {r.id for r in ours if flt.matches(r)}
            got = await _list_all(editor, flt)
            wrong = [r.id for r in got if not flt.matches(r)]
            missing, extra = expected - {r.id for r in got}, ({r.id for r in got} & our_ids) - expected
            if wrong or missing or extra:
                problems.append(f"{shown(flt)}: {len(missing)} missing, {len(extra) + len(wrong)} not matching")
            if count and flt.user_id is not None and await editor.count_records(flt) != len(expected):
                problems.append(f"{shown(flt)}: count_records is not {len(expected)}")
        assert not problems, "filters disagree with MemoryFilter.matches:\n" + "\n".join(problems)

    @needs(Capability.LIST, Capability.COUNT)
    async def test_browse_count_equals_listing(self, editor: Any, users: Users) -> None:
        alice, bob = users("alice"), users("bob")
        run = {"suite_run": users.prefix}
        await self._add(editor, [MemoryItem(user_id=alice, memory=f"Count row {i}", tags=["even" if i % 2 else "odd"],
                                            metadata=run) for i in range(7)])
        await self._add(editor, [MemoryItem(user_id=bob, memory=f"Bob row {i}", metadata=run) for i in range(2)])
        filters = [MemoryFilter(user_id=alice), MemoryFilter(user_id=alice, tags_any=("even",)),
                   MemoryFilter(user_id=bob)]
        if Capability.LIST_ALL_USERS in capabilities_of(editor):
            filters.append(MemoryFilter(metadata=run))
        counts = [await editor.count_records(flt) for flt in filters]
        assert counts == [len(await _list_all(editor, flt)) for flt in filters]
        assert counts[:3] == [7, 3, 2]

    @needs(Capability.GET, ids=True)
    async def test_browse_get_record(self, editor: Any, users: Users) -> None:
        alice = users("alice")
        item = MemoryItem(user_id=alice, memory="Alice's bike is a blue Brompton", tags=["bike"],
                          metadata={"k": "v"})
        await self._add(editor, [item])
        record = (await self._records(editor, alice, "blue Brompton"))[item.memory]
        got = await editor.get_record(record.id)
        assert got.id == record.id and got.item == item
        assert got.version >= 1 and got.created_at <= got.updated_at
        assert got.created_at.utcoffset() is not None, "timestamps must be timezone-aware"
        with pytest.raises(NotFoundError):
            await editor.get_record(uuid.uuid4().hex)

    @needs(Capability.GET, Capability.UPDATE, ids=True)
    async def test_browse_update_record(self, editor: Any, users: Users) -> None:
        alice = users("alice")
        old, new = "Alice drives a blue bicycle", "Alice rides a red scooter"
        await self._add(editor, [MemoryItem(user_id=alice, memory=old, tags=["transport"], metadata={"k": "v"})])
        before = await editor.get_record((await self._records(editor, alice, "blue bicycle"))[old].id)
        await asyncio.sleep(0.01)
        updated = await editor.update_record(before.id, MemoryPatch(memory=new, tags=["transport", "edited"]),
                                             expected_version=before.version)
        await self.settle()
        assert updated.version == before.version + 1
        assert updated.updated_at > before.updated_at and updated.created_at == before.created_at
        assert (updated.item.memory, updated.item.tags, updated.item.metadata, updated.item.user_id) == (
            new, ["transport", "edited"], {"k": "v"}, alice)
        assert await editor.get_record(before.id) == updated
        assert new in _memories(await self._search(editor, "red scooter", alice))
        assert old not in _memories(await self._search(editor, "blue bicycle", alice))

    @needs(Capability.GET, Capability.UPDATE, ids=True)
    async def test_browse_updates_keep_a_findable_memory_findable(self, editor: Any, users: Users) -> None:
        """Whatever an operator changes, a memory the agent's search found before is found after, by its
        current text (and a store that can tell what the agent's own search finds reports it as before)."""
        alice = users("alice")
        text = "Alice collects antique barometers"
        await self._add(editor, [MemoryItem(user_id=alice, memory=text, tags=["hobby"]),
                                 MemoryItem(user_id=alice, memory="Alice works as a nurse in Porto"),
                                 MemoryItem(user_id=alice, memory="Alice has two cats named Fig and Olive")])
        record = (await self._records(editor, alice, "antique barometers"))[text]
        reach = editor if isinstance(editor, AgentReach) else None
        reason = await reach.unfindable_reason(record.id) if reach else None
        patches = (MemoryPatch(tags=["hobby", "checked"]), MemoryPatch(metadata={"source": "operator"}),
                   MemoryPatch(conversation=[{"role": "user", "content": "I collect barometers"}]),
                   MemoryPatch(memory="Alice collects antique clocks"))
        for patch in patches:
            record = await editor.update_record(record.id, patch, expected_version=record.version)
            await self.settle()
            memory, after = record.item.memory or "", f"after {patch.model_dump(exclude_none=True)}"
            assert _memories(await self._search(editor, memory, alice, top_k=1)) == [memory], after
            if reach:
                assert await reach.unfindable_reason(record.id) == reason, after

    @needs(Capability.UPDATE, ids=True)
    async def test_browse_update_with_stale_version_conflicts(self, editor: Any, users: Users) -> None:
        alice = users("alice")
        await self._add(editor, [MemoryItem(user_id=alice, memory="Alice's desk is on floor 3")])
        record = (await self._records(editor, alice, "desk floor"))["Alice's desk is on floor 3"]
        first = await editor.update_record(record.id, MemoryPatch(memory="Alice's desk is on floor 4"),
                                           expected_version=record.version)
        await self.settle()
        with pytest.raises(VersionConflictError) as conflict:
            await editor.update_record(record.id, MemoryPatch(memory="Alice's desk is on floor 9"),
                                       expected_version=record.version)
        current = conflict.value.current
        assert current is not None and current.id == record.id
        assert (current.version, current.item.memory) == (first.version, "Alice's desk is on floor 4")
        await self.settle()
        assert _memories(await self._search(editor, "desk floor", alice)) == ["Alice's desk is on floor 4"]

    @needs(Capability.UPDATE, ids=True)
    async def test_browse_update_of_deleted_record(self, editor: Any, users: Users) -> None:
        alice = users("alice")
        await self._add(editor, [MemoryItem(user_id=alice, memory="Alice's old phone number")])
        record = (await self._records(editor, alice, "old phone number"))["Alice's old phone number"]
        await editor.remove_items(memory_id=record.id)
        await self.settle()
        with pytest.raises((VersionConflictError, NotFoundError)) as failure:
            await editor.update_record(record.id, MemoryPatch(memory="Alice's new phone number"),
                                       expected_version=record.version)
        if isinstance(failure.value, VersionConflictError):
            assert failure.value.current is None
        await self.settle()
        assert await self._search(editor, "phone number", alice) == [], "the update brought the record back"

    @needs(Capability.DELETE_BY_IDS, ids=True)
    async def test_browse_delete_records_counts_existing(self, editor: Any, users: Users) -> None:
        alice = users("alice")
        texts = ["Alice's cat is called Miso", "Alice's dog is called Tofu", "Alice's fish is called Nori"]
        await self._add(editor, [MemoryItem(user_id=alice, memory=t) for t in texts])
        records = await self._records(editor, alice, "Alice cat dog fish called")
        gone = [records[texts[0]].id, records[texts[1]].id]
        assert await editor.delete_records([*gone, uuid.uuid4().hex]) == 2
        await self.settle()
        assert await editor.delete_records(gone[:1]) == 0
        assert await editor.delete_records([]) == 0
        assert _memories(await self._search(editor, "Alice cat dog fish called", alice)) == [texts[2]]
        if Capability.GET in capabilities_of(editor):
            with pytest.raises(NotFoundError):
                await editor.get_record(gone[0])

    @needs(Capability.IMPORT, Capability.GET)
    async def test_browse_add_records_is_lossless(self, editor: Any, users: Users) -> None:
        alice, bob = users("alice"), users("bob")
        utc, plus2 = dt.UTC, dt.timezone(dt.timedelta(hours=2))
        records = [
            _record(alice, "Imported: Alice speaks Portuguese", created=dt.datetime(2023, 3, 4, 5, 6, 7, 123456, utc),
                    updated=dt.datetime(2024, 1, 2, 3, 4, 5, 654321, utc), version=7, tags=["import"],
                    metadata={"origin": {"system": "legacy", "ids": [1, 2]}},
                    conversation=[{"role": "user", "content": "Falo português"}]),
            # 06:30+02:00 is 04:30 UTC: created before the record above, though "06:30" > "05:06" as text
            _record(alice, "Imported: Alice learnt Italian", created=dt.datetime(2023, 3, 4, 6, 30, tzinfo=plus2),
                    version=2),
            _record(bob, None, created=dt.datetime(2022, 12, 31, 23, 59, 59, tzinfo=utc),
                    conversation=[{"role": "user", "content": "Bob imported this"}]),
        ]
        assert await editor.add_records(records) is None
        await self.settle()
        for record in records:
            assert await editor.get_record(record.id) == record
        assert "Imported: Alice speaks Portuguese" in _memories(await self._search(editor, "Portuguese", alice))
        if Capability.LIST in capabilities_of(editor):
            listed = await _list_all(editor, MemoryFilter(user_id=alice), Sort(field=SortField.CREATED,
                                                                               descending=False))
            assert [r.id for r in listed] == [records[1].id, records[0].id], "created_at order across time zones"

    @needs(Capability.IMPORT, Capability.GET)
    async def test_browse_add_records_batch_is_atomic(self, editor: Any, users: Users) -> None:
        alice = users("alice")
        when = dt.datetime(2024, 5, 6, tzinfo=dt.UTC)
        good = _record(alice, "A good imported memory", created=when)
        bad = _record(alice, "A bad imported memory", created=when, metadata={"handle": object()})
        with pytest.raises(InvalidInputError):
            await editor.add_records([good, bad])
        await self.settle()
        with pytest.raises(NotFoundError):
            await editor.get_record(good.id)

    @needs(Capability.IMPORT, Capability.GET)
    async def test_browse_get_records_finds_the_existing_ones(self, editor: Any, users: Users) -> None:
        alice = users("alice")
        when = dt.datetime(2024, 5, 6, tzinfo=dt.UTC)
        records = [_record(alice, f"Looked up in bulk {i}", created=when) for i in range(3)]
        await editor.add_records(records)
        await self.settle()
        missing = uuid.uuid4().hex
        found = await editor.get_records([records[2].id, missing, records[0].id, records[0].id])
        assert found == {records[2].id: await editor.get_record(records[2].id),
                         records[0].id: await editor.get_record(records[0].id)}
        assert await editor.get_records([]) == {}

    @needs(Capability.IMPORT, Capability.GET)
    async def test_browse_add_records_checks_ids_and_versions(self, editor: Any, users: Users) -> None:
        alice = users("alice")
        good = _record(alice, "A good record beside bad ones", created=dt.datetime(2024, 5, 6, tzinfo=dt.UTC))
        for bad in (good.model_copy(update={"id": uuid.uuid4().hex, "version": 0}),
                    good.model_copy(update={"id": " "}), good.model_copy(update={"id": "x\x00y"})):
            with pytest.raises(InvalidInputError, match=r"record 1: field '(id|version)'"):
                await editor.add_records([good, bad])
        await self.settle()
        with pytest.raises(NotFoundError):
            await editor.get_record(good.id)

    @needs(Capability.LIST_USERS)
    async def test_browse_list_users(self, editor: Any, users: Users) -> None:
        counts = {users("a"): 3, users("b"): 1, users("c"): 2}
        for user_id, n in counts.items():
            await self._add(editor, [MemoryItem(user_id=user_id, memory=f"Memory {i} of {user_id}") for i in range(n)])
        page = await editor.list_users(prefix=users.prefix)
        assert [(u.user_id, u.memory_count) for u in page.users] == list(counts.items())
        assert page.next_cursor is None
        for summary in page.users:
            assert summary.last_activity is not None and summary.last_activity.utcoffset() is not None
            if Capability.LIST in capabilities_of(editor):
                records = await _list_all(editor, MemoryFilter(user_id=summary.user_id))
                assert summary.last_activity == max(r.updated_at for r in records)
        first = await editor.list_users(prefix=users.prefix, limit=2)
        assert [u.user_id for u in first.users] == list(counts)[:2] and first.next_cursor is not None
        rest = await editor.list_users(prefix=users.prefix, limit=2, cursor=first.next_cursor)
        assert [u.user_id for u in rest.users] == list(counts)[2:] and rest.next_cursor is None
        only_b = await editor.list_users(prefix=users("b"))
        assert [u.user_id for u in only_b.users] == [users("b")]

    @needs(Capability.SEARCH_RECORDS)
    async def test_browse_search_records(self, editor: Any, users: Users) -> None:
        alice, bob = users("alice"), users("bob")
        exact = "Alice's sister lives in Montreal"
        await self._add(editor, [MemoryItem(user_id=alice, memory=exact),
                                 MemoryItem(user_id=alice, memory="Montreal bagels are great"),
                                 MemoryItem(user_id=alice, memory="Alice waters the ferns"),
                                 MemoryItem(user_id=bob, memory=exact)])
        hits = await editor.search_records(exact, user_id=alice, top_k=2)
        assert 1 <= len(hits) <= 2 and all(isinstance(h, ScoredRecord) for h in hits)
        assert hits[0].record.item.memory == exact
        assert all(h.record.user_id == alice for h in hits), "search_records crossed users"
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        for hit in hits:
            assert hit.parts and all(isinstance(v, float) for v in hit.parts.values()), f"no score parts: {hit}"
            if Capability.GET in capabilities_of(editor):
                assert (await editor.get_record(hit.record.id)).item.memory == hit.record.item.memory
        items = await self._search(editor, exact, alice, top_k=2)
        assert _memories(items) == [h.record.item.memory for h in hits], "search and search_records disagree"
        assert [i.similarity_score for i in items] == pytest.approx([h.score for h in hits])

    # --- the agent's use (memory_core.usage, memory_core.life) ------------------------------------------
    async def _by_text(self, editor: Any, user_id: str) -> dict[str | None, str]:
        return {memory: record.id for memory, record in (await self._records(editor, user_id, "")).items()}

    async def _set_metadata(self, editor: Any, memory_id: str, change: Any) -> None:
        record = await editor.get_record(memory_id)
        await editor.update_record(memory_id, MemoryPatch(metadata=change(record.item.metadata)),
                                   expected_version=record.version)
        await self.settle()

    @needs(Capability.RETRIEVALS, Capability.LIST)
    async def test_use_counts_only_the_agents_own_search(self, editor: Any, users: Users) -> None:
        alice = users("alice")
        await self._add(editor, [MemoryItem(user_id=alice, memory="Alice drinks green tea"),
                                 MemoryItem(user_id=alice, memory="Alice plays chess on Sundays")])
        ids = await self._by_text(editor, alice)
        tea, chess = ids["Alice drinks green tea"], ids["Alice plays chess on Sundays"]
        for _ in range(2):
            assert _memories(await self._search(editor, "green tea", alice, top_k=1)) == ["Alice drinks green tea"]
        with not_counted():  # an operator previewing what the agent gets
            await self._search(editor, "chess", alice, top_k=1)
        await _list_all(editor, MemoryFilter(user_id=alice))
        usage = await editor.usage([tea, chess])
        assert list(usage) == [tea] and usage[tea].retrievals == 2, f"usage after two agent searches: {usage}"

    @needs(Capability.LIST)
    async def test_use_browse_filters_and_sorts_by_the_agents_use_or_refuses(self, editor: Any,
                                                                           users: Users) -> None:
        alice, bob = users("alice"), users("bob")
        texts = ["Alice drinks green tea", "Alice rides a red bicycle", "Alice has a cat", "Alice plays piano"]
        await self._add(editor, [MemoryItem(user_id=alice, memory=text) for text in texts]
                        + [MemoryItem(user_id=bob, memory="Bob drinks green tea")])
        flt, by_use = MemoryFilter(user_id=alice), Sort(field=SortField.RETRIEVALS)
        if Capability.BROWSE_BY_USE not in capabilities_of(editor):
            for call in (editor.list_records(flt.model_copy(update={"retrieved": False})),
                         editor.count_records(flt.model_copy(update={"retrieved": True})),
                         editor.list_records(flt, sort=by_use)):
                with pytest.raises(UnsupportedError):  # never answered as if the filter were not there
                    await call
            return
        for query, times in (("green tea", 3), ("red bicycle", 1)):
            for _ in range(times):
                await self._search(editor, query, alice, top_k=1)
        ids = await self._by_text(editor, alice)
        used = {ids["Alice drinks green tea"], ids["Alice rides a red bicycle"]}
        for retrieved, expected in ((True, used), (False, set(ids.values()) - used)):
            narrowed = flt.model_copy(update={"retrieved": retrieved})
            assert {r.id for r in await _list_all(editor, narrowed, limit=1)} == expected, f"retrieved={retrieved}"
            assert await editor.count_records(narrowed) == len(expected)
        assert await _list_all(editor, MemoryFilter(user_id=bob, retrieved=True)) == []
        most_first = [r.id for r in await _list_all(editor, flt, by_use, limit=1)]
        assert most_first[:2] == [ids["Alice drinks green tea"], ids["Alice rides a red bicycle"]]
        least_first = [r.id for r in await _list_all(editor, flt, Sort(field=SortField.RETRIEVALS,
                                                                        descending=False), limit=3)]
        assert least_first == most_first[::-1], "ascending is not the reverse of descending"

    @needs(Capability.PAUSE, Capability.LIST, Capability.SEARCH_RECORDS)
    async def test_use_paused_memory_is_hidden_from_the_agent_until_resumed(self, editor: Any,
                                                                             users: Users) -> None:
        alice = users("alice")
        await self._add(editor, [MemoryItem(user_id=alice, memory="Alice drinks green tea"),
                                 MemoryItem(user_id=alice, memory="Alice drinks black tea sometimes")])
        tea = (await self._by_text(editor, alice))["Alice drinks green tea"]
        await self._set_metadata(editor, tea, lambda meta: life.paused_metadata(meta, True))
        assert _memories(await self._search(editor, "green tea", alice)) == ["Alice drinks black tea sometimes"]
        operator = await editor.search_records("green tea", user_id=alice, top_k=5)
        assert "Alice drinks green tea" in [hit.record.item.memory for hit in operator]  # kept and browsable
        await self._set_metadata(editor, tea, lambda meta: life.paused_metadata(meta, False))
        assert _memories(await self._search(editor, "green tea", alice))[0] == "Alice drinks green tea"

    @needs(Capability.EXPIRE, Capability.LIST)
    async def test_use_expired_memory_is_hidden_from_the_agent_but_kept(self, editor: Any, users: Users) -> None:
        alice = users("alice")
        await self._add(editor, [MemoryItem(user_id=alice, memory="Alice is in Paris this week"),
                                 MemoryItem(user_id=alice, memory="Alice lives in Lisbon")])
        trip = (await self._by_text(editor, alice))["Alice is in Paris this week"]
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
        await self._set_metadata(editor, trip, lambda meta: {**meta, life.EXPIRES_AT: past})
        assert "Alice is in Paris this week" not in _memories(await self._search(editor, "Alice Paris week", alice))
        assert trip in (await self._by_text(editor, alice)).values()  # until the sweep moves it to the trash

    @needs(Capability.PAUSE, Capability.LIST)
    async def test_use_top_k_holds_when_paused_memories_outrank_the_rest(self, editor: Any, users: Users) -> None:
        alice = users("alice")
        await self._add(editor, [MemoryItem(user_id=alice, memory=f"tea note {n} tea tea") for n in range(6)]
                        + [MemoryItem(user_id=alice, memory="a tea memory"),
                           MemoryItem(user_id=alice, memory="another tea memory")])
        for text, memory_id in (await self._by_text(editor, alice)).items():
            if text and text.startswith("tea note"):
                await self._set_metadata(editor, memory_id, lambda meta: life.paused_metadata(meta, True))
        found = _memories(await self._search(editor, "tea", alice, top_k=2))
        assert sorted(m or "" for m in found) == ["a tea memory", "another tea memory"]
