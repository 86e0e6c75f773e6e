"""Sign-in end to end in Chromium: a real OpenID Connect provider (``oidc-provider-mock``, on this machine), a
``memdash run`` server with ``[auth]`` secrets and roles by email, and three people: an admin who edits a memory,
a viewer whose Save is refused (disabled, and a forced click changes nothing), and an identity with no role.
Streamlit's identity cookie is HttpOnly: page scripts cannot read it.

Chromium, the provider and the server never skip: when one cannot start, the tests fail with the reason.
One host name everywhere (``localhost``): the redirect URI, the provider's URL and the pages opened.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from oidc_provider_mock import User, run_server_in_thread
from playwright.sync_api import BrowserContext, Page, Playwright, expect

from memory_core.models import MemoryItem
from memory_core.records import MemoryRecord
from tests.helpers.browser import (
    DashboardServer,
    LiveError,
    chromium_or_fail,
    exceptions,
    free_port,
    key,
    open_page,
    rerun,
    store_call,
    wait_for_run,
)

pytestmark = pytest.mark.browser
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
PEOPLE = {"alice": "alice@example.com", "viv": "viv@example.com", "stranger": "stranger@example.com"}
ROLES = {"alice@example.com": "admin", "viv@example.com": "viewer"}
SECRETS = {"client": "memdash-test-secret", "cookie": "cookie-secret-" + "s" * 32, "postgres": "PG-password-3e1d"}
expect.set_options(timeout=15_000)


class LocalhostServer(DashboardServer):
    """The dashboard opened as ``localhost``, the host of the redirect URI."""

    @property
    def base_url(self) -> str:
        return f"http://localhost:{self.port}"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """The identity provider's base URL; its users have the emails in ``PEOPLE``."""
    users = [User(sub=sub, claims={"email": email, "email_verified": True, "name": sub.title()})
             for sub, email in PEOPLE.items()]
    try:
        server = run_server_in_thread(port=free_port(), user_claims=users)
        started = server.__enter__()
    except OSError as exc:
        pytest.fail(f"the OIDC provider did not start: {exc}")
    yield f"http://localhost:{started.server_port}"
    server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, provider: str) -> Iterator[LocalhostServer]:
    folder = tmp_path_factory.mktemp("auth-live")
    config = folder / "memdash.yml"
    vault = {"_type": "postgres", "dsn": "postgresql://memdash@127.0.0.1:1/x", "password": SECRETS["postgres"],
             "connect_timeout": 1}  # cannot connect: its error goes to the page and the log
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "sqlite", "path": "main.sqlite3"}, "vault": vault},
                                      "memdash": {"auth": {"roles": ROLES}}}))
    store_call(config, "main", lambda store: store.add_records(
        [MemoryRecord(id="m1", created_at=T0, updated_at=T0, item=MemoryItem(user_id="u", memory="first text")),
         MemoryRecord(id="m2", created_at=T0, updated_at=T0, item=MemoryItem(user_id="u", memory="second"))]))
    server = LocalhostServer(config, folder / "server.log", port=free_port())
    secrets = folder / "secrets.toml"
    secrets.write_text(f'[auth]\nredirect_uri = "{server.url("/oauth2callback")}"\n'
                       f'cookie_secret = "{SECRETS["cookie"]}"\nclient_id = "memdash-test"\n'
                       f'client_secret = "{SECRETS["client"]}"\n'
                       f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n')
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MEMDASH_NO_AUTH", raising=False)
        patch.setenv("STREAMLIT_SECRETS_FILES", str(secrets))
        patch.setenv("STREAMLIT_LOGGER_LEVEL", "debug")  # the most the server ever logs
        try:
            server.start()
        except LiveError as exc:
            pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """A fresh Chromium profile (no cookies) per test."""
    context = chromium_or_fail(playwright, tmp_path / "profile")
    yield context
    context.close()


def sign_in(page: Page, live: LocalhostServer, provider: str, sub: str) -> None:
    """Through the provider's own pages: Sign in, type the sub, Authorize, back on the dashboard."""
    open_page(page, live.url("/"))
    expect(page.locator("h1", has_text="Sign in to memdash")).to_be_visible()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(provider) + ".*/oauth2/authorize"))
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(re.escape(live.base_url) + "/?$"))
    wait_for_run(page)


def signed_in_as(page: Page) -> str:
    return page.locator("[data-testid='stSidebar'] [data-testid='stCaptionContainer']").first.inner_text()


def memory(live: LocalhostServer, memory_id: str) -> MemoryRecord:
    return store_call(live.config, "main", lambda store: store.get_record(memory_id))


def test_an_admin_signs_in_edits_and_signs_out(browser, live, provider):
    page = browser.new_page()
    sign_in(page, live, provider, "alice")
    assert signed_in_as(page) == "Signed in as alice@example.com · admin"
    cookie = next(c for c in browser.cookies() if c["name"].startswith("_streamlit_user"))
    assert cookie["httpOnly"] and "_streamlit_user" not in page.evaluate("document.cookie")
    open_page(page, live.url("/memory?store=main&id=m1"))
    key(page, "detail_memory").locator("textarea").fill("edited by alice")
    rerun(page, lambda: key(page, "detail_save").locator("button").click())
    expect(page.get_by_text("Saved: this memory is now version 2.")).to_be_visible()
    assert memory(live, "m1").item.memory == "edited by alice"
    open_page(page, live.url("/stores"))  # a new page load keeps the sign-in (the cookie)
    assert signed_in_as(page).endswith("· admin") and not exceptions(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(re.escape(provider) + ".*/end_session"))
    page.get_by_role("button").first.click()  # the provider's end-session form
    open_page(page, live.url("/"))
    expect(page.locator("h1", has_text="Sign in to memdash")).to_be_visible()
    assert not [c for c in browser.cookies() if c["name"].startswith("_streamlit_user")]


def test_a_viewer_reads_but_save_is_refused(browser, live, provider):
    page = browser.new_page()
    sign_in(page, live, provider, "viv")
    assert signed_in_as(page) == "Signed in as viv@example.com · viewer"
    open_page(page, live.url("/memory?store=main&id=m2"))
    expect(page.get_by_text("Your role can read memories, not edit them.")).to_be_visible()
    save = key(page, "detail_save").locator("button")
    expect(save).to_be_disabled()
    assert key(page, "detail_memory").count() == 0  # shown as text, not in an editor
    page.evaluate("""() => { const b = document.querySelector('.st-key-detail_save button');
                             b.removeAttribute('disabled'); b.click(); }""")
    page.wait_for_timeout(1000)
    wait_for_run(page)
    assert memory(live, "m2").version == 1 and memory(live, "m2").item.memory == "second"
    open_page(page, live.url("/browse?store=main"))
    expect(key(page, "bulk_delete").locator("button")).to_be_disabled()
    expect(page.get_by_text("Your role can read memories, not change them.")).to_have_count(1)
    open_page(page, live.url("/stores"))
    expect(key(page, "load_config").locator("button")).to_be_disabled()
    assert not exceptions(page)


def test_the_server_log_and_the_pages_hold_no_secret(browser, live, provider):
    page = browser.new_page()
    sign_in(page, live, provider, "alice")
    open_page(page, live.url("/stores"))
    for expander in page.get_by_text("Settings (secrets masked)").all():
        rerun(page, expander.click)
    shown = [page.content()]
    assert "unavailable" in shown[0] and "**********" in shown[0]
    for path in ("/browse?store=vault", "/search?store=vault&user=u&q=x", "/users?store=vault"):
        open_page(page, live.url(path))
        shown.append(page.content())
    log = live.log.read_text(errors="replace")
    assert len(log.splitlines()) > 100  # the server logged at its most verbose
    assert not [name for name, value in SECRETS.items() if value in log or any(value in html for html in shown)]


def test_an_identity_without_a_role_gets_nothing(browser, live, provider):
    page = browser.new_page()
    sign_in(page, live, provider, "stranger")
    expect(page.locator("h1", has_text="No access")).to_be_visible()
    open_page(page, live.url("/browse?store=main"))
    expect(page.locator("h1", has_text="No access")).to_be_visible()
    assert page.locator("[data-testid='stDataFrame']").count() == 0


@pytest.fixture(scope="module")
def local_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalhostServer]:
    """``memdash run`` with local accounts (no [auth] secrets): lara, an editor."""
    from dashboard.services.users_file import new_user, save_users
    from memory_core.access import Role

    folder = tmp_path_factory.mktemp("local-live")
    save_users(folder / "users.json", {"lara": new_user("lara", "lara's password", Role.EDITOR)})
    config = folder / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "sqlite", "path": "main.sqlite3"}},
                                      "memdash": {"auth": {"users_file": "users.json"}}}))
    server = LocalhostServer(config, folder / "server.log", port=free_port())
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MEMDASH_NO_AUTH", raising=False)
        patch.setenv("STREAMLIT_SECRETS_FILES", str(folder / "no-secrets.toml"))
        try:
            server.start()
        except LiveError as exc:
            pytest.fail(str(exc))
    yield server
    server.stop()


def test_local_sign_in_leaves_nothing_for_page_scripts_and_a_reload_asks_again(browser, local_live):
    page = browser.new_page()
    open_page(page, local_live.url("/add?store=main"))
    key(page, "sign_in_name").locator("input").fill("lara")
    key(page, "sign_in_password").locator("input").fill("wrong password")
    rerun(page, lambda: page.get_by_role("button", name="Sign in").click())
    expect(page.get_by_text("Wrong user name or password.")).to_be_visible()
    key(page, "sign_in_name").locator("input").fill("lara")
    key(page, "sign_in_password").locator("input").fill("lara's password")
    rerun(page, lambda: page.get_by_role("button", name="Sign in").click())
    expect(page.locator("h1", has_text="Add a memory")).to_be_visible()
    assert signed_in_as(page) == "Signed in as lara · editor"
    readable = page.evaluate("() => [document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage)]")
    assert not any("lara" in part for part in readable), readable
    assert not [c for c in browser.cookies() if "lara" in c["value"] or c["name"].startswith("_streamlit_user")]
    page.reload()
    wait_for_run(page)
    expect(page.locator("h1", has_text="Sign in to memdash")).to_be_visible()
