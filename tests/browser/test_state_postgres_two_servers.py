"""Two ``memdash run`` processes on one PostgreSQL store and one PostgreSQL state (``memdash.state: {_type:
postgres}``), as behind a load balancer: two operators in two Chromium profiles, each on their own server, edit
the same memories. Each server sees the other's changes in the one audit log, a save from a page the other
server's operator made stale is refused, and each reverts the other's change (the Audit log and Trash pages).
After every step the audit log is read from this process: every change of both servers, once, in order. With
local sign-in, wrong passwords sent to both servers are counted together: the right one then waits."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Page, Playwright, expect

from memory_core.audit import AuditEntry, AuditQuery
from memory_core.audit.postgres import PostgresAuditLog
from memory_core.models import MemoryItem
from memory_core.records import MemoryRecord
from tests.helpers.browser import (
    DashboardServer,
    LiveError,
    chromium_or_fail,
    click_table_rows,
    exceptions,
    key,
    open_page,
    rerun,
    store_call,
)

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)
T0 = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
TEXTS = {"m1": "Sam drinks tea every morning.", "m2": "Sam lives in Lyon.", "m3": "Sam's sister is Ana."}
AGENT = [MemoryRecord(id=memory_id, created_at=T0, updated_at=T0, item=MemoryItem(user_id="sam", memory=text))
         for memory_id, text in TEXTS.items()]


@contextlib.contextmanager
def running(servers: Iterable[DashboardServer]) -> Iterator[tuple[DashboardServer, ...]]:
    """Every server started (or the test failed with the reason, none left running), stopped afterwards."""
    servers = tuple(servers)
    try:
        for server in servers:
            server.start()
    except LiveError as exc:
        for server in servers:
            server.stop()
        pytest.fail(str(exc))
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, pgvector_server: str) -> Iterator[tuple[DashboardServer, ...]]:
    """Two servers of one config: the store and the state in PostgreSQL, each in a schema of its own."""
    folder = tmp_path_factory.mktemp("team")
    suffix = uuid.uuid4().hex[:8]
    config = folder / "memdash.yml"
    config.write_text(yaml.safe_dump({
        "memory": {"main": {"_type": "postgres", "dsn": pgvector_server, "schema": f"store_{suffix}"}},
        "memdash": {"auth": {"mode": "off"},
                    "state": {"_type": "postgres", "dsn": pgvector_server, "schema": f"state_{suffix}"}}}))
    store_call(config, "main", lambda store: store.add_records(AGENT))  # what the agent wrote, before any operator
    with running(DashboardServer(config, folder / f"server-{name}.log") for name in "ab") as servers:
        yield servers


@pytest.fixture
def operators(playwright: Playwright, tmp_path: Path) -> Iterator[tuple[Page, Page]]:
    """Two people at two browsers."""
    contexts = [chromium_or_fail(playwright, tmp_path / f"profile-{n}") for n in (1, 2)]
    pages = tuple(context.new_page() for context in contexts)
    yield pages  # type: ignore[misc]
    for page, context in zip(pages, contexts, strict=True):
        assert not exceptions(page), exceptions(page)
        context.close()


@pytest.fixture
def log(team: tuple[DashboardServer, ...]) -> Iterator[PostgresAuditLog]:
    config = yaml.safe_load(team[0].config.read_text())["memdash"]["state"]
    log = PostgresAuditLog(config["dsn"], schema=config["schema"])
    yield log
    log.close()


def click(page: Page, widget_key: str) -> None:
    rerun(page, lambda: key(page, widget_key).locator("button").first.click())


def alert(page: Page, kind: str) -> str:
    box = page.locator(f"[data-testid='stAlertContent{kind}']").first
    expect(box).to_be_visible()
    return box.inner_text()


def stored(team: tuple[DashboardServer, ...], memory_id: str) -> MemoryRecord:
    async def read(store: object) -> MemoryRecord:
        return await store.get_record(memory_id)  # type: ignore[attr-defined]

    return store_call(team[0].config, "main", read)


def changes(log: PostgresAuditLog) -> list[AuditEntry]:
    return list(log.entries(AuditQuery()))


def edit(page: Page, server: DashboardServer, memory_id: str, text: str) -> None:
    key(page, "detail_memory").locator("textarea").fill(text)
    click(page, "detail_save")


def test_state_postgres_two_servers_one_log_conflicts_and_reverts_across(
        team: tuple[DashboardServer, ...], operators: tuple[Page, Page], log: PostgresAuditLog) -> None:
    server_a, server_b = team
    ann, bob = operators

    # 1. both open m1, each on their own server; Ann saves first, Bob's save is refused: nothing overwritten
    open_page(ann, server_a.url("/memory?store=main&id=m1"))
    open_page(bob, server_b.url("/memory?store=main&id=m1"))
    edit(ann, server_a, "m1", "Sam drinks green tea.")
    assert alert(ann, "Success") == "Saved: this memory is now version 2."
    edit(bob, server_b, "m1", "Sam stopped drinking tea.")
    assert "someone changed this memory since you loaded it" in alert(bob, "Error")
    assert stored(team, "m1").item.memory == "Sam drinks green tea."
    [ann_edit] = changes(log)
    assert (ann_edit.operation, ann_edit.memory_id, ann_edit.before["version"], ann_edit.after["version"]) == \
        ("update", "m1", 1, 2)

    # 2. Bob reverts Ann's edit from server B's audit log; server A then sees it reverted
    open_page(bob, server_b.url(f"/audit?store=main&entry={ann_edit.seq}"))
    click(bob, "audit_revert")
    click(bob, "audit_revert_confirm")
    assert alert(bob, "Success") == "Reverted 1 change."
    assert stored(team, "m1").item.memory == TEXTS["m1"]
    bob_revert = changes(log)[-1]
    assert (bob_revert.operation, bob_revert.reverts) == ("revert", ann_edit.seq)
    open_page(ann, server_a.url(f"/audit?store=main&entry={ann_edit.seq}"))
    assert f"This change was already reverted by audit entry {bob_revert.seq}" in alert(ann, "Info")

    # 3. Bob deletes m3 on server B; Ann restores it from server A's trash
    open_page(bob, server_b.url("/memory?store=main&id=m3"))
    click(bob, "detail_delete")
    click(bob, "detail_delete_confirm")
    open_page(ann, server_a.url("/trash?store=main"))
    trash = ann.locator("[class*='st-key-trash_table_']")
    expect(trash.locator("[data-testid='glide-cell-4-0']")).to_have_text(TEXTS["m3"])
    click_table_rows(ann, trash, [0])
    click(ann, "trash_restore")
    assert alert(ann, "Success") == "Restored 1 memory."
    assert stored(team, "m3").item.memory == TEXTS["m3"]

    # 4. one complete log: every change of both servers, once, each revert naming what it undid
    entries = changes(log)
    assert [(e.operation, e.memory_id) for e in entries] == [("update", "m1"), ("revert", "m1"), ("delete", "m3"),
                                                             ("revert", "m3")]
    assert entries[3].reverts == entries[2].seq and entries[1].reverts == entries[0].seq
    for server, page in ((server_a, ann), (server_b, bob)):
        open_page(page, server.url("/stores"))
        expect(page.get_by_text("4 entries").first).to_be_visible()  # each server counts the same log


@pytest.fixture
def guarded_team(tmp_path: Path, pgvector_server: str) -> Iterator[tuple[DashboardServer, ...]]:
    """Two servers of one config with local sign-in, lara's account in the PostgreSQL state."""
    from dashboard.services.accounts import state_accounts
    from dashboard.services.users_file import new_user
    from memory_core.access import Role
    from memory_core.audit.settings import PostgresState

    state = PostgresState(conninfo=pgvector_server, schema=f"state_{uuid.uuid4().hex[:8]}")
    PostgresAuditLog(state.conninfo, schema=state.schema).close()
    state_accounts(state).put(new_user("lara", "lara's password", Role.EDITOR))
    config = tmp_path / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "in_memory"}},
                                      "memdash": {"state": {"_type": "postgres", "dsn": pgvector_server,
                                                            "schema": state.schema}}}))
    with pytest.MonkeyPatch.context() as patch:  # the servers start with local sign-in and no [auth] secrets
        patch.delenv("MEMDASH_NO_AUTH", raising=False)
        patch.setenv("STREAMLIT_SECRETS_FILES", str(tmp_path / "no-secrets.toml"))
        with running(DashboardServer(config, tmp_path / f"server-{name}.log") for name in "ab") as servers:
            yield servers


def sign_in(page: Page, server: DashboardServer, password: str) -> None:
    open_page(page, server.url("/add?store=main"))
    key(page, "sign_in_name").locator("input").fill("lara")
    key(page, "sign_in_password").locator("input").fill(password)
    rerun(page, lambda: page.get_by_role("button", name="Sign in").click())


def test_state_postgres_two_servers_count_failed_sign_ins_together(
        guarded_team: tuple[DashboardServer, ...], operators: tuple[Page, Page]) -> None:
    (a, b), (first, second) = guarded_team, operators
    for server in (a, b, a, b, a):  # five wrong passwords from one address, spread over both processes
        sign_in(first, server, "not lara's password")
        expect(first.get_by_text("Wrong user name or password.")).to_be_visible()
    sign_in(second, b, "lara's password")  # the right one, from the same address, on the other process: waits
    expect(second.get_by_text(re.compile(r"Too many failed sign-ins for this name: try again in \d+ s\."))
           ).to_be_visible()
    expect(second.locator("h1", has_text="Add a memory")).to_have_count(0)
