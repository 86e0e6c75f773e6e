"""The Playground end to end in Chromium against ``memdash run --no-auth``: chat with the offline agent and see
the written memory with a link to its page, in the turn's own trace; a fact that contradicts a stored memory,
proposed as an edit of it in the reply and the trace, which the operator applies and undoes; then, with the
local streaming server under ``llms:``, see the model's streamed answer and the facts it asked to remember.

Chromium and the server never skip: when one cannot start, the tests fail with the reason.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import BrowserContext, Page, expect

from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter, MemoryRecord
from tests.helpers.browser import (
    DashboardServer,
    Ledger,
    LiveError,
    exceptions,
    full_screenshot,
    open_page,
    rerun,
    store_call,
)
from tests.helpers.llm_server import CHUNKS, FACTS, Handler, serve

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
T0 = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
expect.set_options(timeout=15_000)




def started(folder: Path, *memories: str, **sections: Any) -> DashboardServer:
    """``memdash run --no-auth`` on one sqlite store ``main`` holding one memory of alice's (``seed``), and
    ``memories`` (ids ``seed1``...)."""
    config = folder / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "sqlite", "path": "main.sqlite3"}}, **sections}))
    seeds = [MemoryRecord(id=f"seed{i or ''}", created_at=T0, updated_at=T0,
                          item=MemoryItem(user_id="alice", memory=text))
             for i, text in enumerate(["Alice lives in Lisbon", *memories])]
    store_call(config, "main", lambda store: store.add_records(seeds))
    server = DashboardServer(config, folder / "server.log", no_auth=True)
    try:
        return server.start()
    except LiveError as exc:
        pytest.fail(str(exc))


def written(server: DashboardServer) -> list[MemoryRecord]:
    page = store_call(server.config, "main",
                      lambda store: store.list_records(MemoryFilter(user_id="alice"), limit=50))
    return [r for r in page.records if not r.id.startswith("seed")]


def say(page: Page, text: str) -> None:
    box = page.locator("[data-testid='stChatInputTextArea']")
    box.fill(text)
    rerun(page, lambda: box.press("Enter"))


def shown(page: Page, text: str) -> None:
    expect(page.locator("[data-testid='stMain'] [data-testid='stText']", has_text=text).first).to_be_visible()


def test_offline_agent_writes_a_memory_with_a_link(browser: BrowserContext, tmp_path: Path) -> None:
    server = started(tmp_path)
    page = browser.new_page()
    try:
        open_page(page, server.url("/playground?store=main"))
        info = page.locator("[data-testid='stAlertContentInfo']")
        expect(info).to_contain_text("Offline agent (no LLM configured)")
        say(page, "Hi! I love green tea.")
        shown(page, "Noted. I'll remember: Alice loves green tea.")
        shown(page, "+ Alice loves green tea.  [preference]")
        [record] = written(server)
        assert record.item.memory == "Alice loves green tea." and record.item.tags == ["preference"]
        link = page.locator(f"[data-testid='stMain'] a[href*='id={record.id}']")
        expect(link).to_have_count(1)
        assert "store=main" in (link.get_attribute("href") or "")
        say(page, "Which tea do I like?")
        answers = page.locator("[data-testid='stChatMessage']").filter(
            has=page.locator("[data-testid='stChatMessageAvatarAssistant']"))
        expect(answers).to_have_count(2)
        expect(answers.last.locator("[data-testid='stText']").first).to_have_text(
            "From what I remember: Alice loves green tea.")
        scored = re.compile(r"^\d\.\d{3}  Alice loves green tea\.$")  # the score, in this turn's own trace
        in_trace = answers.last.locator("[data-testid='stExpander'] [data-testid='stText']", has_text=scored)
        expect(in_trace).to_have_count(1)
        assert not exceptions(page), exceptions(page)
        full_screenshot(page, SCREENSHOTS / "playground.png")
        rerun(page, answers.last.locator(f"a[href*='id={record.id}']").click)
        expect(page.locator("[data-testid='stMain'] h1")).to_have_text("Memory")
        expect(page.locator("[data-testid='stMain']")).to_contain_text("Alice loves green tea.")
    finally:
        page.close()
        server.stop()


def test_a_contradiction_is_proposed_as_an_edit_the_operator_applies_and_undoes(browser: BrowserContext,
                                                                                tmp_path: Path) -> None:
    server = started(tmp_path, "Alice always books a window seat.")
    ledger = Ledger(server.config, "main", tmp_path / "memdash-audit.sqlite3")
    page = browser.new_page()
    try:
        open_page(page, server.url("/playground?store=main"))
        say(page, "Please remember: I now prefer aisle seats.")
        answer = page.locator("[data-testid='stChatMessage']").filter(
            has=page.locator("[data-testid='stChatMessageAvatarAssistant']"))
        expect(answer).to_have_count(1)
        expect(answer.locator("[data-testid='stText']").first).to_contain_text(
            "Noted — this changes what I had: “Alice always books a window seat.” I propose to update it to "
            "“Alice now prefers aisle seats.”")
        trace = answer.locator("[data-testid='stExpander']")  # inside the turn's own message
        expect(trace).to_contain_text("Proposed edit")
        expect(trace).to_contain_text("old  Alice always books a window seat.")
        expect(trace).to_contain_text("new  Alice now prefers aisle seats.")
        ledger.step("the agent proposes, it writes nothing")
        assert not exceptions(page), exceptions(page)
        full_screenshot(page, SCREENSHOTS / "playground-contradiction.png")

        rerun(page, trace.get_by_role("button", name="Update the old memory").click)
        expect(trace).to_contain_text("Updated: the old memory now says the new fact")
        [edit] = ledger.step("the operator applies the edit", changed=["seed1"], operations=["update"])
        assert edit.after and edit.after["memory"] == "Alice now prefers aisle seats."

        rerun(page, trace.get_by_role("button", name="Undo the edit").click)
        expect(trace.get_by_role("button", name="Update the old memory")).to_be_visible()
        [undo] = ledger.step("the operator undoes it", changed=["seed1"], operations=["revert"])
        assert undo.after and undo.after["memory"] == "Alice always books a window seat."
    finally:
        page.close()
        server.stop()


def test_llm_agent_streams_its_answer(browser: BrowserContext, tmp_path: Path) -> None:
    Handler.seen.clear()  # shared by every test of the process that used the local LLM server
    with serve() as url:
        server = started(tmp_path, llms={"chat": {"_type": "openai", "base_url": url, "model_name": "demo-model"}})
        page = browser.new_page()
        try:
            open_page(page, server.url("/playground?store=main"))
            expect(page.locator("[data-testid='stAlertContentInfo']")).to_contain_text(f"LLM: demo-model at {url}")
            say(page, "I love green tea and I am allergic to peanuts.")
            shown(page, "".join(CHUNKS))
            shown(page, f"+ {FACTS[0]}  [preference]")
            assert sorted(r.item.memory for r in written(server)) == sorted(FACTS)
            replies = [s["body"] for s in Handler.seen
                       if (s["body"].get("messages") or [{}])[-1].get("content", "").startswith("I love")]
            assert replies and all(body["stream"] for body in replies)
            assert not exceptions(page), exceptions(page)
        finally:
            page.close()
            server.stop()
