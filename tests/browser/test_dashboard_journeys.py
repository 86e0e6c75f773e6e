"""The operators' journeys, clicked as a person clicks them: a real ``memdash run`` on a sqlite store, a fresh
Chromium profile for every journey, no widget state prepared. After EACH step the store and the audit log are
read from this process (:class:`browser_helpers.Ledger`): exactly the memories the operator meant changed, each
change is one audit entry with the memory's state before and after, and nothing else moved.

Each journey guards a defect seen on d5b94e4 (docs/safety.md lists which): bulk scope widened to the whole
filter, ticks left on other memories after a re-sort, an import that overwrote a memory for good, an add form
that re-added, review approvals written into the memory, a delete without confirmation, a stale Undo, a revert
in one click. Chromium and the server never skip: when one cannot start, the tests fail with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, Playwright, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from memory_core.demo import demo_ages, demo_items
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter, MemoryRecord
from tests.helpers.browser import (
    DashboardServer,
    Ledger,
    LiveError,
    add_tag,
    chromium_or_fail,
    click_table_rows,
    comparable,
    exceptions,
    key,
    open_page,
    rerun,
    store_call,
    wait_for_run,
)

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)
NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
DEMO = [MemoryRecord(id=f"demo-{i:02d}", item=item, created_at=NOW - age, updated_at=NOW - age)
        for i, (item, age) in enumerate(zip(demo_items(), demo_ages(), strict=True))]
# pat: 30 preferences, so a tag filter has a second page; rita: what the review queue flags
PAT = [MemoryRecord(id=f"pat-{i:02d}", created_at=NOW - dt.timedelta(hours=i), updated_at=NOW - dt.timedelta(hours=i),
                    item=MemoryItem(user_id="pat", memory=f"Pat's preference number {i}: {word}",
                                    tags=["preference"] if i % 10 else ["preference", "music"]))
       for i, word in enumerate(("jazz tea maps chess rain oak kiwi lime mint snow " * 3).split())]
RITA = [MemoryRecord(id=rid, created_at=NOW - dt.timedelta(minutes=m), updated_at=NOW - dt.timedelta(minutes=m),
                     item=MemoryItem(user_id="rita", memory=text, tags=["diet"]))
        for rid, m, text in (("rita-mail", 30, "Rita's e-mail is rita@example.com"),
                             ("rita-veg", 20, "Rita is vegetarian"),
                             ("rita-meat", 10, "Rita eats meat at barbecues"))]
ALL = [*DEMO, *PAT, *RITA]


def record_of(memory_id: str) -> MemoryRecord:
    return next(r for r in ALL if r.id == memory_id)


# --- fixtures ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:
    """``memdash run`` on one sqlite store holding what agents wrote before any operator came (not audited)."""
    folder = tmp_path_factory.mktemp("journeys")
    config = folder / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "sqlite", "path": "main.sqlite3"}},
                                      "memdash": {"auth": {"mode": "off"}}}, sort_keys=False))
    store_call(config, "main", lambda store: store.add_records(ALL))
    server = DashboardServer(config, folder / "server.log")
    try:
        server.start()
    except LiveError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture
def person(playwright: Playwright, tmp_path: Path) -> Iterator[Page]:
    """A person at a fresh browser: a new Chromium profile, nothing in it from another journey."""
    context = chromium_or_fail(playwright, tmp_path / "profile")
    page = context.new_page()
    yield page
    assert not exceptions(page), exceptions(page)
    context.close()


@pytest.fixture
def ledger(live: DashboardServer) -> Ledger:
    return Ledger(live.config, "main", live.config.parent / "memdash-audit.sqlite3")


# --- what a person sees and clicks -------------------------------------------------------------------------------

def choose(page: Page, widget_key: str, option: str) -> None:
    """Pick ``option`` in a select box as a person does: open it (again, if a run redrew it before the list
    showed), then click the option and wait for the run it causes."""
    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(3):
        key(page, widget_key).locator("input").first.click()
        try:
            choice.wait_for(timeout=5_000)
            break
        except PlaywrightTimeoutError:
            continue
    rerun(page, choice.click)


def click(page: Page, widget_key: str) -> None:
    """Click the button with this key and wait for the run it causes."""
    rerun(page, lambda: key(page, widget_key).locator("button").first.click())


def success(page: Page) -> str:
    alert = page.locator("[data-testid='stAlertContentSuccess']").first
    expect(alert).to_be_visible()
    return alert.inner_text()


def dialog(page: Page) -> str:
    box = page.get_by_role("dialog")
    expect(box).to_be_visible()
    return box.inner_text()


def caption_with(page: Page, text: str) -> None:
    expect(page.locator("[data-testid='stMain'] [data-testid='stCaptionContainer']", has_text=text).first
           ).to_be_attached()


def browse_table(page: Page):
    return page.locator("[class*='st-key-browse_table_']")


def shown_ids(page: Page, ledger: Ledger) -> list[str]:
    """The memories the Browse table shows, top to bottom, by their text in its first column (the grid renders
    only the cells in view; the id column is the last) and the store's current state (each text is unique)."""
    table = browse_table(page)
    table.locator("[data-testid='glide-cell-1-0']").wait_for(state="attached")
    cells = table.locator("[data-testid^='glide-cell-1-']")
    by_text = {state["memory"]: memory_id for memory_id, state in ledger.state.items()}
    assert len(by_text) == len(ledger.state), "the journeys' memories need distinct texts"
    return [by_text[cells.nth(i).inner_text()] for i in range(cells.count())]


def newest_of(ledger: Ledger, user: str) -> list[str]:
    """The user's memory ids as Browse lists them by default (updated, newest first; ties by id, newest first)."""
    mine = [(state["updated_at"], memory_id) for memory_id, state in ledger.state.items() if state["user_id"] == user]
    return [memory_id for _, memory_id in sorted(mine, reverse=True)]


# --- 1. review a user's stored preferences -------------------------------------------------------------------------

def test_review_a_users_preferences_changes_nothing(person: Page, live: DashboardServer, ledger: Ledger) -> None:
    open_page(person, live.url("/"))
    rerun(person, lambda: person.get_by_role("link", name="Users").click())
    prefix = key(person, "users_prefix").locator("input")
    prefix.fill("pat")
    rerun(person, lambda: prefix.press("Enter"))
    click_table_rows(person, person.locator("[class*='st-key-users_table_']"), [0])
    rerun(person, lambda: person.get_by_role("link", name="Browse pat's memories").click())
    ledger.step("open a user's memories")
    key(person, "filter_tags").locator("input").fill("preference")
    rerun(person, lambda: person.get_by_role("button", name="Apply").click())
    assert "user=pat" in person.url and "tags=preference" in person.url
    caption_with(person, "rows 1–25 of 30 matching")
    ledger.step("filter by tag")
    click(person, "browse_pager_next")
    caption_with(person, "Page 2 · rows 26–30 of 30 matching")
    ledger.step("page 2")
    second_page = shown_ids(person, ledger)
    click_table_rows(person, browse_table(person), [1])
    rerun(person, lambda: person.get_by_role("link", name=f"Open “{record_of(second_page[1]).item.memory}”").click())
    expect(person.get_by_text(f"id: {second_page[1]}", exact=True)).to_be_visible()
    expect(key(person, "detail_memory").locator("textarea")).to_have_value(record_of(second_page[1]).item.memory)
    ledger.step("open a memory")


# --- 2. correct a memory's text and tags ---------------------------------------------------------------------------

def test_correct_text_and_tags(person: Page, live: DashboardServer, ledger: Ledger) -> None:
    target = "demo-10"  # bob: "Bob flies to Chicago every month to meet clients."
    open_page(person, live.url(f"/memory?store=main&id={target}"))
    key(person, "detail_memory").locator("textarea").fill("Bob flies to Chicago every other month.")
    add_tag(person, "detail_tags", "corrected")
    click(person, "detail_save")
    assert success(person) == "Saved: this memory is now version 2."
    [entry] = ledger.step("save", changed=[target], operations=["update"])
    assert entry.after["memory"] == "Bob flies to Chicago every other month."
    assert entry.after["tags"] == ["travel", "corrected"] and entry.before["memory"].endswith("every month to meet "
                                                                                              "clients.")
    click(person, "detail_save")  # a second click on Save with nothing new
    expect(person.locator("[data-testid='stAlertContentInfo']").first).to_have_text("Nothing changed.")
    ledger.step("save again")


def test_a_stale_edit_is_refused_and_shown(person: Page, live: DashboardServer, ledger: Ledger) -> None:
    target = "demo-11"
    open_page(person, live.url(f"/memory?store=main&id={target}"))
    other_operator = record_of(target).model_copy(update={"version": 5})
    store_call(live.config, "main", lambda store: store.add_records([other_operator]))  # meanwhile
    ledger.state = ledger.records()
    key(person, "detail_memory").locator("textarea").fill("My correction")
    click(person, "detail_save")
    expect(person.locator("[data-testid='stAlertContentError']").first).to_contain_text(
        "Not saved: someone changed this memory since you loaded it")
    ledger.step("a save from a stale page")


# --- 3. bulk: tag two ticked rows, then delete one ticked row ------------------------------------------------------

def test_bulk_tag_two_rows_then_delete_one_without_touching_the_scope(person: Page, live: DashboardServer,
                                                                     ledger: Ledger) -> None:
    open_page(person, live.url("/?store=main&user=emi"))
    order = newest_of(ledger, "emi")
    assert shown_ids(person, ledger) == order
    click_table_rows(person, browse_table(person), [1, 2])
    key(person, "bulk_tags").locator("input").fill("checked")
    rerun(person, lambda: person.get_by_role("button", name="Tag…", exact=True).click())
    text = dialog(person)
    assert "Tag 2 memories selected: add checked." in text and "matching the filter" not in text
    for memory_id in order[1:3]:
        assert record_of(memory_id).item.memory in text
    ledger.step("open the dialog")
    click(person, "bulk_confirm")
    assert success(person) == "Tagged 2 memories."
    ledger.step("tag", changed=order[1:3], operations=["update", "update"])

    now = shown_ids(person, ledger)
    assert sorted(now[:2]) == sorted(order[1:3])  # the tagged memories moved to the top...
    expect(person.get_by_role("link", name=re.compile("^Open “"))).to_have_count(0)  # ...and nothing is ticked
    caption_with(person, "0 rows selected · 8 matching")
    click_table_rows(person, browse_table(person), [3])
    doomed = now[3]
    rerun(person, lambda: person.get_by_role("button", name="Delete…", exact=True).click())
    text = dialog(person)
    assert "Delete 1 memory selected?" in text and record_of(doomed).item.memory in text
    click(person, "bulk_confirm")
    assert success(person) == "Deleted 1 memory."
    ledger.step("delete one ticked row", changed=[doomed], operations=["delete"])

    # 4. undo, from the sidebar
    rerun(person, lambda: key(person, "undo_sidebar").locator("button").click())
    assert success(person) == "Restored 1 memory."
    ledger.step("undo", changed=[doomed], operations=["revert"])
    assert ledger.state[doomed] == comparable(ledger.entries()[-2].before)  # back exactly as it was
    expect(key(person, "undo_sidebar")).to_have_count(0)


def test_one_ticked_row_is_what_delete_deletes(person: Page, live: DashboardServer, ledger: Ledger) -> None:
    """The issue's first repro (there on emi's eight): tick one row, click Delete…, scope control untouched."""
    open_page(person, live.url("/?store=main&user=carmen"))
    order = shown_ids(person, ledger)
    click_table_rows(person, browse_table(person), [0])
    rerun(person, lambda: person.get_by_role("button", name="Delete…", exact=True).click())
    text = dialog(person)
    assert "Delete 1 memory selected?" in text, text
    click(person, "bulk_confirm")
    ledger.step("delete the one ticked row", changed=[order[0]], operations=["delete"])


def test_undo_goes_away_once_the_memory_is_restored_from_the_trash(person: Page, live: DashboardServer,
                                                                     ledger: Ledger) -> None:
    target = "demo-05"
    open_page(person, live.url(f"/memory?store=main&id={target}"))
    click(person, "detail_delete")
    assert record_of(target).item.memory in dialog(person)
    click(person, "detail_delete_confirm")
    ledger.step("delete", changed=[target], operations=["delete"])
    expect(key(person, "undo_sidebar")).to_have_count(1)
    rerun(person, lambda: person.get_by_role("link", name="Trash").click())
    trash = person.locator("[class*='st-key-trash_table_']")
    expect(trash.locator("[data-testid='glide-cell-4-0']")).to_have_text(record_of(target).item.memory)
    click_table_rows(person, trash, [0])
    click(person, "trash_restore")
    assert success(person) == "Restored 1 memory."
    ledger.step("restore from the trash", changed=[target], operations=["revert"])
    expect(key(person, "undo_sidebar")).to_have_count(0)  # no stale Undo left to click
    expect(person.locator("[data-testid='stAlertContentError']")).to_have_count(0)


def test_back_button_in_a_confirmation_changes_nothing(person: Page, live: DashboardServer, ledger: Ledger) -> None:
    open_page(person, live.url("/?store=main&user=alice"))
    open_page(person, live.url("/?store=main&user=bob"))
    click_table_rows(person, browse_table(person), [0])
    rerun(person, lambda: person.get_by_role("button", name="Delete…", exact=True).click())
    dialog(person)
    rerun(person, person.go_back)
    expect(person.locator("[data-testid='stMain'] h1")).to_have_text("Browse memories")
    assert "user=alice" in person.url
    ledger.step("back in the middle of a confirmation")


# --- 5. import a file whose ids collide ------------------------------------------------------------------------------

def collision_file(folder: Path, existing: str) -> Path:
    stored = record_of(existing)
    rows = [{"id": existing, "user_id": stored.user_id, "memory": "Text from the file",
             "created_at": stored.created_at.isoformat(), "updated_at": NOW.isoformat()},
            {"id": f"new-{existing}", "user_id": stored.user_id, "memory": "A new memory from the file"}]
    path = folder / "collide.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(("choice", "label", "existing"), [
    ("skip", "Skip them (keep what is stored)", "demo-20"),
    ("overwrite", "Overwrite them (audited as edits, revertible)", "demo-21"),
    ("new-ids", "Import them as new memories (new ids)", "demo-22"),
])
def test_import_with_an_id_collision_is_a_decision(person: Page, live: DashboardServer, ledger: Ledger,
                                                   tmp_path: Path, choice: str, label: str, existing: str) -> None:
    open_page(person, live.url("/transfer?store=main"))
    key(person, "import_file").locator("input[type=file]").set_input_files(collision_file(tmp_path, existing))
    expect(person.locator("[data-testid='stAlertContentWarning']").first).to_contain_text(
        "1 row of this file uses an id that already exists in store 'main'")
    expect(key(person, "import_go").locator("button")).to_be_disabled()  # no choice made: nothing can be written
    ledger.step("upload")
    rerun(person, lambda: key(person, "import_on_existing").get_by_text(label).click())
    click(person, "import_go")
    summary = success(person)
    if choice == "skip":
        assert summary == "Imported into store 'main': 1 added, 1 skipped (their ids exist)."
        ledger.step("import", changed=[f"new-{existing}"], operations=["add"])
    elif choice == "overwrite":
        assert summary == "Imported into store 'main': 1 added, 1 overwritten."
        entries = ledger.step("import", changed=[existing, f"new-{existing}"], operations=["add", "update"])
        overwrite = next(e for e in entries if e.operation == "update")
        assert overwrite.before["memory"] == record_of(existing).item.memory  # the old text is in the log
    else:
        assert summary.startswith("Imported into store 'main': 2 added")
        ledger.step("import", changed=[f"new-{existing}"], added=1, operations=["add", "add"])
        assert ledger.state[existing]["memory"] == record_of(existing).item.memory


def test_an_import_whose_ids_collide_with_each_other_writes_nothing(person: Page, live: DashboardServer,
                                                                     ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "twice.jsonl"
    path.write_text(json.dumps({"id": "x1", "user_id": "zed", "memory": "one"}) + "\n"
                    + json.dumps({"id": "x1", "user_id": "zed", "memory": "two"}) + "\n", encoding="utf-8")
    open_page(person, live.url("/transfer?store=main"))
    key(person, "import_file").locator("input[type=file]").set_input_files(path)
    caption_with(person, "2 rows: 1 valid, 1 invalid.")
    expect(key(person, "import_go").locator("button")).to_be_disabled()
    ledger.step("upload a file with the same id twice")


# --- 6. add twice ----------------------------------------------------------------------------------------------------

def wait_until_stored(ledger: Ledger, memory: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not any(r.get("memory") == memory for r in ledger.records().values()):
        assert time.monotonic() < deadline, f"{memory!r} was never stored"
        time.sleep(0.5)


def test_add_twice_and_a_double_click_adds_once(person: Page, live: DashboardServer, ledger: Ledger) -> None:
    open_page(person, live.url("/add?store=main&user=dmitri"))
    key(person, "add_memory_0").locator("textarea").fill("Dmitri is learning Estonian.")
    add_tag(person, "add_tags_0", "language")
    key(person, "add_metadata_0").locator("textarea").fill('{"source": "support call"}')
    rerun(person, lambda: person.get_by_role("button", name="Add memory").click())
    assert success(person).startswith("Added “Dmitri is learning Estonian.” for dmitri.")
    [first] = ledger.step("first add", added=1, operations=["add"])
    assert (first.after["tags"], first.after["metadata"]) == (["language"], {"source": "support call"})
    expect(key(person, "add_memory_1").locator("textarea")).to_have_value("")  # a new, empty form
    expect(key(person, "add_metadata_1").locator("textarea")).to_have_value("")

    key(person, "add_memory_1").locator("textarea").fill("Dmitri prefers calls after 10 am.")
    key(person, "add_metadata_1").locator("textarea").fill('{"source": "chat"}')
    # the typed text reaches the server first (on blur), so the double click is all the next runs are about
    rerun(person, lambda: key(person, "add_metadata_1").locator("textarea").blur())
    rerun(person, lambda: person.get_by_role("button", name="Add memory").dblclick())
    wait_until_stored(ledger, "Dmitri prefers calls after 10 am.")  # a slow machine is not a lost add
    time.sleep(1)  # a second run, if the double click caused one, has finished
    rerun(person, lambda: None)
    [second] = ledger.step("a double click on the second add", added=1, operations=["add"])
    assert (second.after["memory"], second.after["metadata"]) == ("Dmitri prefers calls after 10 am.",
                                                                  {"source": "chat"})


# --- 7. the review queue -------------------------------------------------------------------------------------------

def test_review_queue_approve_and_delete(person: Page, live: DashboardServer, ledger: Ledger) -> None:
    open_page(person, live.url("/review?store=main"))
    click(person, "review_scan")
    finding = person.locator("[class*='st-key-review_finding_']", has_text="rita@example.com").first
    expect(finding).to_be_visible()
    ledger.step("scan")
    rerun(person, lambda: finding.get_by_role("button", name="Approve").click())
    assert success(person).startswith("Approved “Rita's e-mail is rita@example.com” (user rita)")
    [approval] = ledger.step("approve", notes=["review"])  # the memory itself is untouched
    assert (approval.memory_id, approval.note) == ("rita-mail", "approved version 1")

    pair = person.locator("[class*='st-key-review_finding_']", has_text="vegetarian / eats meat").first
    rerun(person, lambda: pair.get_by_role("button", name="Delete the newer…").click())
    text = dialog(person)
    assert "Delete this memory of user rita?" in text and "Rita eats meat at barbecues" in text
    ledger.step("open the confirmation")
    click(person, "review_delete_confirm")
    assert success(person) == "Deleted “Rita eats meat at barbecues” (user rita)."
    ledger.step("delete", changed=["rita-meat"], operations=["delete"])
    click(person, "undo_banner")
    assert success(person) == "Restored 1 memory."
    ledger.step("undo", changed=["rita-meat"], operations=["revert"])


# --- 8. revert from the audit log ----------------------------------------------------------------------------------

def test_revert_from_the_audit_log_shows_the_change_first(person: Page, live: DashboardServer,
                                                         ledger: Ledger) -> None:
    target = "demo-30"
    open_page(person, live.url(f"/memory?store=main&id={target}"))
    key(person, "detail_memory").locator("textarea").fill("A wrong correction")
    click(person, "detail_save")
    [edit] = ledger.step("an edit to undo", changed=[target], operations=["update"])

    open_page(person, live.url(f"/audit?store=main&id={target}"))
    table = person.locator("[class*='st-key-audit_table_']")
    expect(table.locator("[data-testid='glide-cell-6-0']")).to_have_text("A wrong correction")  # text, not an id
    click_table_rows(person, table, [0])
    rerun(person, lambda: person.get_by_role("link", name=f"Open audit entry {edit.seq}").click())
    click(person, "audit_revert")
    text = dialog(person)
    assert "Revert 1 change?" in text and "-A wrong correction" in text
    ledger.step("the confirmation shows the change")
    click(person, "audit_revert_confirm")
    assert success(person) == "Reverted 1 change."
    [revert] = ledger.step("revert", changed=[target], operations=["revert"])
    assert revert.after["memory"] == record_of(target).item.memory and revert.reverts == edit.seq
    expect(person.locator("[data-testid='stAlertContentInfo']").first).to_contain_text(
        f"This change was already reverted by audit entry {revert.seq}")
    expect(person.locator("[data-testid='stAlertContentWarning']")).to_have_count(0)



# --- 9. take a copy of one user's memories -------------------------------------------------------------------------

def test_download_streams_the_filtered_export_and_the_audit_log_says_who_took_it(
        person: Page, live: DashboardServer, ledger: Ledger, tmp_path: Path) -> None:
    open_page(person, live.url("/transfer?store=main&user=pat"))
    expect(person.get_by_text("30 memories to export.")).to_be_visible()
    link = key(person, "export_download").locator("a")
    href = link.get_attribute("href") or ""
    assert href.startswith("memdash/download/")  # streamed by the server, not held in the session
    with person.expect_download() as download:
        link.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    rows = [json.loads(line) for line in saved.read_text().splitlines()]
    assert saved.name == "main-memories.jsonl"
    assert sorted(r["id"] for r in rows) == sorted(r.id for r in PAT)
    [export] = ledger.step("download", notes=["export"])
    assert (export.actor, export.user_id, export.note) == ("local (auth off)", "pat",
                                                         "30 memories downloaded as JSONL")

    rerun(person, lambda: key(person, "export_format").get_by_text("CSV").click())
    newer = key(person, "export_download").locator("a").get_attribute("href") or ""
    assert newer != href and newer.startswith("memdash/download/")
    with urllib.request.urlopen(live.url("/" + newer)) as answer:
        assert answer.headers["Content-Type"].startswith("text/csv") and len(answer.read().splitlines()) == 31
    with pytest.raises(urllib.error.HTTPError) as lapsed:  # the page's newer link replaced the older one
        urllib.request.urlopen(live.url("/" + href))
    assert lapsed.value.code == 404 and b"expired" in lapsed.value.read()
    ledger.step("the CSV", notes=["export"])


# --- 10. an operator in Tokyo -------------------------------------------------------------------------------------

def test_times_read_in_the_operators_time_zone(playwright: Playwright, live: DashboardServer, tmp_path: Path) -> None:
    """Stored times stay UTC; a browser in Tokyo reads them as Tokyo time, the zone named."""
    context = chromium_or_fail(playwright, tmp_path / "tokyo", timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        open_page(page, live.url("/memory?store=main&id=pat-00"))  # created 2024-06-01 12:00 UTC
        expect(page.get_by_text("created: 2024-06-01 21:00:00 JST")).to_be_visible()
        assert not exceptions(page)
    finally:
        context.close()


# --- 11. a memory's history: restore what the agent first wrote, revert the restore, a stale restore refused ------

def version_box(page: Page, label: str):
    """The history's expander whose label starts with ``label``, opened."""
    box = page.locator("[data-testid='stExpander']", has_text=label).first
    box.locator("summary").click()
    return box


def test_history_restore_an_older_version_then_revert_it(person: Page, live: DashboardServer,
                                                         ledger: Ledger) -> None:
    target = "demo-13"  # bob, written by the agent before the audit log
    original, monday = record_of(target).item.memory, "Bob blocks Monday mornings for pipeline reviews."
    open_page(person, live.url(f"/memory?store=main&id={target}"))
    caption_with(person, "This memory was written before the audit log recorded it")
    key(person, "detail_memory").locator("textarea").fill(monday)
    click(person, "detail_save")
    assert success(person) == "Saved: this memory is now version 2."
    ledger.step("edit", changed=[target], operations=["update"])

    version_box(person, "Version 1: written before the audit log")
    click(person, "history_restore_0")
    assert success(person) == "Restored version 1: the memory is now version 3."
    [restore] = ledger.step("restore version 1", changed=[target], operations=["update"])
    assert (restore.before["memory"], restore.after["memory"]) == (monday, original)

    box = version_box(person, "Version 3 (now)")
    rerun(person, lambda: box.get_by_role("link", name="This change in the audit log (revert it there)").click())
    expect(person).to_have_url(re.compile(rf"/audit\?entry={restore.seq}&"), timeout=30_000)
    wait_for_run(person)  # the audit page's own run, which may start after the link's run was waited for
    click(person, "audit_revert")
    assert original in dialog(person)
    click(person, "audit_revert_confirm")
    assert success(person) == "Reverted 1 change."
    [back] = ledger.step("revert the restore", changed=[target], operations=["revert"])
    assert (back.reverts, back.after["memory"]) == (restore.seq, monday)

    open_page(person, live.url(f"/memory?store=main&id={target}"))
    meanwhile = record_of(target).model_copy(update={"version": 9, "item": record_of(target).item.model_copy(
        update={"memory": "Bob works from home on Fridays."})})
    store_call(live.config, "main", lambda store: store.add_records([meanwhile]))  # another writer, meanwhile
    ledger.state = ledger.records()
    version_box(person, "Version 1: written before the audit log")
    click(person, "history_restore_0")
    expect(person.locator("[data-testid='stAlertContentError']").first).to_have_text(
        "Not restored: this memory changed since you opened it (now version 9). Nothing was overwritten; look at "
        "the history again.")
    ledger.step("a restore from a stale page")


# --- clean up what the agent never uses ------------------------------------------------------------------------------

def test_delete_exactly_the_memories_the_agent_never_got(person: Page, live: DashboardServer, ledger: Ledger) -> None:
    """Browse one user's memories the agent's search never returned (one choice, kept in the URL) and delete that
    filter's memories: exactly those go, the ones the agent used stay, the audit log holds one delete for each."""
    async def agent_searches(store: Any) -> list[str]:
        for query in ("jazz", "chess"):
            await store.search(query, top_k=3, user_id="pat")  # the agent's own search counts
        used = await store.list_records(MemoryFilter(user_id="pat", retrieved=True), limit=100)
        return [r.id for r in used.records]

    used = store_call(live.config, "main", agent_searches)
    never = sorted(i for i, state in ledger.state.items() if state["user_id"] == "pat" and i not in used)
    assert len(used) == 6 and len(never) >= 20
    open_page(person, live.url("/?store=main&user=pat"))
    choose(person, "browse_used", "Never returned")
    assert "used=never" in person.url
    caption_with(person, f"of {len(never)} matching")
    table = browse_table(person)
    table.locator("[data-testid='glide-cell-1-0']").wait_for(state="attached")
    shown = table.locator("[data-testid^='glide-cell-1-']").all_inner_texts()  # the text column, rows in view
    assert shown and set(shown) <= {ledger.state[i]["memory"] for i in never}
    rerun(person, lambda: person.get_by_text("Bulk actions", exact=True).click())
    rerun(person, lambda: person.get_by_text("Everything matching the filter", exact=True).click())
    rerun(person, lambda: person.get_by_role("button", name="Delete…", exact=True).click())
    assert f"Delete {len(never)} memories matching the filter?" in dialog(person)
    ledger.step("open the dialog")
    click(person, "bulk_confirm")
    assert success(person) == f"Deleted {len(never)} memories."
    ledger.step("delete what the agent never got", changed=never, operations=["delete"] * len(never))
    assert sorted(i for i, state in ledger.records().items() if state["user_id"] == "pat") == sorted(used)
