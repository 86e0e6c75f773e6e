"""Local accounts in the PostgreSQL state: ``memdash user add/list/remove --config`` writes them there (nothing
beside the config), the dashboard's local sign-in reads them there, and a change made anywhere (another process,
the command line) applies to the next run of every session: a removed account is signed out."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg.conninfo import make_conninfo
from streamlit.testing.v1 import AppTest

from dashboard.services.accounts import PostgresAccounts, accounts_of
from dashboard.services.users_file import new_user
from memdash import cli
from memory_core.access import Role
from memory_core.audit.postgres import grant_statements
from memory_core.config import load_config
from memory_core.errors import ConfigError
from memory_core.memdash_section import check_memdash_section
from tests.helpers.dashboard import Dash, messages, ok, sign_in

NO_SECRETS = {"unrelated": "x"}


@pytest.fixture
def config(tmp_path: Path, pgvector_server: str) -> Path:
    path = tmp_path / "memdash.yml"
    path.write_text(yaml.safe_dump({"memory": {"main": {"_type": "in_memory"}}, "memdash": {"state": {
        "_type": "postgres", "dsn": pgvector_server, "schema": f"state_{uuid.uuid4().hex[:10]}"}}}))
    return path


def user(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
         password: str = "a long password") -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    code = cli.main(["user", *argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def signed_out(dash: Dash) -> AppTest:
    """A fresh session's Browse page with local sign-in (no [auth] secrets)."""
    at = dash.app("browse")
    at.secrets.update(NO_SECRETS)
    return ok(at.run())


def test_state_postgres_accounts_are_managed_with_memdash_user(config: Path, capsys, monkeypatch) -> None:
    code, out = user(["add", "ann", "--role", "admin", "--password-stdin", "--config", str(config)], capsys,
                     monkeypatch)
    assert code == 0 and "added user 'ann' (admin) in postgresql" in out
    code, out = user(["add", "ann", "--role", "viewer", "--password-stdin", "--config", str(config)], capsys,
                     monkeypatch)
    assert code == 1 and "user 'ann' exists" in out and "--replace" in out
    assert user(["add", "bo", "--role", "viewer", "--store", "main=editor", "--password-stdin", "--config",
                 str(config)], capsys, monkeypatch)[0] == 0
    assert user(["list", "--config", str(config)], capsys, monkeypatch) == (0, "ann\tadmin\nbo\tviewer\tmain=editor\n")
    assert user(["remove", "bo", "--config", str(config)], capsys, monkeypatch)[0] == 0
    code, out = user(["remove", "bo", "--config", str(config)], capsys, monkeypatch)
    assert code == 1 and "no user 'bo'" in out
    assert list(accounts_of(load_config(config)).load()) == ["ann"]
    assert sorted(p.name for p in config.parent.iterdir()) == ["memdash.yml"]  # no file beside the config


def test_state_postgres_accounts_two_processes_adding_one_name_one_wins(config: Path) -> None:
    state = accounts_of(load_config(config))
    assert isinstance(state, PostgresAccounts)
    other = PostgresAccounts(state._state)  # another process's pool
    state.put(new_user("cy", "first password", Role.EDITOR))
    with pytest.raises(Exception, match="exists"):
        other.put(new_user("cy", "second password", Role.ADMIN))
    assert other.load()["cy"].role is Role.EDITOR


def test_state_postgres_sign_in_reads_the_shared_accounts(config: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("MEMDASH_NO_AUTH", raising=False)
    monkeypatch.setenv("MEMDASH_CONFIG", str(config))
    dash = Dash(config)
    try:
        at = signed_out(dash)
        assert "has no users yet" in " ".join(messages(at, "error") + [m.value for m in at.markdown])
        for name in ("lara", "vic"):
            user(["add", name, "--role", "admin", "--password-stdin", "--config", str(config)], capsys, monkeypatch,
                 f"{name}'s password")
        at = sign_in(signed_out(dash), "lara", "lara's password")
        assert [t.value for t in at.title] == ["Browse memories"]
        user(["remove", "lara", "--config", str(config)], capsys, monkeypatch)  # from anywhere: the next run knows
        assert [t.value for t in ok(at.run()).title] == ["Sign in to memdash"]
    finally:
        dash.close()


def test_state_postgres_a_users_file_beside_a_postgres_state_is_a_config_error(config: Path, capsys,
                                                                              monkeypatch) -> None:
    data = yaml.safe_load(config.read_text())
    data["memdash"]["auth"] = {"users_file": "users.json"}
    config.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="accounts are in the PostgreSQL state") as info:
        check_memdash_section(load_config(config))
    assert info.value.field == "memdash.auth.users_file" and info.value.line is not None
    code, out = user(["list", "--config", str(config)], capsys, monkeypatch)  # the command says so too
    assert code == 2 and "memdash.auth.users_file" in out and not (config.parent / "users.json").exists()


def test_state_postgres_sign_in_on_a_state_without_the_throttle_table_says_what_to_run(
        config: Path, pgvector_server: str, monkeypatch) -> None:
    owner = load_config(config)
    accounts = accounts_of(owner)
    accounts.put(new_user("lara", "lara's password", Role.EDITOR))  # the owner's process made the state
    schema, role = accounts._state.schema, f"app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pgvector_server, autocommit=True) as conn:  # as a memdash from before the table left it
        conn.execute(f'DROP TABLE "{schema}".sign_in_failures')
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        for statement in grant_statements(schema, role)[:-1]:
            conn.execute(statement)
    data = yaml.safe_load(config.read_text())
    data["memdash"]["state"]["dsn"] = make_conninfo(pgvector_server, user=role)  # the dashboard's role owns nothing
    config.write_text(yaml.safe_dump(data))
    monkeypatch.delenv("MEMDASH_NO_AUTH", raising=False)
    monkeypatch.setenv("MEMDASH_CONFIG", str(config))
    dash = Dash(config)
    try:
        at = sign_in(signed_out(dash), "lara", "lara's password")
        assert [t.value for t in at.title] == ["Sign in to memdash"]  # nobody signed in without the throttle
        [error] = messages(at, "error")
        assert "cannot count failed sign-ins" in error and "memdash state init --config FILE --grant ROLE" in error
    finally:
        dash.close()
