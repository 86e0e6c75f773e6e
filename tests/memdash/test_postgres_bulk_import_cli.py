"""``memdash import`` into a PostgreSQL store with vectors: an import at least ``backup.BULK_ROWS`` rows long and
as large as the store is a bulk load (the HNSW index dropped, built once at the end, vector search working after),
every row audited; a smaller one goes row by row into the index."""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml

from memdash import backup
from memdash.cli import main
from memory_core.audit import AuditQuery, SqliteAuditLog
from memory_core.providers.postgres import PostgresMemory
from tests.helpers.servers_postgres import pgvector_server  # noqa: F401 - fixture


def rows(start: int, n: int) -> list[dict]:
    return [{"id": f"r{i:04d}", "user_id": f"u{i % 3}", "memory": f"note {i} about topic{i}",
             "created_at": "2024-02-01T00:00:00+00:00", "updated_at": "2024-02-01T00:00:00+00:00"}
            for i in range(start, start + n)]


def index_state(dsn: str, schema: str) -> bool | None:
    """Whether the HNSW index is valid (None: there is none)."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
                             (f"{schema}.memories_embedding",)).fetchone()
    return found[0] if found else None


def test_a_large_import_is_a_bulk_load_and_a_small_one_is_not(pgvector_server: str, tmp_path: Path,  # noqa: F811
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    schema = f"t_{uuid.uuid4().hex[:10]}"
    config = tmp_path / "memdash.yml"
    config.write_text(yaml.safe_dump({
        "embedders": {"h": {"_type": "hashing", "dimension": 64}},
        "memory": {"pg": {"_type": "postgres", "dsn": pgvector_server, "schema": schema, "embedder": "h"}}}))
    monkeypatch.setattr(backup, "BULK_ROWS", 50)
    during: list[bool | None] = []
    loading = PostgresMemory.bulk_loading

    @contextlib.asynccontextmanager
    async def watched(self: PostgresMemory):
        async with loading(self):
            during.append(index_state(pgvector_server, schema))
            yield

    monkeypatch.setattr(PostgresMemory, "bulk_loading", watched)
    for name, data in (("big", rows(0, 60)), ("small", rows(60, 20))):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))
    assert main(["import", "--config", str(config), str(tmp_path / "big.jsonl"), "pg"]) == 0
    assert during == [None]  # no index while the rows went in...
    assert index_state(pgvector_server, schema) is True  # ...one valid index after
    assert main(["import", "--config", str(config), str(tmp_path / "small.jsonl"), "pg"]) == 0
    assert during == [None]  # 20 rows into a store of 60: into the index as they come
    log = SqliteAuditLog(tmp_path / "memdash-audit.sqlite3")
    try:
        assert log.count(AuditQuery(store="pg", operation="add")) == 80  # one audited add per imported row
    finally:
        log.close()
