"""Hostile input in Chromium: memories whose text, tags, metadata keys and values, conversation, user ids and ids
carry script payloads (``<script>``, ``onerror``, ``javascript:`` links, SVG, KaTeX, markdown tricks), a store
named by a payload, audit entries by a hostile actor, a hostile import file; every page of the navigation is
visited (with hostile filters and a hostile search), with a few interactions, and no payload may run: each sets
``top.__xss`` or opens a dialog if it ever does, and no live element may carry one (``on*`` handlers,
``javascript:`` URLs, script text). Sign-in is off (conftest): every page and control is there.

Chromium and the server never skip: when one cannot start, the test fails with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import BrowserContext, Page

from dashboard.components import nav
from dashboard.services import memories
from dashboard.services.hub import StoreHub
from memory_core.access import LOCAL_ADMIN, Actor, Role
from memory_core.audit import AuditQuery
from memory_core.models import MemoryItem
from memory_core.records import MemoryPatch, MemoryRecord
from tests.helpers.browser import (
    DashboardServer,
    LiveError,
    click_table_rows,
    exceptions,
    key,
    open_page,
    rerun,
)

pytestmark = pytest.mark.browser
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

PAYLOADS = [
    "<script>top.__xss=1</script>",
    "<img src=x onerror=top.__xss=2>",
    '<img src="x" onerror="alert(3)">',
    "<svg onload=top.__xss=4><circle r=1 /></svg>",
    "[click me](javascript:top.__xss=5)",
    '<a href="javascript:top.__xss=6">a link</a>',
    '<iframe src="javascript:top.__xss=7"></iframe>',
    "<details open ontoggle=top.__xss=8>",
    '![pic](x" onerror="top.__xss=9)',
    "javascript:top.__xss=10",
    '"><script>top.__xss=11</script>',
    "<style>@import 'javascript:top.__xss=12';</style>",
    ":red[<img src=x onerror=top.__xss=13>] **bold** _it_",
    "$\\href{javascript:top.__xss=14}{katex}$",
    "<math><mtext><table><mglyph><style><img src=x onerror=top.__xss=15>",
    "<input autofocus onfocus=top.__xss=16>",
    '<object data="javascript:top.__xss=17"></object>',
    "`<img src=x onerror=top.__xss=18>` <b onmouseover=alert(19)>hover</b>",
    "<a href='data:text/html,<script>alert(20)</script>'>data url</a>",
    "[x]: javascript:top.__xss=21\n[ref link][x]",
    "<body onload=top.__xss=22>",
    "'-alert(23)-'",
]
USERS = ["<script>top.__xss=31</script>", "<img src=x onerror=top.__xss=32>", "javascript:top.__xss=33", "plain"]
HOSTILE_ID = "<img src=x onerror=top.__xss=41>"
HOSTILE_STORE = "<img src=x onerror=top.__xss=42>"
HOSTILE_ACTOR = Actor("<img src=x onerror=top.__xss=43>@example.com", Role.ADMIN)
STORE = "xss"

FINDINGS_JS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const v = a.value.trim().toLowerCase();
      if (a.name.startsWith('on') && (v.includes('__xss') || v.includes('alert'))) bad.push(`${el.tagName} ${a.name}`);
      if (['href', 'src', 'data', 'action', 'formaction', 'xlink:href'].includes(a.name)
          && (v.startsWith('javascript:') || v.startsWith('data:text/html'))) bad.push(`${el.tagName} ${a.name}=${v}`);
    }
    if (el.tagName === 'SCRIPT' && el.text.includes('__xss')) bad.push('SCRIPT with a payload');
  }
  return {ran: window.__xss === undefined ? null : window.__xss, bad};
}"""


def records() -> list[MemoryRecord]:
    """One memory per payload, the payload in every field; one memory whose id is a payload."""
    made = []
    for i, payload in enumerate(PAYLOADS):
        item = MemoryItem(user_id=USERS[i % len(USERS)], memory=f"{payload} memory {i}", tags=[payload, "plain"],
                          metadata={payload: payload, "note": payload},
                          conversation=[{"role": payload, "content": payload}, {"role": "user", "content": payload}])
        made.append(MemoryRecord(id=f"x{i:02d}", created_at=T0, updated_at=T0, item=item))
    made.append(MemoryRecord(id=HOSTILE_ID, created_at=T0, updated_at=T0,
                             item=MemoryItem(user_id=USERS[1], memory=PAYLOADS[0], tags=[PAYLOADS[4]])))
    return made


def url_paths() -> list[str]:
    """Every page of the navigation (the table ``dashboard/app.py`` builds it from)."""
    return [page.url_path for pages in nav.SECTIONS.values() for page in pages]


def visits() -> list[str]:
    """URLs to open: each page with hostile parameters, plus hostile filters, searches and memories."""
    hostile = {"store": STORE, "user": USERS[0], "id": HOSTILE_ID, "q": PAYLOADS[1], "prefix": PAYLOADS[0],
               "actor": HOSTILE_ACTOR.name}
    urls = [f"/{path}?{urllib.parse.urlencode(hostile)}" for path in url_paths()]
    urls += [f"/{path}?store={STORE}" for path in url_paths()]
    extra: list[dict[str, Any]] = [
        {"store": STORE, "user": USERS[1], "tags": PAYLOADS[1], "text": PAYLOADS[0], "meta": f"{PAYLOADS[2]}:x"},
        {"store": HOSTILE_STORE},
    ]
    urls += [f"/browse?{urllib.parse.urlencode(params)}" for params in extra]
    urls += [f"/search?{urllib.parse.urlencode({'store': STORE, 'user': user, 'q': 'memory'})}" for user in USERS]
    urls += [f"/memory?{urllib.parse.urlencode({'store': STORE, 'id': r.id})}" for r in records()[:6]]
    return urls


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:
    """A server on store ``xss`` (the hostile memories, an edit and a delete by a hostile actor in the audit log)
    and an empty store named by a payload."""
    folder = tmp_path_factory.mktemp("xss")
    config = folder / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {STORE: {"_type": "sqlite", "path": "xss.sqlite3"},
                                                 HOSTILE_STORE: {"_type": "in_memory"}}}))
    hub = StoreHub(str(config))
    try:
        memories.import_records(hub, LOCAL_ADMIN, STORE, records())
        memories.update_memory(hub, HOSTILE_ACTOR, STORE, "x01", MemoryPatch(memory=PAYLOADS[5], tags=[PAYLOADS[6]]),
                               expected_version=1)
        memories.delete_memories(hub, HOSTILE_ACTOR, STORE, ["x02"])
        memories.delete_memories(hub, HOSTILE_ACTOR, STORE, ["x03", "x04"])
    finally:
        hub.close()
    server = DashboardServer(config, folder / "server.log")
    try:
        server.start()
    except LiveError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()




class Watch:
    """A page whose dialogs (alert, confirm, prompt) are recorded and dismissed."""

    def __init__(self, page: Page) -> None:
        self.page, self.dialogs, self.problems = page, [], []
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def check(self, where: str) -> None:
        self.page.wait_for_timeout(300)  # image errors and load events fire a moment after the run
        found = self.page.evaluate(FINDINGS_JS)
        if found["ran"] is not None or found["bad"] or self.dialogs:
            self.problems.append(f"{where}: ran={found['ran']} dialogs={self.dialogs} live={found['bad']}")
        if exceptions(self.page):
            self.problems.append(f"{where}: exception {exceptions(self.page)}")
        self.dialogs.clear()


def interact(page: Page, live: DashboardServer, watch: Watch, tmp_path: Path) -> int:
    """Controls that show more hostile text: a selected user's links, a selected row's links, the delete
    dialog, the audit entry's diff, a hostile import file. Returns how many states were checked."""
    open_page(page, live.url(f"/users?store={STORE}"))
    click_table_rows(page, page.locator("[class*='st-key-users_table_']"), [0])
    watch.check("users, a user selected")
    open_page(page, live.url(f"/browse?store={STORE}"))
    click_table_rows(page, page.locator("[class*='st-key-browse_table_']"), [0, 1])
    watch.check("browse, rows selected")
    open_page(page, live.url(f"/memory?store={STORE}&id=x00"))
    rerun(page, lambda: key(page, "detail_delete").locator("button").click())
    watch.check("memory, delete dialog")
    assert f"{PAYLOADS[0]} memory 0" in page.inner_text("body")  # shown, as text
    seq = audit_seq(live)
    open_page(page, live.url(f"/audit?store={STORE}&entry={seq}"))
    watch.check("audit, one entry")
    upload = tmp_path / "hostile.jsonl"
    lines = [json.dumps({"user_id": USERS[i % len(USERS)], "memory": p, "tags": [p], "metadata": {p: p}})
             for i, p in enumerate(PAYLOADS)]
    upload.write_text("\n".join([*lines, json.dumps({"user_id": PAYLOADS[1], "memory": 5}), PAYLOADS[0]]) + "\n")
    open_page(page, live.url(f"/transfer?store={STORE}"))
    rerun(page, lambda: key(page, "import_file").locator("input[type=file]").set_input_files(str(upload)))
    watch.check("import, a hostile file")
    return 5


def audit_seq(live: DashboardServer) -> int:
    hub = StoreHub(str(live.config))
    try:
        return next(hub.audit.entries(AuditQuery(memory_id="x01", operation="update"))).seq or 0
    finally:
        hub.close()


def test_no_payload_runs_on_any_page(browser: BrowserContext, live: DashboardServer, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    page = browser.new_page()
    watch = Watch(page)
    urls = visits()
    for url in urls:
        open_page(page, live.url(url))
        watch.check(url)
    states = len(urls) + interact(page, live, watch, tmp_path)
    shown = page.inner_text("body")
    with capsys.disabled():
        print(f"\nXSS: {len(PAYLOADS)} payloads in memory text, tags, metadata keys and values, conversation roles "
              f"and contents; {len(USERS) - 1} hostile user ids, a hostile memory id, store name and actor; "
              f"{len(url_paths())} pages, {states} page states checked; executed: {len(watch.problems)}")
    assert not watch.problems, "\n".join(watch.problems)
    assert "24 rows: 22 valid, 2 invalid." in shown  # the hostile import file was read and reported


def test_the_check_sees_a_payload_that_runs(browser: BrowserContext) -> None:
    """The detector itself: the same payloads, inserted as HTML into a blank page, are caught."""
    page = browser.new_page()
    watch = Watch(page)
    page.set_content("<main></main>")
    page.evaluate("html => { document.querySelector('main').innerHTML = html; }", "".join(PAYLOADS))
    watch.check("raw HTML")
    [problem] = watch.problems
    assert "ran=None" not in problem and "dialogs=['3']" in problem  # innerHTML runs handlers, not <script>
    assert "IMG onerror" in problem and "A href=javascript:" in problem and "SCRIPT with a payload" in problem
