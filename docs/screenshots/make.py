"""Regenerate the README's screenshots from the demo store: ``make screenshots`` (``python docs/screenshots/make.py``).

Copies ``configs/demo.yml`` into a temporary folder (its data paths made local, so the repository's own demo
data is not touched), starts ``memdash run`` on it, and takes each picture in Debian's Chromium at 1440×900:
Browse, a Memory, Search by meaning, a Playground turn that contradicts a stored memory, the end of the guided
demo, Analytics, the Audit log and the erase dialog. The files are written next to this script.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # a script: the tests' browser helpers live in the repository, not the package

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.helpers.browser import DashboardServer, key, launch_chromium, open_page, rerun  # noqa: E402

HERE = Path(__file__).resolve().parent
GRID = "[data-testid='data-grid-canvas']"


def demo_config(folder: Path) -> Path:
    config = folder / "demo.yml"
    config.write_text((ROOT / "configs" / "demo.yml").read_text().replace("../data/", "./"))
    return config


def shot(page: Page, name: str) -> None:
    page.wait_for_timeout(800)  # tables draw their canvas after the run
    page.screenshot(path=str(HERE / f"{name}.png"))
    print(f"wrote {HERE / name}.png")


def browse_and_memory(page: Page, url: str) -> None:
    open_page(page, url("/browse?store=demo"))
    page.wait_for_selector(GRID)
    shot(page, "browse")
    open_page(page, url("/search?store=demo&user=alice&q=Is+she+vegan%3F"))
    page.get_by_text("results for user alice").wait_for()
    shot(page, "search")
    rerun(page, lambda: page.get_by_role("link", name="Open “Alice is vegetarian and does not eat fish.”").click())
    shot(page, "memory")


def playground(page: Page, url: str) -> None:
    open_page(page, url("/playground?store=demo"))
    for message in ("What do I eat?", "Please remember: I now prefer aisle seats."):
        page.get_by_placeholder("Message as alice").fill(message)
        rerun(page, lambda: page.get_by_placeholder("Message as alice").press("Enter"))
        page.wait_for_timeout(1500)
    page.get_by_text("Proposed edit").scroll_into_view_if_needed()
    shot(page, "playground")


def guided_demo(page: Page, url: str) -> None:
    open_page(page, url("/playground?store=demo"))
    rerun(page, lambda: page.get_by_role("button", name="Start").click())
    for step in range(1, 4):
        rerun(page, lambda step=step: page.get_by_role("button", name=f"Send ({step}/4)").click())
        page.wait_for_timeout(1500)
    rerun(page, lambda: page.get_by_role("button", name="Update the old memory").last.click())
    rerun(page, lambda: page.get_by_role("button", name="Send (4/4)").click())
    page.get_by_text("That is the whole demo").wait_for()
    page.wait_for_timeout(1500)
    page.get_by_text("From what I remember").last.scroll_into_view_if_needed()
    shot(page, "demo")


def analytics(page: Page, url: str) -> None:
    open_page(page, url("/stats?store=demo"))
    page.get_by_text("Added in the last 7 days", exact=True).wait_for()
    shot(page, "analytics")


def audit_and_erase(page: Page, url: str) -> None:
    open_page(page, url("/audit?store=demo"))
    page.wait_for_selector(GRID)
    shot(page, "audit")
    open_page(page, url("/users?store=demo"))
    page.get_by_text("Erase a person").first.click()
    key(page, "erase_user_").locator("input").fill("emi")
    rerun(page, lambda: page.get_by_role("button", name="Erase this person…").click())
    page.get_by_text("This removes:").wait_for()
    shot(page, "erase")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="memdash-screenshots-") as tmp:
        folder = Path(tmp)
        server = DashboardServer(demo_config(folder), folder / "server.log").start(timeout=180)
        try:
            with sync_playwright() as playwright:
                context = launch_chromium(playwright, folder / "profile")
                context.set_default_timeout(60_000)
                page = context.new_page()
                page.set_viewport_size({"width": 1440, "height": 900})
                for take in (browse_and_memory, playground, guided_demo, analytics, audit_and_erase):
                    take(page, server.url)
                context.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
