"""The ``sqlite`` store's full-text index in per-user token spaces: isolation, ranking, and files of schema 2."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from memory_core import retrieval
from memory_core.models import MemoryItem
from memory_core.providers.sqlite import SqliteMemory, index, schema
from memory_core.records import MemoryFilter

TOKENIZER = "porter unicode61 remove_diacritics 2"


def terms_in_index(path: Path) -> set[str]:
    """Every term of the file's full-text index."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, memories_fts, 'row')")
        found = {term for term, in conn.execute("SELECT term FROM temp.vocab")}
    conn.close()
    return found


async def test_sqlite_search_never_returns_another_users_memories(tmp_path: Path) -> None:
    async with await SqliteMemory.open(tmp_path / "m.db") as store:
        await store.add_items([MemoryItem(user_id="bob", memory=f"Bob drinks green tea, cup {i}") for i in range(60)])
        await store.add_items([MemoryItem(user_id="alice", memory="Alice drinks green tea"),
                               MemoryItem(user_id="alice", memory="Alice paints on Sundays")])
        found = await store.search("green tea drinks", top_k=50, user_id="alice")
        assert [r.memory for r in found] == ["Alice drinks green tea"]
        assert len(await store.search("tea", top_k=100, user_id="bob")) == 60
        assert await store.search("tea", user_id="carol") == []  # a user with no memories


async def test_sqlite_search_ranks_and_finds_tags_and_speakers(tmp_path: Path) -> None:
    async with await SqliteMemory.open(tmp_path / "m.db") as store:
        await store.add_items([
            MemoryItem(user_id="u", memory="We went hiking in the mountains and hiking again in the hills"),
            MemoryItem(user_id="u", memory="A long day at work; some hiking plans maybe later this year"),
            MemoryItem(user_id="u", memory="Dinner with friends", tags=["restaurant_review"]),
            MemoryItem(user_id="u", memory="Glad you liked it",
                       conversation=[{"role": "Melanie", "content": "I painted a sunset"},
                                     {"role": "assistant", "content": "Glad you liked it"}]),
            MemoryItem(user_id="other", memory="restaurant review of the hills, hiking"),
        ])
        assert [r.memory for r in await store.search("hiking hills", top_k=2, user_id="u")] == [
            "We went hiking in the mountains and hiking again in the hills",
            "A long day at work; some hiking plans maybe later this year"]
        assert [r.memory for r in await store.search("restaurant", user_id="u")] == ["Dinner with friends"]
        assert [r.memory for r in await store.search("Melanie sunset", user_id="u")] == ["Glad you liked it"]


async def test_sqlite_index_holds_each_word_in_its_users_token_space(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    async with await SqliteMemory.open(path) as store:
        await store.add_items([MemoryItem(user_id="alice", memory="tea"), MemoryItem(user_id="bob", memory="tea")])
    with sqlite3.connect(path) as conn:
        keys = dict(conn.execute("SELECT user_id, key FROM fts_owners"))
    conn.close()
    alice, bob = index.key_token(keys["alice"]), index.key_token(keys["bob"])
    assert terms_in_index(path) == {alice, bob, alice + "tea", bob + "tea"}


async def test_sqlite_forgetting_a_user_removes_their_index_key(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    async with await SqliteMemory.open(path) as store:
        await store.add_items([MemoryItem(user_id="alice@example.com", memory=f"note {i}") for i in range(3)]
                              + [MemoryItem(user_id="bob", memory="note")])
        await store.remove_items(user_id="alice@example.com")
        await store.add_items([MemoryItem(user_id="carol", memory="note")])
        assert [r.memory for r in await store.search("note", user_id="carol")] == ["note"]
        assert await store.search("note", user_id="alice@example.com") == []
    with sqlite3.connect(path) as conn:
        assert {u for u, in conn.execute("SELECT user_id FROM fts_owners")} == {"bob", "carol"}
    conn.close()


def test_sqlite_key_tokens_never_read_as_another_key_plus_a_word() -> None:
    keys = (1, 12, 123, 999_999_999)
    assert len({index.key_token(k) + w for k in keys for w in ("3pm", "23pm", "pm")}) == 12
    assert index.key_token(7) == "17" and index.key_token(1000) == "41000"


# --- a file written by schema 2 (one owner token per row, words shared by every user) -------------------------

def old_owner_token(user_id: str) -> str:
    """The owner column's token in schema 2 files."""
    return str(int.from_bytes(hashlib.blake2b(user_id.encode(), digest_size=12).digest(), "big"))


def write_schema_2_file(path: Path, items: list[MemoryItem]) -> None:
    """The file memdash wrote before per-user token spaces: tables of schema 2, the index as index.py made it."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in (*schema.MIGRATIONS[0][:-1], f"CREATE VIRTUAL TABLE memories_fts USING fts5(owner_key, "
                                                  f"memory, context, meta, tokenize = '{TOKENIZER}')",
                      schema.MIGRATIONS[0][-1], *schema.MIGRATIONS[1]):
        conn.execute(statement)
    for rid, item in enumerate(items, 1):
        conn.execute("INSERT INTO memories VALUES (?, ?, ?, ?, NULL, ?, '{}', ?, ?, 1)",
                     (rid, f"id{rid}", item.user_id, item.memory, json.dumps(item.tags), rid, rid))
        conn.executemany("INSERT INTO memory_tags VALUES (?, ?)", [(rid, tag) for tag in item.tags])
        fields = retrieval.document_fields(item)
        conn.execute("INSERT INTO memories_fts (rowid, owner_key, memory, context, meta) VALUES (?, ?, ?, ?, ?)",
                     (rid, old_owner_token(item.user_id), fields["memory"], fields["context"], fields["meta"]))
    old_layout = json.loads(index.layout(TOKENIZER))
    del old_layout["tokens"]
    schema.set_meta(conn, "fts_layout", json.dumps(old_layout))
    conn.execute("PRAGMA user_version = 2")
    conn.close()


async def test_sqlite_file_of_schema_2_is_migrated_and_its_index_rebuilt_per_user(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    write_schema_2_file(path, [MemoryItem(user_id="alice", memory="Alice drinks green tea", tags=["drink"]),
                               MemoryItem(user_id="bob", memory="Bob drinks black tea"),
                               MemoryItem(user_id="alice", memory="Alice paints on Sundays")])
    assert "tea" in terms_in_index(path)
    async with await SqliteMemory.open(path) as store:
        assert [r.memory for r in await store.search("tea", user_id="alice")] == ["Alice drinks green tea"]
        assert [r.memory for r in await store.search("drink", user_id="alice")] == ["Alice drinks green tea"]
        assert [r.memory for r in await store.search("tea", user_id="bob")] == ["Bob drinks black tea"]
        assert await store.count_records(MemoryFilter(tags_all=("drink",))) == 1
        await store.remove_items(user_id="bob")  # the new delete trigger: bob's key goes with his last memory
        await store.add_items([MemoryItem(user_id="carol", memory="Carol drinks tea")])
        assert [r.memory for r in await store.search("tea", user_id="carol")] == ["Carol drinks tea"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION >= 3
        assert schema.get_meta(conn, "fts_layout") == index.layout(TOKENIZER)
        assert {u for u, in conn.execute("SELECT user_id FROM fts_owners")} == {"alice", "carol"}
    conn.close()
    assert "tea" not in terms_in_index(path)  # no word is shared between users any more
