"""The local sign-in's throttle in the PostgreSQL state: every dashboard process counts the same failures, so
several processes behind a load balancer allow the attempts of one. Real PostgreSQL (``pgvector_server``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg.conninfo import make_conninfo

from dashboard import auth
from dashboard.services.sign_in_throttle import InProcess, LoginThrottle, PostgresFailures
from memory_core.audit.postgres import PostgresAuditLog, grant_statements
from memory_core.audit.settings import PostgresState
from memory_core.config import CONFIG_ENV
from memory_core.errors import MemdashError


@pytest.fixture
def state(pgvector_server: str) -> Iterator[PostgresState]:
    schema = f"state_{uuid.uuid4().hex[:12]}"
    PostgresAuditLog(pgvector_server, schema=schema).close()  # as the first process to open the state does
    yield PostgresState(conninfo=pgvector_server, schema=schema)


def process(state: PostgresState, now: list[float]) -> LoginThrottle:
    """One dashboard process's throttle on the shared state, with a clock the test moves."""
    return LoginThrottle(limit=3, client_limit=5, window=60, clock=lambda: now[0], failures=PostgresFailures(state))


def test_postgres_throttle_counts_failures_of_every_process_together(state: PostgresState) -> None:
    now = [1_000.0]
    first, second = process(state, now), process(state, now)
    first.failed("alice", "10.0.0.9")
    second.failed("alice", "10.0.0.9")
    assert first.wait("alice", "10.0.0.9") == 0
    first.failed("alice", "10.0.0.9")  # the third, through either process
    assert second.wait("alice", "10.0.0.9") == first.wait("alice", "10.0.0.9") == 60
    assert second.wait("alice", "10.0.0.1") == 0  # alice at her own desk is not locked out
    now[0] += 45
    assert second.wait("alice", "10.0.0.9") == 15
    now[0] += 15
    assert first.wait("alice", "10.0.0.9") == 0  # the oldest failure left the window
    for n, name in enumerate(["bob", "carol", "dave", "erin", "frank"]):  # one client tries many names
        (first, second)[n % 2].failed(name, "10.0.0.9")
    assert first.wait("gina", "10.0.0.9") == 60 and second.wait("gina", "10.0.0.1") == 0
    first.succeeded("alice", "10.0.0.9")
    assert second.failures.since(("name", "alice", "10.0.0.9"), 0) == []


def test_postgres_throttle_forgets_failures_older_than_its_window(pgvector_server: str,
                                                                   state: PostgresState) -> None:
    now = [1_000.0]
    throttle = process(state, now)
    throttle.failed("alice", "10.0.0.9")
    now[0] += 61
    throttle.failed("bob", "10.0.0.8")  # each failure also drops what left the window
    with psycopg.connect(pgvector_server, options=f"-c search_path={state.schema}") as conn:
        assert sorted(conn.execute("SELECT key FROM sign_in_failures").fetchall()) == [
            ('["client", "10.0.0.8"]',), ('["name", "bob", "10.0.0.8"]',)]


def test_postgres_throttle_table_is_added_to_an_older_state_by_its_owner_only(pgvector_server: str,
                                                                              state: PostgresState) -> None:
    role = f"app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pgvector_server, autocommit=True) as conn:
        conn.execute(f'DROP TABLE "{state.schema}".sign_in_failures')  # a state made before the throttle's table
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        for statement in grant_statements(state.schema, role)[:-1]:  # what that memdash granted
            conn.execute(statement)
    app = PostgresState(conninfo=make_conninfo(pgvector_server, user=role), schema=state.schema)
    PostgresAuditLog(app.conninfo, schema=app.schema).close()  # a role that owns nothing cannot add it
    with pytest.raises(MemdashError, match=r"its table is missing; .*memdash state init"):
        process(app, [0.0]).wait("alice", "10.0.0.9")
    owner = PostgresAuditLog(pgvector_server, schema=state.schema)  # as `memdash state init` opens it
    owner.grant(role)
    owner.close()
    throttle = process(app, [0.0])
    throttle.failed("alice", "10.0.0.9")
    assert throttle.failures.since(("client", "10.0.0.9"), -1) == [0.0]


def test_postgres_the_dashboard_counts_sign_ins_in_the_state_it_runs_on(tmp_path: Path, state: PostgresState,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "in_memory"}}, "memdash": {
        "state": {"_type": "postgres", "dsn": state.conninfo, "schema": state.schema}}}))
    monkeypatch.setenv(CONFIG_ENV, str(config))
    assert isinstance(auth.throttle().failures, PostgresFailures)
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "plain.yml"))
    (tmp_path / "plain.yml").write_text("memory: {main: {_type: in_memory}}\n")
    assert isinstance(auth.throttle().failures, InProcess)  # one process, its own memory
