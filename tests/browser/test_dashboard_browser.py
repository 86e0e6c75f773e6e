"""The dashboard end to end in Chromium: a real ``memdash run`` server on two sqlite stores, an operator's
round of work (find a user, search, edit a tag, add a memory, bulk-delete two, export, re-import into an
empty store), each step checked in the page and in the store read from this process; and every page loaded
once, without an exception, with a screenshot in ``screenshots/`` (git-ignored).

Chromium and the server never skip: when one cannot start, the tests fail with the reason.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from playwright.sync_api import BrowserContext, Page, expect

from memory_core.demo import demo_ages, demo_items
from memory_core.errors import NotFoundError
from memory_core.records import MemoryFilter, MemoryRecord, Sort
from memory_core.transfer import parse_jsonl
from tests.helpers.browser import (
    DashboardServer,
    LiveError,
    add_tag,
    click_table_rows,
    exceptions,
    full_screenshot,
    key,
    open_page,
    rerun,
    store_call,
)

pytestmark = pytest.mark.browser
T = TypeVar("T")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
RECORDS = [MemoryRecord(id=f"demo-{i:02d}", item=item, created_at=NOW - age, updated_at=NOW - age)
           for i, (item, age) in enumerate(zip(demo_items(), demo_ages(), strict=True))]
expect.set_options(timeout=15_000)


def demo_id(memory: str) -> str:
    return next(r.id for r in RECORDS if r.item.memory == memory)


# --- fixtures ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:
    """``memdash run --no-auth`` on a config with two sqlite stores: ``main`` holding the demo memories (known
    ids and times), ``copy`` empty."""
    folder = tmp_path_factory.mktemp("live-dashboard")
    config = folder / "memdash.yml"
    stores = {"main": {"_type": "sqlite", "path": "main.sqlite3"}, "copy": {"_type": "sqlite", "path": "copy.sqlite3"}}
    config.write_text(yaml.safe_dump({"memory": stores}, sort_keys=False))
    store_call(config, "main", lambda store: store.add_records(RECORDS))
    server = DashboardServer(config, folder / "server.log", no_auth=True)  # sign-in has its own tests
    try:
        server.start()
    except LiveError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()




@pytest.fixture
def page(browser: BrowserContext, live: DashboardServer) -> Iterator[Page]:
    page = browser.new_page()
    yield page
    page.close()


def in_store(live: DashboardServer, call: Callable[[Any], Awaitable[T]], store: str = "main") -> T:
    """``await call(store)`` on the server's store, opened in this process."""
    return store_call(live.config, store, call)


def ok(page: Page) -> None:
    assert not exceptions(page), exceptions(page)


def caption_with(page: Page, text: str) -> None:
    expect(page.locator("[data-testid='stMain'] [data-testid='stCaptionContainer']", has_text=text)).to_have_count(1)


# --- every page ----------------------------------------------------------------------------------------------

PAGES = {
    "browse": ("/?store=main", "Browse memories"),
    "search": ("/search?store=main&user=alice&q=vegetarian", "Search"),
    "memory": (f"/memory?store=main&id={RECORDS[0].id}", "Memory"),
    "add": ("/add?store=main&user=alice", "Add a memory"),
    "users": ("/users?store=main", "Users"),
    "transfer": ("/transfer?store=main", "Import / export"),
    "stores": ("/stores", "Stores"),
    "audit": ("/audit?store=main", "Audit log"),
    "trash": ("/trash?store=main", "Trash"),
    "stats": ("/stats?store=main", "Analytics"),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_without_exception_and_is_screenshot(page: Page, live: DashboardServer, name: str) -> None:
    path, title = PAGES[name]
    open_page(page, live.url(path))
    expect(page.locator("[data-testid='stMain'] h1")).to_have_text(title)
    ok(page)
    assert not page.locator("[data-testid='stAlertContentError']").all_inner_texts()
    full_screenshot(page, SCREENSHOTS / f"{name}.png")


# --- the operator's round ------------------------------------------------------------------------------------

def test_users_page_finds_a_user_by_prefix_and_links_to_their_memories(page: Page, live: DashboardServer) -> None:
    [dmitri] = in_store(live, lambda store: store.list_users(prefix="d")).users
    open_page(page, live.url("/users?store=main"))
    prefix = key(page, "users_prefix").locator("input")
    prefix.fill("d")
    rerun(page, lambda: prefix.press("Enter"))
    assert "prefix=d" in page.url
    caption_with(page, "1 user on this page")
    table = page.locator("[class*='st-key-users_table_']")
    expect(table.locator("[data-testid='glide-cell-1-0']")).to_have_text("dmitri")
    expect(table.locator("[data-testid='glide-cell-3-0']")).to_have_text(str(dmitri.memory_count))  # after the label
    click_table_rows(page, table, [0])
    rerun(page, lambda: page.get_by_role("link", name="Browse dmitri's memories").click())
    expect(page.locator("[data-testid='stMain'] h1")).to_have_text("Browse memories")
    assert "user=dmitri" in page.url
    n = dmitri.memory_count
    caption_with(page, f"rows 1–{n} of {n} matching")
    ok(page)


def test_search_shows_the_memory_with_its_score_and_opens_it(page: Page, live: DashboardServer) -> None:
    [best, *_] = in_store(live, lambda store: store.search_records("vegetarian", user_id="alice"))
    open_page(page, live.url("/search?store=main"))
    key(page, "search_user").locator("input").fill("alice")
    key(page, "search_query").locator("input").fill("vegetarian")
    rerun(page, lambda: page.get_by_role("button", name="Search", exact=True).click())
    assert "user=alice" in page.url and "q=vegetarian" in page.url
    expect(page.locator("[data-testid='stMain'] [data-testid='stText']").first).to_have_text(best.record.item.memory)
    expect(page.locator("[data-testid='stMetricValue']").first).to_have_text(f"{best.score:.3f}")
    caption_with(page, f"#1 · score {best.score:.3f}")
    rerun(page, lambda: page.get_by_role("link", name=f"Open “{best.record.item.memory[:59]}").click())
    expect(page.locator("[data-testid='stMain'] h1")).to_have_text("Memory")
    expect(page.get_by_text(f"id: {best.record.id}", exact=True)).to_be_visible()
    ok(page)


def test_memory_page_adds_a_tag_and_the_store_holds_a_new_version(page: Page, live: DashboardServer) -> None:
    memory_id = demo_id("Carmen is vegan.")
    before = in_store(live, lambda store: store.get_record(memory_id))
    open_page(page, live.url(f"/memory?store=main&id={memory_id}"))
    expect(page.get_by_text(f"version: {before.version}", exact=True)).to_be_visible()
    add_tag(page, "detail_tags", "checked")
    rerun(page, lambda: key(page, "detail_save").locator("button").click())
    expect(page.locator("[data-testid='stAlertContentSuccess']")).to_have_text(
        f"Saved: this memory is now version {before.version + 1}.")
    expect(page.get_by_text(f"version: {before.version + 1}", exact=True)).to_be_visible()
    after = in_store(live, lambda store: store.get_record(memory_id))
    assert after.version == before.version + 1
    assert after.item.tags == [*before.item.tags, "checked"]
    assert (after.item.memory, after.item.metadata) == (before.item.memory, before.item.metadata)
    ok(page)


def test_add_page_adds_a_memory_to_the_store(page: Page, live: DashboardServer) -> None:
    text = "Dmitri is learning Estonian on Duolingo."
    open_page(page, live.url("/add?store=main&user=dmitri"))
    expect(key(page, "add_user_0").locator("input")).to_have_value("dmitri")
    key(page, "add_memory_0").locator("textarea").fill(text)
    add_tag(page, "add_tags_0", "language")
    key(page, "add_metadata_0").locator("textarea").fill('{"source": "e2e"}')
    rerun(page, lambda: page.get_by_role("button", name="Add memory").click())
    expect(page.locator("[data-testid='stAlertContentSuccess']")).to_contain_text(
        f"Added “{text}” for dmitri.")
    href = page.get_by_role("link", name="Open the new memory").get_attribute("href") or ""
    new_id = re.search(r"[?&]id=(\w+)", href).group(1)
    added = in_store(live, lambda store: store.get_record(new_id))
    assert (added.user_id, added.item.memory, added.item.tags, added.item.metadata) == (
        "dmitri", text, ["language"], {"source": "e2e"})
    ok(page)


def test_browse_bulk_deletes_two_selected_rows(page: Page, live: DashboardServer) -> None:
    newest = in_store(live, lambda store: store.list_records(MemoryFilter(user_id="emi"), sort=Sort(), limit=100))
    doomed, n = [r.id for r in newest.records[:2]], len(newest.records)
    open_page(page, live.url("/?store=main&user=emi"))
    caption_with(page, f"rows 1–{n} of {n} matching")
    click_table_rows(page, page.locator("[class*='st-key-browse_table_']"), [0, 1])
    for record in newest.records[:2]:
        expect(page.get_by_role("link", name=f"Open “{record.item.memory[:59]}")).to_be_visible()
    rerun(page, lambda: page.get_by_role("button", name="Delete…", exact=True).click())
    expect(page.get_by_role("dialog")).to_contain_text("Delete 2 memories selected?")
    rerun(page, lambda: key(page, "bulk_confirm").locator("button").click())
    expect(page.locator("[data-testid='stAlertContentSuccess']")).to_have_text("Deleted 2 memories.")
    caption_with(page, f"rows 1–{n - 2} of {n - 2} matching")
    for memory_id in doomed:
        with pytest.raises(NotFoundError):
            in_store(live, lambda store, memory_id=memory_id: store.get_record(memory_id))
    assert in_store(live, lambda store: store.count_records(MemoryFilter(user_id="emi"))) == n - 2
    ok(page)


def download_export(page: Page, folder: Path) -> bytes:
    """Click the Import / export page's download link (streamed by the server); the file's bytes."""
    with page.expect_download() as download:
        key(page, "export_download").locator("a").click()
    path = folder / download.value.suggested_filename
    download.value.save_as(path)
    return path.read_bytes()


def test_export_then_import_into_an_empty_store_gives_the_same_records(page: Page, live: DashboardServer,
                                                                       tmp_path: Path) -> None:
    stored = in_store(live, lambda store: store.count_records(MemoryFilter()))
    assert in_store(live, lambda store: store.count_records(MemoryFilter()), "copy") == 0
    open_page(page, live.url("/transfer?store=main"))
    caption_with(page, f"{stored} memories to export.")
    exported = download_export(page, tmp_path / "main")
    lines = exported.decode().splitlines()
    report = parse_jsonl(lines)
    assert len(lines) == stored and report.ok and len(report.records) == stored
    listed = in_store(live, lambda store: store.list_records(MemoryFilter(), limit=500)).records
    assert sorted(r.id for r in report.records) == sorted(r.id for r in listed)

    key(page, "store_picker").click()
    rerun(page, lambda: page.get_by_role("option", name="copy", exact=True).click())
    assert "store=copy" in page.url
    caption_with(page, "0 memories to export.")
    key(page, "import_file").locator("input[type=file]").set_input_files(tmp_path / "main" / "main-memories.jsonl")
    caption_with(page, f"{stored} rows: {stored} valid, 0 invalid.")
    rerun(page, lambda: key(page, "import_go").locator("button").click())
    expect(page.locator("[data-testid='stAlertContentSuccess']")).to_contain_text(
        f"Imported into store 'copy': {stored} added.")
    assert in_store(live, lambda store: store.count_records(MemoryFilter()), "copy") == stored

    again = download_export(page, tmp_path / "copy")
    assert parse_jsonl(again.decode().splitlines()).records == report.records
    assert again == exported
    ok(page)


@pytest.mark.parametrize("path", ["/browse?store=main&user=emi", "/?store=main&user=emi"])
def test_browse_opens_by_its_own_name_and_from_the_root(page: Page, live: DashboardServer, path: str) -> None:
    """``/browse`` opened with a "Page not found" dialog on d5b94e4; both addresses show emi's memories."""
    n = in_store(live, lambda store: store.count_records(MemoryFilter(user_id="emi")))
    open_page(page, live.url(path))
    expect(page.locator("[data-testid='stMain'] h1")).to_have_text("Browse memories")
    assert "user=emi" in page.url
    expect(page.get_by_text("Page not found")).to_have_count(0)
    caption_with(page, f"of {n} matching")
    ok(page)


def test_an_absurd_audit_entry_number_is_a_message(page: Page, live: DashboardServer) -> None:
    open_page(page, live.url("/audit?store=main&entry=99999999999999999999"))
    expect(page.locator("[data-testid='stAlertContentError']").first).to_contain_text(
        "no audit entry number 99999999999999999999")
    ok(page)


def test_no_request_leaves_the_machine(browser: BrowserContext, live: DashboardServer) -> None:
    """Every page, in a fresh tab: each request goes to the dashboard's own host (on d5b94e4 every page fetched
    its icon from fonts.gstatic.com, which an air-gapped site cannot reach and a connected one tells about)."""
    page = browser.new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    try:
        for path, _ in PAGES.values():
            open_page(page, live.url(path))
            page.wait_for_timeout(300)  # late requests (icons) are made after the run
    finally:
        page.close()
    assert hosts == {f"127.0.0.1:{live.port}"}


CLIPPED = """() => [...document.querySelectorAll("[data-testid='stMain'] button, [data-testid='stMain'] a")]
    .filter(b => b.offsetParent !== null)
    .flatMap(b => [...b.querySelectorAll("*"), b])
    .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflow !== "visible")
    .map(e => (e.closest("button, a") || e).innerText.trim())"""


@pytest.mark.parametrize("name", [*PAGES, "playground", "review"])
def test_at_1024_pixels_no_control_is_cut_and_nothing_scrolls_sideways(browser: BrowserContext,
                                                                        live: DashboardServer, name: str) -> None:
    path, title = PAGES.get(name, (f"/{name}?store=main", None))
    page = browser.new_page()
    page.set_viewport_size({"width": 1024, "height": 768})
    try:
        open_page(page, live.url(path))
        page.wait_for_timeout(500)  # the layout settles after the run
        if title:
            expect(page.locator("[data-testid='stMain'] h1")).to_have_text(title)
        assert page.evaluate(CLIPPED) == [], f"cut at 1024 px on {name}"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
        ok(page)
    finally:
        page.close()
