"""The ``sqlite`` store on real files: toolkit semantics, browsing, durability, concurrency, schema, hybrid search."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from memory_core import retrieval
from memory_core.builder import MemoryBuilder
from memory_core.config import parse_config
from memory_core.embedders.base import Embedder, normalise
from memory_core.errors import (
    ConfigError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
    VersionConflictError,
)
from memory_core.interfaces import Capability
from memory_core.items import tokens
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.providers.sqlite import SqliteMemory, index, queries, schema, vectors
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord, Sort, SortField
from memory_core.registry import register_embedder
from memory_core.testing import MemoryStoreConformance
from memory_core.typed import EmbedderBaseConfig

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC
SYNONYMS = {"automobile": "car", "vehicle": "car", "feline": "cat"}


class WordEmbedder(Embedder):
    """Deterministic bag of words with a few synonyms folded together; counts the texts it embedded."""

    dimension = 64

    def __init__(self, model_id: str = "test-words-v1") -> None:
        self.model_id = model_id
        self.embedded = 0

    async def embed(self, texts: list[str]) -> np.ndarray:
        self.embedded += len(texts)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in tokens(text):
                vectors[row, zlib.crc32(SYNONYMS.get(word, word).encode()) % self.dimension] += 1
        return normalise(vectors)


class WordEmbedderConfig(EmbedderBaseConfig, name="test_sqlite_words"):
    """Test-only: the :class:`WordEmbedder`."""


@register_embedder(WordEmbedderConfig)
async def _word_embedder(config: WordEmbedderConfig, builder: object) -> AsyncIterator[WordEmbedder]:
    yield WordEmbedder()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteMemory]:
    async with await SqliteMemory.open(tmp_path / "m.db") as opened:
        yield opened


async def _all(store: SqliteMemory, flt: MemoryFilter, sort: Sort = Sort(), limit: int = 4) -> list[MemoryRecord]:
    records, cursor = [], None
    while True:
        page = await store.list_records(flt, sort=sort, limit=limit, cursor=cursor)
        records += page.records
        if (cursor := page.next_cursor) is None:
            return records


def _at(hours: float) -> dt.datetime:
    return dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(hours=hours)


# --- toolkit semantics -------------------------------------------------------------------------------------

async def test_search_finds_stemmed_words_of_one_user_only(store: SqliteMemory) -> None:
    await store.add_items([MemoryItem(user_id="alice", memory="Alice runs along the river every morning"),
                           MemoryItem(user_id="alice", memory="Alice drinks green tea"),
                           MemoryItem(user_id="bob", memory="Bob runs a bakery")])
    found = await store.search("running", top_k=5, user_id="alice")
    assert [r.memory for r in found] == ["Alice runs along the river every morning"]
    assert [r.user_id for r in await store.search("runs bakery", user_id="bob")] == ["bob"]
    assert await store.search("bakery", user_id="alice") == []
    assert await store.search("   ", user_id="alice") == []
    with pytest.raises(InvalidInputError, match="user_id"):
        await store.search("tea")


async def test_search_finds_a_memory_by_its_tags(store: SqliteMemory) -> None:
    await store.add_items([MemoryItem(user_id="alice", memory="Alice is vegetarian", tags=["diet", "preference"]),
                           MemoryItem(user_id="alice", memory="Alice climbs twice a week", tags=["hobby"])])
    assert [r.memory for r in await store.search("diet", top_k=5, user_id="alice")] == ["Alice is vegetarian"]


async def test_scores_are_descending_in_unit_range_and_threshold_cuts(store: SqliteMemory) -> None:
    texts = ["Budget review on Thursday", "The budget review for the garden project on Thursday at noon",
             "Thursday lunch", "Penguins on ice"]
    await store.add_items([MemoryItem(user_id="u", memory=t) for t in texts])
    results = await store.search("budget review Thursday noon", top_k=10, user_id="u")
    scores = [r.similarity_score for r in results]
    assert results[0].memory == texts[1] and "Penguins on ice" not in [r.memory for r in results]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    cut = (scores[0] + scores[1]) / 2
    assert [r.memory for r in await store.search("budget review Thursday noon", user_id="u",
                                                 similarity_threshold=cut)] == [texts[1]]
    hits = await store.search_records("budget review Thursday noon", user_id="u", top_k=2)
    assert len(hits) == 2 and all(h.parts for h in hits)


async def test_remove_by_memory_id_then_user_id(store: SqliteMemory) -> None:
    await store.add_items([MemoryItem(user_id="u", memory=f"note {i} about boats") for i in range(3)]
                          + [MemoryItem(user_id="v", memory="note about boats")])
    first = (await _all(store, MemoryFilter(user_id="u")))[0]
    await store.remove_items(memory_id=first.id, user_id="u")
    assert await store.count_records(MemoryFilter(user_id="u")) == 2
    await store.remove_items(user_id="u")
    assert await store.count_records(MemoryFilter()) == 1
    assert await store.search("boats", user_id="u") == []
    with pytest.raises(InvalidInputError):
        await store.remove_items()


@pytest.mark.parametrize("bad, where", [
    ({"memory": "no user"}, "item 1: field 'user_id'"),
    (MemoryItem(user_id=" ", memory="blank user"), "item 1: user_id"),
    (MemoryItem(user_id="u", memory="x", metadata={"f": float("nan")}), "item 1: metadata"),
    (MemoryItem(user_id="u", memory="lone \ud800 surrogate"), "item 1: field 'memory'"),
    (MemoryItem(user_id="u", tags=["ok", "\udfff"]), r"item 1: field 'tags\[1\]'"),
])
async def test_a_batch_with_one_bad_item_writes_nothing(store: SqliteMemory, bad: object, where: str) -> None:
    with pytest.raises(InvalidInputError, match=where):
        await store.add_items([MemoryItem(user_id="u", memory="good"), bad])  # type: ignore[list-item]
    assert await store.count_records(MemoryFilter()) == 0


async def test_a_failure_inside_the_transaction_rolls_everything_back(store: SqliteMemory,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise RuntimeError("disk on fire")

    await store.add_items([MemoryItem(user_id="u", memory="kept")])
    monkeypatch.setattr(index, "add", fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        await store.add_items([MemoryItem(user_id="u", memory=f"lost {i}") for i in range(3)])
    monkeypatch.undo()
    assert [r.item.memory for r in await _all(store, MemoryFilter())] == ["kept"]
    await store.add_items([MemoryItem(user_id="u", memory="after")])  # the writer is usable again
    assert await store.count_records(MemoryFilter(user_id="u")) == 2


# --- browsing ----------------------------------------------------------------------------------------------

def _fixture_records() -> list[MemoryRecord]:
    memories = ["Straße am Meer", "Coffee with ALICE", None, "tea time", "Crème brûlée"]
    tags = [["a"], ["b"], ["a", "b"], [], ["b", "b"]]
    metadata = [{"kind": "x", "n": 1}, {"kind": "y", "n": 2.0}, {"flag": True}, {"nested": {"kind": "x"}},
                {"kind": None, "n": "1", "a.b": 1}, {"n": 1, "kind": "x", "flag": False, "ключ": "x", 'q"k': None}]
    records = []
    for i in range(36):
        created = _at(i // 2)  # pairs share a timestamp: the id breaks the tie
        memory = memories[i % 5]
        item = MemoryItem(user_id=f"u{i % 3}", memory=memory, tags=tags[i % 5], metadata=metadata[i % 6],
                          conversation=[{"role": "user", "content": "hi"}] if memory is None else None)
        records.append(MemoryRecord(id=f"r{(i * 7) % 36:02d}", item=item, created_at=created,
                                    updated_at=created + dt.timedelta(minutes=(i * 13) % 50), version=1 + i % 2))
    return records


FILTERS = [
    MemoryFilter(), MemoryFilter(user_id="u1"), MemoryFilter(user_id="nobody"),
    MemoryFilter(tags_any=("a",)), MemoryFilter(tags_any=("a", "zzz"), user_id="u0"),
    MemoryFilter(tags_all=("a", "b")), MemoryFilter(tags_all=("b", "a"), user_id="u2"),
    MemoryFilter(metadata={"kind": "x"}), MemoryFilter(metadata={"n": 2}), MemoryFilter(metadata={"n": True}),
    MemoryFilter(metadata={"n": "1"}), MemoryFilter(metadata={"flag": 1}), MemoryFilter(metadata={"flag": False}),
    MemoryFilter(metadata={"kind": None}), MemoryFilter(metadata={"missing": None}),
    MemoryFilter(metadata={"kind": "x", "n": 1}, user_id="u1"), MemoryFilter(metadata={"a.b": 1.0}),
    MemoryFilter(metadata={"ключ": "x"}), MemoryFilter(metadata={'q"k': None}), MemoryFilter(metadata={"ключ": None}),
    MemoryFilter(text_contains="STRASSE"), MemoryFilter(text_contains="alice"), MemoryFilter(text_contains="CRÈME"),
    MemoryFilter(created_from=_at(3), created_to=_at(9)), MemoryFilter(updated_from=_at(12.5)),
    MemoryFilter(updated_to=_at(4), user_id="u2"),
    MemoryFilter(user_id="u1", tags_any=("b",), text_contains="e", created_to=_at(15)),
]


@pytest.mark.parametrize("common_tag", [1, 5000], ids=["tags-scanned", "tags-drive"])
async def test_every_filter_and_sort_matches_the_reference(store: SqliteMemory, monkeypatch: pytest.MonkeyPatch,
                                                           common_tag: int) -> None:
    monkeypatch.setattr(queries, "_COMMON_TAG", common_tag)  # both plans for tag filters across users
    records = _fixture_records()
    reference = InMemoryEditor()
    await reference.add_records(records)
    await store.add_records(records)
    sorts = [Sort(field=f, descending=d) for f in SortField for d in (True, False)]
    for flt in FILTERS:
        assert await store.count_records(flt) == await reference.count_records(flt), flt
        for sort in sorts:
            expected = await reference.list_records(flt, sort=sort, limit=100)
            assert [r.id for r in await _all(store, flt, sort)] == [r.id for r in expected.records], (flt, sort)


async def test_paging_is_stable_while_rows_are_inserted(store: SqliteMemory) -> None:
    await store.add_records([MemoryRecord(id=f"old{i:02d}", item=MemoryItem(user_id="u", memory=f"m{i}"),
                                          created_at=_at(i), updated_at=_at(i)) for i in range(12)])
    seen: list[str] = []
    for sort in (Sort(), Sort(field=SortField.CREATED, descending=False)):
        cursor, ids = None, []
        while True:
            page = await store.list_records(MemoryFilter(user_id="u"), sort=sort, limit=5, cursor=cursor)
            ids += [r.id for r in page.records]
            await store.add_items([MemoryItem(user_id="u", memory="inserted between pages")])
            await store.add_records([MemoryRecord(id=f"mid{len(seen) + len(ids)}", created_at=_at(5.5),
                                                  updated_at=_at(5.5), item=MemoryItem(user_id="u", memory="x"))])
            if (cursor := page.next_cursor) is None:
                break
        old = [i for i in ids if i.startswith("old")]
        assert old == sorted(old, reverse=sort.descending) and len(old) == len(set(old)) == 12
        assert len(ids) == len(set(ids))
        seen += ids


async def test_a_users_page_by_last_update_merges_edited_and_unedited_memories(store: SqliteMemory) -> None:
    """Schema 7 keeps only edited rows in the user's by-update index: a page by update merges them with the
    others (read by creation), and must list exactly what one index would, in every direction and page size."""
    records = [MemoryRecord(id=f"r{i:02d}", item=MemoryItem(user_id="u" if i % 4 else "v", memory=f"m{i}",
                                                             tags=["even"] if i % 2 == 0 else []),
                            created_at=_at(i), updated_at=_at(i + (i % 3) * 7.5 - (i == 9) * 2)) for i in range(40)]
    records.append(MemoryRecord(id="tie", item=MemoryItem(user_id="u", memory="same time as r05, unedited"),
                                created_at=_at(5), updated_at=_at(5)))
    reference = InMemoryEditor()
    for target in (reference, store):
        await target.add_records(records)
    edited = (await store.list_records(MemoryFilter(user_id="u"), limit=3)).records[-1]
    for target in (reference, store):  # an edit through the store moves the memory to the top
        await target.update_record(edited.id, MemoryPatch(memory="edited now"), expected_version=edited.version)
    for flt in (MemoryFilter(user_id="u"), MemoryFilter(user_id="u", tags_any=("even",)), MemoryFilter(user_id="v")):
        for descending in (True, False):
            sort = Sort(field=SortField.UPDATED, descending=descending)
            expected = [r.id for r in (await reference.list_records(flt, sort=sort, limit=100)).records]
            for limit in (1, 4, 100):
                assert [r.id for r in await _all(store, flt, sort, limit)] == expected, (flt, sort, limit)
    assert (await store.list_records(MemoryFilter(user_id="u"), limit=1)).records[0].id == edited.id
    users = {u.user_id: u.last_activity for u in (await store.list_users()).users}
    for user in ("u", "v"):  # v's last activity is an edited memory's update, u's the edit through the store
        assert users[user] == max(r.updated_at for r in await _all(store, MemoryFilter(user_id=user)))


async def test_list_users_counts_prefix_and_pages(store: SqliteMemory) -> None:
    counts = {"al": 1, "alex": 2, "alice": 3, "bob": 1, "al\U0010ffff": 1}
    for user, n in counts.items():
        await store.add_items([MemoryItem(user_id=user, memory=f"{user} {i}") for i in range(n)])
    page = await store.list_users(prefix="al", limit=2)
    assert [(u.user_id, u.memory_count) for u in page.users] == [("al", 1), ("alex", 2)]
    rest = await store.list_users(prefix="al", limit=2, cursor=page.next_cursor)
    assert [(u.user_id, u.memory_count) for u in rest.users] == [("alice", 3), ("al\U0010ffff", 1)]
    assert rest.next_cursor is None
    everyone = await store.list_users()
    assert [u.user_id for u in everyone.users] == sorted(counts)
    alice = [r.updated_at for r in await _all(store, MemoryFilter(user_id="alice"))]
    assert everyone.users[2].last_activity == max(alice)
    assert (await store.list_users(prefix="al\U0010ffff")).users[0].user_id == "al\U0010ffff"
    for bad in ({"limit": 0}, {"cursor": "bm90IGpzb24="}):
        with pytest.raises(InvalidInputError):
            await store.list_users(**bad)


async def test_get_update_conflict_and_delete(store: SqliteMemory) -> None:
    await store.add_items([MemoryItem(user_id="u", memory="Alice rides a blue bicycle", tags=["t"])])
    record = (await _all(store, MemoryFilter(user_id="u")))[0]
    assert await store.get_record(record.id) == record
    updated = await store.update_record(record.id, MemoryPatch(memory="Alice drives a red scooter", tags=["x"]),
                                        expected_version=1)
    assert (updated.version, updated.item.tags, updated.created_at) == (2, ["x"], record.created_at)
    assert await store.get_record(record.id) == updated
    assert [r.memory for r in await store.search("scooter", user_id="u")] == ["Alice drives a red scooter"]
    assert await store.search("bicycle", user_id="u") == []
    assert await store.count_records(MemoryFilter(tags_any=("t",))) == 0
    with pytest.raises(VersionConflictError) as conflict:
        await store.update_record(record.id, MemoryPatch(memory="stale"), expected_version=1)
    assert conflict.value.current == updated
    with pytest.raises(InvalidInputError, match="tags"):
        await store.update_record(record.id, MemoryPatch(tags=None), expected_version=2)
    assert await store.delete_records([record.id, "missing", record.id]) == 1
    with pytest.raises(VersionConflictError) as gone:
        await store.update_record(record.id, MemoryPatch(memory="back?"), expected_version=2)
    assert gone.value.current is None
    with pytest.raises(NotFoundError):
        await store.get_record(record.id)
    with pytest.raises(InvalidInputError):
        await store.delete_records(record.id)


async def test_add_records_round_trips_and_replaces(store: SqliteMemory) -> None:
    plus2 = dt.timezone(dt.timedelta(hours=2))
    record = MemoryRecord(
        id="imported-1", created_at=dt.datetime(1969, 7, 20, 20, 17, 40, 123456, UTC),
        updated_at=dt.datetime(2024, 2, 29, 23, 59, 59, 999999, plus2), version=7,
        item=MemoryItem(user_id="ü", memory="Mondlandung", tags=["x", "x", "y"],
                        metadata={"deep": {"list": [1, 2.5, None, True]}, "big": 2**70},
                        conversation=[{"role": "user", "content": "🚀"}]))
    await store.add_records([record])
    assert await store.get_record("imported-1") == record
    newer = record.model_copy(update={"version": 8, "item": record.item.model_copy(update={"memory": "Apollo"})})
    with pytest.raises(InvalidInputError, match=r"record 1: id imported-1 is also record 0's"):
        await store.add_records([record, newer])  # an id twice in one batch: which one is meant?
    await store.add_records([newer])  # an id that exists: the record is replaced
    assert await store.get_record("imported-1") == newer
    assert await store.count_records(MemoryFilter()) == 1
    assert [r.memory for r in await store.search("apollo", user_id="ü")] == ["Apollo"]
    with pytest.raises(InvalidInputError, match="record 0"):
        await store.add_records([{"id": "x"}])  # type: ignore[list-item]


async def test_bad_cursors_and_limits_are_input_errors(store: SqliteMemory) -> None:
    for kwargs in ({"limit": 0}, {"cursor": "!!"}, {"cursor": "WyJhIl0="}):
        with pytest.raises(InvalidInputError):
            await store.list_records(MemoryFilter(), **kwargs)


# --- durability, processes, schema -------------------------------------------------------------------------

async def test_reopen_keeps_everything_and_records_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "m.db"
    async with await SqliteMemory.open(path) as first:
        await first.add_items([MemoryItem(user_id="u", memory="persisted across opens", tags=["keep"])])
        await first.ping()
    async with await SqliteMemory.open(path) as second:
        assert [r.memory for r in await second.search("persist", user_id="u")] == ["persisted across opens"]
        assert await second.count_records(MemoryFilter(tags_all=("keep",))) == 1
    with pytest.raises(StoreUnavailableError, match="closed"):
        await second.ping()
    await second.aclose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert schema.get_meta(conn, "fts_layout") == index.layout("porter unicode61 remove_diacritics 2")


async def test_a_newer_schema_or_a_bad_tokenizer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    async with await SqliteMemory.open(path):
        pass
    with pytest.raises(ConfigError, match="tokenizer"):
        await SqliteMemory.open(path, fts_tokenizer="no_such_tokenizer")
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    with pytest.raises(StoreUnavailableError, match="newer"):
        await SqliteMemory.open(path)
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    with pytest.raises(StoreUnavailableError):
        await SqliteMemory.open(tmp_path / "junk.db")


async def test_index_is_rebuilt_when_retrieval_columns_or_tokenizer_change(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.db"
    async with await SqliteMemory.open(path) as store:
        await store.add_items([MemoryItem(user_id="u", memory="plain words", metadata={"animal": "zebra"})])
        assert await store.search("zebra", user_id="u") == []  # metadata values are not searched
    fields = retrieval.document_fields
    monkeypatch.setattr(retrieval, "FTS_COLUMNS", (*retrieval.FTS_COLUMNS, "tagtext"))
    monkeypatch.setattr(retrieval, "FTS_WEIGHTS", (*retrieval.FTS_WEIGHTS, 0.3))
    monkeypatch.setattr(retrieval, "document_fields",
                        lambda item: {**fields(item), "tagtext": " ".join(map(str, item.metadata.values()))})
    async with await SqliteMemory.open(path) as store:
        assert [r.memory for r in await store.search("zebra", user_id="u")] == ["plain words"]
    with sqlite3.connect(path) as conn:
        assert "tagtext" in schema.get_meta(conn, "fts_layout")
    monkeypatch.undo()
    async with await SqliteMemory.open(path, fts_tokenizer="unicode61") as store:
        assert [r.memory for r in await store.search("plain", user_id="u")] == ["plain words"]
        assert await store.search("zebra", user_id="u") == []


_WRITER = """
import asyncio, sys
from memory_core.models import MemoryItem
from memory_core.providers.sqlite import SqliteMemory

async def main(path, user):
    async with await SqliteMemory.open(path, busy_timeout_ms=20000) as store:
        for batch in range(25):
            await store.add_items([MemoryItem(user_id=user, memory=f"{user} wrote {batch}.{i}") for i in range(8)])

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_two_processes_write_concurrently_without_losing_rows(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), user], cwd=ROOT, stderr=subprocess.PIPE)
             for user in ("p1", "p2")]
    async with await SqliteMemory.open(path) as store:
        while any(p.poll() is None for p in procs):  # read while they write
            await store.count_records(MemoryFilter())
            await asyncio.sleep(0.05)
        for p in procs:
            assert p.wait() == 0, p.stderr.read().decode() if p.stderr else ""
        assert [(u.user_id, u.memory_count) for u in (await store.list_users()).users] == [("p1", 200), ("p2", 200)]
        assert len(await store.search("wrote", user_id="p2", top_k=500)) == 200


async def test_concurrent_calls_in_one_process(store: SqliteMemory) -> None:
    adds = [store.add_items([MemoryItem(user_id="u", memory=f"parallel note {i}")]) for i in range(20)]
    reads = [store.search("parallel note", user_id="u") for _ in range(10)]
    await asyncio.gather(*adds, *reads)
    assert await store.count_records(MemoryFilter(user_id="u")) == 20


# --- hybrid search -----------------------------------------------------------------------------------------

async def test_hybrid_search_finds_by_meaning_and_keeps_vectors_in_sync(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    embedder = WordEmbedder()
    async with await SqliteMemory.open(path, embedder=embedder) as store:
        assert Capability.VECTOR_SEARCH in store.capabilities
        await store.add_items([MemoryItem(user_id="u", memory="I drive my car to work"),
                               MemoryItem(user_id="u", memory="Bananas are yellow"),
                               MemoryItem(user_id="v", memory="Their car is red")])
        assert embedder.embedded == 3
        hits = await store.search_records("automobile", user_id="u", top_k=1)
        assert [h.record.item.memory for h in hits] == ["I drive my car to work"]
        assert "vector" in hits[0].parts and 0 <= hits[0].score <= 1
        record = hits[0].record
        await store.update_record(record.id, MemoryPatch(memory="I pet my cat"), expected_version=1)
        assert [h.record.item.memory for h in await store.search_records("feline", user_id="u", top_k=1)] == [
            "I pet my cat"]
        await store.update_record(record.id, MemoryPatch(tags=["pets"]), expected_version=2)
        assert embedder.embedded == 4 + 2  # two queries, one changed text; a tag change embeds nothing
    async with await SqliteMemory.open(path) as plain:  # without an embedder: text only
        assert Capability.VECTOR_SEARCH not in plain.capabilities
        assert await plain.search("automobile", user_id="u") == []
        await plain.add_items([MemoryItem(user_id="u", memory="A vehicle without a vector")])
    again = WordEmbedder()
    async with await SqliteMemory.open(path, embedder=again) as store:
        assert again.embedded == 1  # only the row written without an embedder
        assert "A vehicle without a vector" in [r.memory for r in await store.search("automobile", user_id="u")]
    other = WordEmbedder("test-words-v2")
    async with await SqliteMemory.open(path, embedder=other):
        assert other.embedded == 4  # another model: every row is embedded again
    with sqlite3.connect(path) as conn:
        assert '"test-words-v2"' in schema.get_meta(conn, "embedder")
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == 4


def float32_of(blob: bytes) -> bytes:
    """A stored vector as schemas 5 and before kept it: float32 components."""
    return vectors.decode([blob])[0].tobytes()


def stored_lengths(conn: sqlite3.Connection) -> set[int]:
    return {length for length, in conn.execute("SELECT length(embedding) FROM vectors")}


def downgrade_to_schema_5(conn: sqlite3.Connection) -> None:
    """Put a file back as schema 5 wrote it: float32 vectors, the user's rows by update in one full index."""
    conn.create_function("float32_of", 1, float32_of)
    conn.execute("UPDATE vectors SET embedding = float32_of(embedding)")
    conn.execute("DROP INDEX memories_user_edited")
    conn.execute("CREATE INDEX memories_user_updated ON memories (user_id, updated_us, id)")
    conn.execute("PRAGMA user_version = 5")


def downgrade_vectors_to_schema_5(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    downgrade_to_schema_5(conn)
    conn.close()


async def test_sqlite_file_of_schema_5_keeps_its_vectors_in_a_quarter_of_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    texts = ("I drive my car to work", "Bananas are yellow", "My automobile is blue", "Work starts at nine")
    async with await SqliteMemory.open(path, embedder=WordEmbedder()) as store:
        await store.add_items([MemoryItem(user_id="u", memory=text) for text in texts])
        before = [(r.record.item.memory, r.score) for r in await store.search_records("automobile car", user_id="u")]
    downgrade_vectors_to_schema_5(path)
    with sqlite3.connect(path) as conn:
        assert stored_lengths(conn) == {4 * WordEmbedder.dimension}
    conn.close()
    embedder = WordEmbedder()
    async with await SqliteMemory.open(path, embedder=embedder) as store:
        assert embedder.embedded == 0  # every vector converted, none embedded again
        after = [(r.record.item.memory, r.score) for r in await store.search_records("automobile car", user_id="u")]
    assert [memory for memory, _ in after] == [memory for memory, _ in before]
    assert [score for _, score in after] == pytest.approx([score for _, score in before], abs=0.002)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert stored_lengths(conn) == {WordEmbedder.dimension + 4}  # the scale, then a byte a component
    conn.close()


def test_sqlite_vectors_score_within_0_002_of_float32_from_a_few_hundred_dimensions() -> None:
    rng = np.random.default_rng(5)
    for dimension, bound in ((64, 0.005), (384, 0.002), (768, 0.002), (1024, 0.002)):
        matrix = normalise(rng.standard_normal((500, dimension)).astype(np.float32))
        query = normalise(rng.standard_normal((1, dimension)).astype(np.float32))[0]
        stored = vectors.decode([vectors.encode(vector) for vector in matrix])
        assert np.abs(stored @ query - matrix @ query).max() < bound
    assert vectors.decode([vectors.encode(np.zeros(8, dtype=np.float32))]).tolist() == [[0.0] * 8]


def downgrade_vectors_to_schema_4(path: Path) -> None:
    """Put a file's vectors back in the layout schema 4 wrote: keyed by rowid, with a user_id column, float32."""
    conn = sqlite3.connect(path, isolation_level=None)
    downgrade_to_schema_5(conn)
    conn.execute("BEGIN")
    conn.execute("DROP TRIGGER memories_deleted")
    conn.execute("CREATE TABLE old_vectors (rid INTEGER PRIMARY KEY, user_id TEXT NOT NULL, embedding BLOB NOT NULL)")
    conn.execute("INSERT INTO old_vectors SELECT v.rid, m.user_id, v.embedding FROM vectors v "
                 "JOIN memories m USING (rid)")
    conn.execute("DROP TABLE vectors")
    conn.execute("ALTER TABLE old_vectors RENAME TO vectors")
    conn.execute("CREATE INDEX vectors_user ON vectors (user_id)")
    conn.execute(schema.MIGRATIONS[3][-1])  # schema 4's delete trigger
    conn.execute("PRAGMA user_version = 4")
    conn.execute("COMMIT")
    conn.close()


async def test_sqlite_file_of_schema_4_keeps_its_vectors_clustered_by_user(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    async with await SqliteMemory.open(path, embedder=WordEmbedder()) as store:
        await store.add_items([MemoryItem(user_id=user, memory=text) for user, text in (
            ("u", "I drive my car to work"), ("v", "Their car is red"), ("u", "Bananas are yellow"))])
    downgrade_vectors_to_schema_4(path)
    embedder = WordEmbedder()
    async with await SqliteMemory.open(path, embedder=embedder) as store:
        assert embedder.embedded == 0  # every vector moved, none embedded again
        assert [r.memory for r in await store.search("automobile", user_id="u", top_k=1)] == ["I drive my car to work"]
        assert [r.memory for r in await store.search("automobile", user_id="v")] == ["Their car is red"]
        await store.remove_items(user_id="v")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        keys = dict(conn.execute("SELECT user_id, key FROM fts_owners"))
        assert {vid >> 32 for vid, in conn.execute("SELECT vid FROM vectors")} == {keys["u"]}  # v's went with v
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == 2
    conn.close()


async def test_tuning_retrieval_text_functions_reindexes_on_open(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.db"
    async with await SqliteMemory.open(path, embedder=WordEmbedder()) as store:
        await store.add_items([
            MemoryItem(user_id="u", memory="plain words", metadata={"mood": "zebra", "ride": "automobile"}),
            MemoryItem(user_id="u", memory="yellow bananas")])
    fields, embedding_text = retrieval.document_fields, retrieval.embedding_text

    def with_mood(item: MemoryItem) -> dict[str, str]:
        return {**fields(item), "memory": f"{fields(item)['memory']} {item.metadata.get('mood', '')}"}

    monkeypatch.setattr(retrieval, "document_fields", with_mood)
    same = WordEmbedder()
    async with await SqliteMemory.open(path, embedder=same) as store:
        assert [r.memory for r in await store.search("zebra", user_id="u")] == ["plain words"]
        assert same.embedded == 1  # the query only: the vectors were still current
    monkeypatch.setattr(retrieval, "embedding_text",
                        lambda item: f"{embedding_text(item)} {item.metadata.get('ride', '')}")
    again = WordEmbedder()
    async with await SqliteMemory.open(path, embedder=again) as store:
        assert again.embedded == 2  # every row is embedded again from its new text
        hits = await store.search_records("car", user_id="u")
        assert hits[0].record.item.memory == "plain words" and hits[0].parts["vector"] > 0


async def test_config_builds_the_store_with_a_named_embedder(tmp_path: Path) -> None:
    config = parse_config("embedders:\n  words:\n    _type: test_sqlite_words\n"
                          "memory:\n  notes:\n    _type: sqlite\n    path: data/notes.db\n    embedder: words\n",
                          file=str(tmp_path / "memdash.yml"))
    async with MemoryBuilder(config) as builder:
        store = await builder.get_memory_client("notes")
        assert isinstance(store, SqliteMemory) and store.path == tmp_path / "data" / "notes.db"
        assert Capability.VECTOR_SEARCH in store.capabilities
        await store.add_items([MemoryItem(user_id="u", memory="configured store")])
        assert len(await store.search("configured", user_id="u")) == 1
    assert (tmp_path / "data" / "notes.db").exists()


# --- the shared conformance suite --------------------------------------------------------------------------

class TestSqliteConformance(MemoryStoreConformance):
    capabilities = frozenset({Capability.BROWSE_BY_USE, Capability.COUNT, Capability.DELETE_BY_IDS, Capability.EXPIRE,
        Capability.GET, Capability.IMPORT, Capability.LIST, Capability.LIST_ALL_USERS, Capability.LIST_USERS,
        Capability.PAUSE, Capability.PING, Capability.RETRIEVALS, Capability.SEARCH_RECORDS, Capability.STATS,
        Capability.TEXT_SEARCH, Capability.UPDATE})
    @pytest.fixture
    async def editor(self, tmp_path: Path) -> AsyncIterator[SqliteMemory]:
        config = parse_config(f"memory:\n  m:\n    _type: sqlite\n    path: {tmp_path}/m.db\n")
        async with MemoryBuilder(config) as builder:
            yield await builder.get_memory_client("m")


class TestSqliteHybridConformance(MemoryStoreConformance):
    capabilities = frozenset({Capability.BROWSE_BY_USE, Capability.COUNT, Capability.DELETE_BY_IDS, Capability.EXPIRE,
        Capability.GET, Capability.IMPORT, Capability.LIST, Capability.LIST_ALL_USERS, Capability.LIST_USERS,
        Capability.PAUSE, Capability.PING, Capability.RETRIEVALS, Capability.SEARCH_RECORDS, Capability.STATS,
        Capability.TEXT_SEARCH, Capability.UPDATE, Capability.VECTOR_SEARCH})
    @pytest.fixture
    async def editor(self, tmp_path: Path) -> AsyncIterator[SqliteMemory]:
        config = parse_config("embedders:\n  h:\n    _type: hashing\n"
                              f"memory:\n  m:\n    _type: sqlite\n    path: {tmp_path}/m.db\n    embedder: h\n")
        async with MemoryBuilder(config) as builder:
            yield await builder.get_memory_client("m")


async def test_closing_while_another_process_holds_the_write_lock_still_closes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen in CI: PRAGMA optimize at close met another process's write lock; closing must still close."""
    from memory_core.providers.sqlite import store as store_module

    path = tmp_path / "m.db"
    store = await SqliteMemory.open(path)
    await store.add_items([MemoryItem(user_id="u", memory="kept")])
    plain = store_module._execute

    def locked(conn: sqlite3.Connection, sql: str) -> None:
        if sql.startswith("PRAGMA optimize"):
            raise sqlite3.OperationalError("database is locked")
        plain(conn, sql)

    monkeypatch.setattr(store_module, "_execute", locked)
    await store.aclose()
    monkeypatch.undo()
    async with await SqliteMemory.open(path) as again:
        assert [i.memory for i in await again.search("kept", user_id="u")] == ["kept"]
