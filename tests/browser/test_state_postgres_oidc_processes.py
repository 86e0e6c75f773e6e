"""OIDC sign-in across dashboard processes (docs/deploy.md "Sign-in: OIDC"): ``memdash run`` processes with the
same ``secrets.toml`` and one PostgreSQL state, a real provider (``oidc-provider-mock``), all at one address as
behind the proxy (Streamlit's identity cookie names the origin of ``redirect_uri``). The process a person signed
in through stops and the load balancer sends the browser to another one: still signed in, and the changes made
through each process land in the one audit log under their identity. A process with another ``cookie_secret``
does not accept the cookie, which is why every process must get the same file."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import BrowserContext, Page, Playwright, expect

from memory_core.audit import AuditQuery
from memory_core.audit.postgres import PostgresAuditLog
from memory_core.models import MemoryItem
from memory_core.records import MemoryRecord
from tests.browser.test_auth_browser import LocalhostServer, provider, sign_in, signed_in_as  # noqa: F401
from tests.helpers.browser import (
    LiveError,
    chromium_or_fail,
    exceptions,
    free_port,
    key,
    open_page,
    rerun,
    store_call,
)

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def secrets_file(path: Path, redirect: str, provider_url: str, cookie: str) -> Path:
    path.write_text(f'[auth]\nredirect_uri = "{redirect}"\ncookie_secret = "{cookie}"\nclient_id = "memdash-test"\n'
                    f'client_secret = "client-secret"\n'
                    f'server_metadata_url = "{provider_url}/.well-known/openid-configuration"\n')
    return path


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, provider: str,  # noqa: F811
         pgvector_server: str) -> Iterator[tuple[list[LocalhostServer], Path, Path]]:
    """Three processes for one address (started one after the other), the shared secrets and another one's."""
    folder = tmp_path_factory.mktemp("oidc-team")
    suffix = uuid.uuid4().hex[:8]
    config = folder / "memdash.yml"
    config.write_text(yaml.safe_dump({
        "memory": {"main": {"_type": "postgres", "dsn": pgvector_server, "schema": f"store_{suffix}"}},
        "memdash": {"auth": {"roles": {"alice@example.com": "admin"}},
                    "state": {"_type": "postgres", "dsn": pgvector_server, "schema": f"state_{suffix}"}}}))
    store_call(config, "main", lambda store: store.add_records(
        [MemoryRecord(id="m1", created_at=T0, updated_at=T0, item=MemoryItem(user_id="u", memory="first text"))]))
    port = free_port()
    made = [LocalhostServer(config, folder / f"server-{n}.log", port=port) for n in "abc"]
    redirect = made[0].url("/oauth2callback")
    shared = secrets_file(folder / "secrets.toml", redirect, provider, "shared-" + "s" * 32)
    other = secrets_file(folder / "other.toml", redirect, provider, "another-" + "o" * 32)
    yield made, shared, other
    for server in made:
        server.stop()


def start(server: LocalhostServer, secrets: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MEMDASH_NO_AUTH", raising=False)
        patch.setenv("STREAMLIT_SECRETS_FILES", str(secrets))
        try:
            server.start()
        except LiveError as exc:
            pytest.fail(str(exc))


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    context = chromium_or_fail(playwright, tmp_path / "profile")
    yield context
    context.close()


def save_text(page: Page, server: LocalhostServer, text: str) -> None:
    open_page(page, server.url("/memory?store=main&id=m1"))
    key(page, "detail_memory").locator("textarea").fill(text)
    rerun(page, lambda: key(page, "detail_save").locator("button").first.click())
    expect(page.locator("[data-testid='stAlertContentSuccess']").first).to_contain_text("Saved")


def test_state_postgres_oidc_one_sign_in_for_every_process_sharing_the_secrets(
        team: tuple[list[LocalhostServer], Path, Path], browser: BrowserContext, provider: str) -> None:  # noqa: F811
    (server_a, server_b, server_c), shared, other = team
    start(server_a, shared)
    page = browser.new_page()
    sign_in(page, server_a, provider, "alice")
    assert signed_in_as(page) == "Signed in as alice@example.com · admin"
    save_text(page, server_a, "edited through A")

    server_a.stop()  # the load balancer sends this browser to another process of the same address
    start(server_b, shared)
    open_page(page, server_b.url("/"))
    assert signed_in_as(page) == "Signed in as alice@example.com · admin"  # no new sign-in
    save_text(page, server_b, "edited through B")

    server_b.stop()
    start(server_c, other)  # a process given another cookie_secret
    open_page(page, server_c.url("/"))
    expect(page.locator("h1", has_text="Sign in to memdash")).to_be_visible()
    assert not exceptions(page), exceptions(page)

    state = yaml.safe_load(server_a.config.read_text())["memdash"]["state"]
    log = PostgresAuditLog(state["dsn"], schema=state["schema"])
    try:
        updates = [(e.actor, e.after["memory"]) for e in log.entries(AuditQuery(operation="update"))]
    finally:
        log.close()
    assert updates == [("alice@example.com", "edited through A"), ("alice@example.com", "edited through B")]
