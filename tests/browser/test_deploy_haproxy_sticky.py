"""deploy/haproxy.cfg in front of two ``memdash run`` processes (one PostgreSQL store, one PostgreSQL state), as
deploy/compose.yml runs it: the real HAProxy (Debian's ``haproxy``), the file's own settings, only its addresses
changed to this machine's. Through the proxy, in Chromium: an import's upload and an export's download link reach
the process whose session made them (the link is unknown to the other); each browser is kept on one process by
the cookie across reloads; two operators on the two processes edit one
memory and the second save is refused; when a process stops, its browser is moved to the other one and works
on, and the one audit log holds every change."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import BrowserContext, Page, Playwright, expect
from playwright.sync_api import Error as PlaywrightError

from memory_core.audit import AuditQuery
from memory_core.audit.postgres import PostgresAuditLog
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
)

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
HAPROXY = Path(os.environ.get("MEMDASH_HAPROXY", shutil.which("haproxy") or "/usr/sbin/haproxy"))
T0 = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
COOKIE = "MEMDASH_NODE"


class Proxy:
    """``haproxy -db -f`` on deploy/haproxy.cfg with the dashboards' addresses put in."""

    def __init__(self, folder: Path, backends: dict[str, int]) -> None:
        self.port, self.log = free_port(), folder / "haproxy.log"
        text = (DEPLOY / "haproxy.cfg").read_text().replace("bind :8080", f"bind 127.0.0.1:{self.port}")
        for name, port in backends.items():
            text, found = re.subn(rf"server {name} {name}:8501", f"server {name} 127.0.0.1:{port}", text)
            assert found == 1, f"no server line for {name} in deploy/haproxy.cfg"
        self.config = folder / "haproxy.cfg"
        self.config.write_text(text)
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Proxy:
        if not HAPROXY.is_file():
            raise LiveError(f"haproxy not found at {HAPROXY} (apt-get install haproxy, or set MEMDASH_HAPROXY)")
        with self.log.open("wb") as out:
            self.process = subprocess.Popen([str(HAPROXY), "-db", "-f", str(self.config)], stdout=out,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LiveError(f"haproxy exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(self.url("/_stcore/health"), timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise LiveError(f"haproxy did not answer: {self.log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory,
               pgvector_server: str) -> Iterator[tuple[dict[str, DashboardServer], Proxy, dict]]:
    folder = tmp_path_factory.mktemp("deploy-haproxy")
    suffix = uuid.uuid4().hex[:8]
    state = {"_type": "postgres", "dsn": pgvector_server, "schema": f"state_{suffix}"}
    config = folder / "memdash.yml"
    config.write_text(yaml.safe_dump({
        "memory": {"team": {"_type": "postgres", "dsn": pgvector_server, "schema": f"store_{suffix}"}},
        "memdash": {"auth": {"mode": "off"}, "state": state}}))
    store_call(config, "team", lambda store: store.add_records(
        [MemoryRecord(id=f"m{n}", created_at=T0, updated_at=T0, item=MemoryItem(user_id="sam", memory=f"fact {n}"))
         for n in (1, 2)]))
    servers = {name: DashboardServer(config, folder / f"{name}.log") for name in ("memdash-1", "memdash-2")}
    proxy = Proxy(folder, {name: server.port for name, server in servers.items()})
    try:
        for server in servers.values():
            server.start()
        proxy.start()
    except LiveError as exc:
        for server in servers.values():
            server.stop()
        proxy.stop()
        pytest.fail(str(exc))
    yield servers, proxy, state
    proxy.stop()
    for server in servers.values():
        server.stop()


def node(context: BrowserContext) -> str:
    """The process the proxy keeps this browser on (its cookie)."""
    return next(c["value"] for c in context.cookies() if c["name"] == COOKIE)


def save(page: Page, proxy: Proxy, memory_id: str, text: str) -> None:
    open_page(page, proxy.url(f"/memory?store=team&id={memory_id}"))
    key(page, "detail_memory").locator("textarea").fill(text)
    rerun(page, lambda: key(page, "detail_save").locator("button").first.click())


def alert(page: Page, kind: str) -> str:
    box = page.locator(f"[data-testid='stAlertContent{kind}']").first
    expect(box).to_be_visible()
    return box.inner_text()


def test_deploy_haproxy_uploads_and_downloads_reach_the_process_that_served_the_page(
        deployment: tuple[dict[str, DashboardServer], Proxy, dict], playwright: Playwright, tmp_path: Path) -> None:
    """Why the cookie: an import's upload and an export's download link belong to one process's session."""
    servers, proxy, _ = deployment
    context = chromium_or_fail(playwright, tmp_path / "cy")
    page = context.new_page()
    upload = tmp_path / "new.jsonl"
    upload.write_text(json.dumps({"id": "m9", "user_id": "sam", "memory": "imported through the proxy"}) + "\n")
    open_page(page, proxy.url("/transfer?store=team&user=sam"))
    key(page, "import_file").locator("input[type=file]").set_input_files(upload)
    rerun(page, lambda: key(page, "import_go").locator("button").first.click())
    assert alert(page, "Success").startswith("Imported into store 'team': 1 added")

    open_page(page, proxy.url("/transfer?store=team&user=sam"))
    href = key(page, "export_download").locator("a").get_attribute("href") or ""
    assert href.startswith("memdash/download/")
    served_by, elsewhere = node(context), next(name for name in servers if name != node(context))
    answer = context.request.get(proxy.url("/" + href))  # with this browser's cookie: its process
    assert answer.status == 200 and b"imported through the proxy" in answer.body()
    request = urllib.request.Request(proxy.url("/" + href), headers={"Cookie": f"{COOKIE}={elsewhere}"})
    with pytest.raises(urllib.error.HTTPError) as lost:  # the other process never issued this ticket
        urllib.request.urlopen(request)
    assert lost.value.code == 404 and served_by != elsewhere
    assert not exceptions(page), exceptions(page)
    context.close()


def test_deploy_haproxy_keeps_each_browser_on_its_process_and_moves_it_when_that_one_stops(
        deployment: tuple[dict[str, DashboardServer], Proxy, dict], playwright: Playwright, tmp_path: Path) -> None:
    servers, proxy, state = deployment
    ann_browser = chromium_or_fail(playwright, tmp_path / "ann")
    ann = ann_browser.new_page()
    open_page(ann, proxy.url("/memory?store=team&id=m1"))
    ann_node = node(ann_browser)
    other = next(name for name in servers if name != ann_node)
    for _ in range(3):  # reloads: a new Streamlit session each time, always on the same process
        open_page(ann, proxy.url("/memory?store=team&id=m1"))
        assert node(ann_browser) == ann_node
    assert ann_node in servers

    bob_browser = chromium_or_fail(playwright, tmp_path / "bob")  # a browser the proxy put on the other process
    bob_browser.add_cookies([{"name": COOKIE, "value": other, "url": proxy.url("/")}])
    bob = bob_browser.new_page()
    open_page(bob, proxy.url("/memory?store=team&id=m1"))
    assert node(bob_browser) == other

    key(ann, "detail_memory").locator("textarea").fill("Ann's correction")
    key(bob, "detail_memory").locator("textarea").fill("Bob's correction")
    rerun(ann, lambda: key(ann, "detail_save").locator("button").first.click())
    assert alert(ann, "Success") == "Saved: this memory is now version 2."
    rerun(bob, lambda: key(bob, "detail_save").locator("button").first.click())
    assert "someone changed this memory since you loaded it" in alert(bob, "Error")  # across processes

    servers[ann_node].stop()  # Ann's process goes away: the proxy sends her to the other one
    attempts = 0
    while True:
        attempts += 1
        try:
            save(ann, proxy, "m2", "Ann, after the failover")
            assert node(ann_browser) == other and "Saved" in alert(ann, "Success")
            break
        except (PlaywrightError, AssertionError):  # a page opened while the proxy was marking the process down
            if attempts == 5:
                raise
    print(f"\nfailover: saved through {other} on attempt {attempts}")
    for page in (ann, bob):
        assert not exceptions(page), exceptions(page)
    log = PostgresAuditLog(state["dsn"], schema=state["schema"])
    try:
        assert [(e.memory_id, e.after["memory"]) for e in log.entries(AuditQuery(operation="update"))] == [
            ("m1", "Ann's correction"), ("m2", "Ann, after the failover")]
    finally:
        log.close()
    for context in (ann_browser, bob_browser):
        context.close()
