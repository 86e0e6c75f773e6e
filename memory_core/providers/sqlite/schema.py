"""Tables of the sqlite store and their versioned migrations.

``PRAGMA user_version`` is the schema version; ``MIGRATIONS[n]`` takes a file from version ``n`` to ``n + 1``.
The full-text index is not versioned here: its layout follows :mod:`memory_core.retrieval` and is rebuilt
by :mod:`.index` whenever it changes (v3, which gave each user a token space, has it rebuilt).
"""

from __future__ import annotations

import sqlite3

from memory_core.errors import StoreUnavailableError

_V1 = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE memories (
        rid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL,
        memory TEXT,
        conversation TEXT,
        tags TEXT NOT NULL,
        metadata TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL,
        version INTEGER NOT NULL)""",
    "CREATE INDEX memories_user_updated ON memories (user_id, updated_us, id)",
    "CREATE INDEX memories_user_created ON memories (user_id, created_us, id)",
    "CREATE INDEX memories_updated ON memories (updated_us, id)",
    "CREATE INDEX memories_created ON memories (created_us, id)",
    "CREATE TABLE memory_tags (rid INTEGER NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (rid, tag)) WITHOUT ROWID",
    "CREATE INDEX memory_tags_tag ON memory_tags (tag, rid)",
    "CREATE TABLE vectors (rid INTEGER PRIMARY KEY, user_id TEXT NOT NULL, embedding BLOB NOT NULL)",
    "CREATE INDEX vectors_user ON vectors (user_id)",
    # memories_fts is created by index.py; a trigger body is resolved when it runs.
    """CREATE TRIGGER memories_deleted AFTER DELETE ON memories BEGIN
        DELETE FROM memory_tags WHERE rid = old.rid;
        DELETE FROM vectors WHERE rid = old.rid;
        DELETE FROM memories_fts WHERE rowid = old.rid;
    END""",
)

_V2 = (  # which memories the agent's search returned (memory_core.usage); the counts go with the memory
    "CREATE TABLE retrievals (id TEXT PRIMARY KEY, count INTEGER NOT NULL, last_us INTEGER NOT NULL) WITHOUT ROWID",
    "DROP TRIGGER memories_deleted",
    """CREATE TRIGGER memories_deleted AFTER DELETE ON memories BEGIN
        DELETE FROM memory_tags WHERE rid = old.rid;
        DELETE FROM vectors WHERE rid = old.rid;
        DELETE FROM memories_fts WHERE rowid = old.rid;
        DELETE FROM retrievals WHERE id = old.id;
    END""",
)

_V3 = (  # per-user token spaces of the text index (index.py): each user's key, gone with the user's last memory
    "CREATE TABLE fts_owners (key INTEGER PRIMARY KEY, user_id TEXT NOT NULL UNIQUE)",
    "DROP TRIGGER memories_deleted",
    """CREATE TRIGGER memories_deleted AFTER DELETE ON memories BEGIN
        DELETE FROM memory_tags WHERE rid = old.rid;
        DELETE FROM vectors WHERE rid = old.rid;
        DELETE FROM memories_fts WHERE rowid = old.rid;
        DELETE FROM retrievals WHERE id = old.id;
        DELETE FROM fts_owners WHERE user_id = old.user_id
            AND NOT EXISTS (SELECT 1 FROM memories WHERE user_id = old.user_id);
    END""",
    "DELETE FROM meta WHERE key = 'fts_layout'",  # the index is rebuilt in the new layout on this open
)

_ON_DELETE_V4 = """CREATE TRIGGER memories_deleted AFTER DELETE ON memories BEGIN
        DELETE FROM memory_tags WHERE rid = old.rid;
        DELETE FROM vectors WHERE rid = old.rid;
        DELETE FROM memories_fts WHERE rowid = old.rid;
        DELETE FROM retrievals WHERE id = old.id;
        DELETE FROM retrieval_events WHERE id = old.id;
        DELETE FROM fts_owners WHERE user_id = old.user_id
            AND NOT EXISTS (SELECT 1 FROM memories WHERE user_id = old.user_id);
    END"""

_V4 = (  # the detailed retrieval log (memory_core.usage.LogSettings): each memory's last retrievals, gone with it
    """CREATE TABLE retrieval_events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, at_us INTEGER NOT NULL,
        rank INTEGER NOT NULL, query_hash TEXT NOT NULL, query TEXT)""",
    "CREATE INDEX retrieval_events_id ON retrieval_events (id, seq)",
    "DROP TRIGGER memories_deleted",
    _ON_DELETE_V4,
)

_V5 = (  # vectors clustered by user (vectors.vector_id: the user's index key above the rowid), one range a search
    "DROP TRIGGER memories_deleted",  # it names the vectors table, which is swapped here
    "INSERT OR IGNORE INTO fts_owners (user_id) SELECT DISTINCT user_id FROM vectors",
    "CREATE TABLE vectors_v5 (vid INTEGER PRIMARY KEY, rid INTEGER NOT NULL UNIQUE, embedding BLOB NOT NULL)",
    "INSERT INTO vectors_v5 SELECT o.key << 32 | v.rid, v.rid, v.embedding FROM vectors v JOIN fts_owners o "
    "USING (user_id) ORDER BY 1",
    "DROP TABLE vectors",
    "ALTER TABLE vectors_v5 RENAME TO vectors",
    _ON_DELETE_V4,
)

_V6 = (  # vectors as int8 with a per-vector scale (vectors.encode): a quarter of the pages a search reads
    "UPDATE vectors SET embedding = memdash_int8(embedding)",
)

_V7 = (  # a user's rows by last update: the edited ones from their own index, the others by creation (queries.page)
    "DROP INDEX memories_user_updated",  # every insert dirtied a page of it per user: half of ingest at 1M rows
    "CREATE INDEX memories_user_edited ON memories (user_id, updated_us, id) WHERE updated_us <> created_us",
    "DROP INDEX memories_user_created",  # again with updated_us: the unedited are told apart in the index alone
    "CREATE INDEX memories_user_created ON memories (user_id, created_us, id, updated_us)",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, path: str) -> int:
    """Bring the file to :data:`SCHEMA_VERSION` inside the caller's transaction; returns the version found."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise StoreUnavailableError(
            f"sqlite store {path} has schema version {found}, newer than this memdash reads ({SCHEMA_VERSION}); "
            "upgrade memdash"
        )
    for version in range(found, SCHEMA_VERSION):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return found


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (key, value))
