"""``memdash state init``: the PostgreSQL state created by the role that owns it, the dashboard's role granted what
it needs and nothing more; before that the dashboard's role cannot open it and says why, after it the dashboard
works as that role and still cannot drop a trigger. Idempotent; refused for a SQLite state."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg.conninfo import make_conninfo

from dashboard.services import memories
from dashboard.services.hub import StoreHub
from memdash import cli
from memory_core.access import LOCAL_ADMIN
from memory_core.audit import AuditQuery
from memory_core.errors import AuditLogError
from memory_core.models import MemoryItem


@pytest.fixture
def roles(pgvector_server: str) -> tuple[str, str]:
    """An owner that may create schemas, and the dashboard's role, which may not."""
    suffix = uuid.uuid4().hex[:8]
    owner, app = f"owner_{suffix}", f"app_{suffix}"
    with psycopg.connect(pgvector_server, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{owner}" LOGIN')
        conn.execute(f'GRANT CREATE ON DATABASE postgres TO "{owner}"')
        conn.execute(f'CREATE ROLE "{app}" LOGIN')
    return owner, app


def test_state_postgres_init_as_owner_then_run_as_a_role_owning_nothing(
        tmp_path: Path, pgvector_server: str, roles: tuple[str, str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    owner, app = roles
    schema = f"state_{uuid.uuid4().hex[:8]}"
    config = tmp_path / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "in_memory"}}, "memdash": {"state": {
        "_type": "postgres", "dsn": make_conninfo(pgvector_server, user=app), "schema": schema}}}))
    hub = StoreHub(str(config))
    with pytest.raises(AuditLogError, match="permission denied"):  # not created yet, and this role may not
        memories.add_memory(hub, LOCAL_ADMIN, "main", MemoryItem(user_id="u", memory="refused before init"))
    hub.close()

    monkeypatch.setenv("MEMDASH_STATE_OWNER_DSN", make_conninfo(pgvector_server, user=owner))
    for _ in range(2):  # a second run changes nothing
        assert cli.main(["state", "init", "--config", str(config), "--grant", app]) == 0
        out = capsys.readouterr().out
        assert f"state ready: postgresql {owner}@" in out and f"granted role '{app}'" in out

    hub = StoreHub(str(config))
    try:
        assert memories.add_memory(hub, LOCAL_ADMIN, "main", MemoryItem(user_id="u", memory="audited as the app"))
        assert hub.audit.count(AuditQuery()) == 1
    finally:
        hub.close()
    with psycopg.connect(make_conninfo(pgvector_server, user=app), autocommit=True,
                         options=f"-c search_path={schema}") as conn, pytest.raises(psycopg.Error, match="owner"):
        conn.execute("DROP TRIGGER audit_no_delete ON audit_entries")


def test_state_postgres_init_refuses_a_sqlite_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "in_memory"}}}))
    assert cli.main(["state", "init", "--config", str(config)]) == 1
    assert "memdash.state is not PostgreSQL" in capsys.readouterr().err
