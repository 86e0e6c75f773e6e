"""``memdash: {state: {_type: postgres, ...}}``: checked with file, line and field; the default stays the SQLite
file beside the config; a hub and the command line write to the PostgreSQL audit log it names."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from dashboard.services import memories
from dashboard.services.hub import StoreHub
from memdash import cli
from memory_core.access import LOCAL_ADMIN
from memory_core.audit import AuditQuery, safety_settings
from memory_core.audit.postgres import PostgresAuditLog
from memory_core.config import load_config
from memory_core.errors import ConfigError
from memory_core.memdash_section import check_memdash_section
from memory_core.models import MemoryItem


def config_file(tmp_path: Path, memdash: dict | None) -> Path:
    path = tmp_path / "memdash.yml"
    path.write_text(yaml.safe_dump({"memory": {"main": {"_type": "in_memory"}}} |
                                   ({"memdash": memdash} if memdash is not None else {})))
    return path


def test_state_postgres_default_is_the_sqlite_file_beside_the_config(tmp_path: Path) -> None:
    for memdash in (None, {"state": {"_type": "sqlite"}}):
        settings = safety_settings(load_config(config_file(tmp_path, memdash)))
        assert settings.postgres is None and settings.audit_path == (tmp_path / "memdash-audit.sqlite3").resolve()


def test_state_postgres_settings_merge_the_password_and_never_show_it(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_PW", "pa55-word")
    path = tmp_path / "memdash.yml"
    path.write_text("memory: {main: {_type: in_memory}}\nmemdash:\n  state:\n    _type: postgres\n"
                    "    dsn: postgresql://app@db.internal:5432/memdash\n    password: ${STATE_PW}\n"
                    "    schema: team_state\n")
    settings = safety_settings(load_config(path))
    assert settings.audit_path is None and settings.postgres is not None
    assert "pa55-word" in settings.postgres.conninfo and settings.postgres.schema == "team_state"
    assert settings.audit_location == "postgresql app@db.internal:5432/memdash (schema team_state)"
    assert "pa55-word" not in repr(settings)


@pytest.mark.parametrize(("state", "extra", "field", "message"), [
    ({"_type": "mysql"}, {}, "memdash.state._type", "_type: sqlite or postgres"),
    ("postgres", {}, "memdash.state", "must be a mapping"),
    ({"_type": "postgres"}, {}, "memdash.state", "dsn: a PostgreSQL connection string"),
    ({"_type": "postgres", "dsn": ""}, {}, "memdash.state.dsn", "connection string .* is needed"),
    ({"_type": "postgres", "dsn": "host=db port=notaport x"}, {}, "memdash.state.dsn", "not a valid"),
    ({"_type": "postgres", "dsn": "postgresql://db/m", "schema": "Bad-Name"}, {}, "memdash.state.schema",
     "schema name"),
    ({"_type": "postgres", "dsn": "postgresql://db/m", "pasword": "x"}, {}, "memdash.state.pasword",
     "unknown key 'pasword'"),
    ({"_type": "sqlite", "dsn": "postgresql://db/m"}, {}, "memdash.state.dsn", "for a sqlite state"),
    ({"_type": "postgres", "dsn": "postgresql://db/m", "connect_timeout": 0}, {}, "memdash.state.connect_timeout",
     "above 0"),
    ({"_type": "postgres", "dsn": "postgresql://db/m"}, {"audit": {"path": "a.db"}}, "memdash.audit.path",
     "in the PostgreSQL state"),
])
def test_state_postgres_mistakes_name_the_field_and_line(tmp_path: Path, state: object, extra: dict, field: str,
                                                         message: str) -> None:
    path = config_file(tmp_path, {"state": state, **extra})
    with pytest.raises(ConfigError, match=message) as info:
        check_memdash_section(load_config(path))
    key = field.split(".")[-1]
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if f"{key}:" in text)
    assert (info.value.field, info.value.line, info.value.file) == (field, line, str(path))


def test_state_postgres_the_hub_and_the_command_write_to_one_log(tmp_path: Path, pgvector_server: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    schema = f"state_{uuid.uuid4().hex[:10]}"
    path = config_file(tmp_path, {"state": {"_type": "postgres", "dsn": pgvector_server, "schema": schema}})
    hub = StoreHub(str(path))
    try:
        assert isinstance(hub.audit, PostgresAuditLog)
        memories.add_memory(hub, LOCAL_ADMIN, "main", MemoryItem(user_id="alice", memory="likes tea"))
    finally:
        hub.close()
    assert not (tmp_path / "memdash-audit.sqlite3").exists()  # nothing beside the config
    assert cli.main(["stores", "--config", str(path)]) == 0
    assert f"(schema {schema}) (1 entries)" in capsys.readouterr().out
    assert cli.main(["check", "--config", str(path)]) == 0
    assert "state (PostgreSQL, shared by every memdash process of this config): audit log at postgresql " \
           "postgres@" in capsys.readouterr().out
    log = PostgresAuditLog(pgvector_server, schema=schema)
    try:
        [entry] = log.entries(AuditQuery())
        assert (entry.operation, entry.user_id, entry.after["memory"]) == ("add", "alice", "likes tea")
    finally:
        log.close()


def test_state_postgres_without_psycopg_says_which_extra_to_install(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"state": {"_type": "postgres", "dsn": "postgresql://db/memdash"}})
    script = ("import sys\n"
              "class Blocked:\n"
              "    def find_spec(self, name, path=None, target=None):\n"
              "        if name.split('.')[0] in {'psycopg', 'psycopg_pool'}:\n"
              "            raise ImportError(name + ' is not installed (blocked by the test)')\n"
              "sys.meta_path.insert(0, Blocked())\n"
              "from memdash import cli\n"
              f"sys.exit(cli.main(['check', '--config', {str(path)!r}]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "field 'memdash.state.dsn'" in done.stderr and "pip install 'memdash[postgres]'" in done.stderr
    assert "Traceback" not in done.stderr
