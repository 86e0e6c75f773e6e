"""A live dashboard for browser tests and benchmarks: a ``memdash run`` server, Debian's Chromium driven by
Playwright, the store read from this process, and helpers for Streamlit's DOM.

Nothing here imports pytest: failures raise :class:`LiveError` with the reason (the server's log included),
and the test fixtures turn that into a failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from memory_core.audit import AuditEntry, AuditQuery, SqliteAuditLog
from memory_core.builder import MemoryBuilder
from memory_core.config import load_config
from memory_core.interfaces import MemoryEditor
from memory_core.records import MemoryFilter
from memory_core.transfer import iter_records, record_to_dict

T = TypeVar("T")

CHROMIUM = Path(os.environ.get("MEMDASH_CHROMIUM", "/usr/bin/chromium"))
# The machine's network is closed: without the background-networking flags Chromium's connections are refused
# noisily. --user-data-dir is the profile folder given to launch_persistent_context.
CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")
VIEWPORT = {"width": 1400, "height": 900}
RUN_TIMEOUT_MS = 20_000


class LiveError(RuntimeError):
    """The server or the browser could not start or answer."""


# --- server ------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DashboardServer:
    """``memdash run --config FILE --port N [--no-auth]`` in its own process group, its output in ``log``."""

    def __init__(self, config: Path, log: Path, port: int | None = None, *, no_auth: bool = False) -> None:
        self.config, self.log, self.port, self.no_auth = config, log, port or free_port(), no_auth
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def start(self, timeout: float = 60.0) -> DashboardServer:
        """Start the server and wait until ``/_stcore/health`` answers; ``LiveError`` otherwise."""
        argv = [sys.executable, "-m", "memdash", "run", "--config", str(self.config), "--port",
                str(self.port), "--host", "127.0.0.1", *(["--no-auth"] if self.no_auth else [])]
        env = {**os.environ, "STREAMLIT_CLIENT_SHOW_ERROR_DETAILS": "full",  # tracebacks in stException
               "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)
        self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise LiveError(f"memdash run exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url("/_stcore/health"), timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise LiveError(f"memdash run did not answer /_stcore/health within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        """Terminate the process group (streamlit and anything it started); kill it if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                return


# --- browser -----------------------------------------------------------------------------------------------

def launch_chromium(playwright: Playwright, profile: Path, *, timezone_id: str | None = None) -> BrowserContext:
    """Debian's Chromium, headless, with a fresh profile folder (and, if given, a time zone); ``LiveError`` when
    it cannot start."""
    if not CHROMIUM.is_file():
        raise LiveError(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set MEMDASH_CHROMIUM)")
    try:
        return playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS),
            accept_downloads=True, viewport=VIEWPORT, timezone_id=timezone_id)
    except Exception as exc:  # Playwright's errors carry the browser's own output
        raise LiveError(f"Chromium at {CHROMIUM} did not start: {exc}") from exc


def chromium_or_fail(playwright: Playwright, profile: Path, *, timezone_id: str | None = None) -> BrowserContext:
    """:func:`launch_chromium` for a test: when Chromium cannot start, the test fails with the reason."""
    try:
        return launch_chromium(playwright, profile, timezone_id=timezone_id)
    except LiveError as exc:
        pytest.fail(str(exc))


# --- the store, read from this process ---------------------------------------------------------------------

def store_call(config: Path, store: str, call: Callable[[Any], Awaitable[T]]) -> T:
    """``await call(editor)`` on a freshly built store of ``config``.

    It runs on a worker thread with its own event loop: Playwright's sync API keeps a loop running in this one.
    """
    async def run() -> T:
        async with MemoryBuilder(load_config(config)) as builder:
            editor: MemoryEditor = await builder.get_memory_client(store)
            return await call(editor)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


# --- Streamlit's DOM ---------------------------------------------------------------------------------------

def key(page: Page, name: str) -> Locator:
    """The element container of the widget with key ``name`` (Streamlit adds the class ``st-key-<key>``)."""
    return page.locator(f".st-key-{name}")


def wait_for_run(page: Page) -> None:
    """Wait until the app is connected and no script run is going on."""
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=RUN_TIMEOUT_MS)


def rerun(page: Page, action: Callable[[], object]) -> None:
    """Do ``action`` (a click, a key press) and wait for the script run it causes to finish.

    The run starts a moment after the action, when the server answers; a run too quick to be seen is no error.
    """
    action()
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='running']", timeout=2000)
    wait_for_run(page)


def open_page(page: Page, url: str) -> None:
    """Load ``url`` in a new session and wait for its first run to finish."""
    page.goto(url)
    wait_for_run(page)


def exceptions(page: Page) -> list[str]:
    """The text of every Streamlit exception element on the page."""
    return page.locator("[data-testid='stException']").all_inner_texts()


def add_tag(page: Page, widget_key: str, tag: str) -> None:
    """Type a new option into a multiselect that accepts new options."""
    box = key(page, widget_key).locator("input")
    box.click()
    box.fill(tag)
    box.press("Enter")
    box.press("Escape")


def click_table_rows(page: Page, table: Locator, rows: list[int], row_height: int = 35) -> None:
    """Tick the selection checkboxes of ``rows`` of an ``st.dataframe`` (a glide-data-grid canvas), waiting for
    the rerun after each click."""
    canvas = table.locator("[data-testid='data-grid-canvas']")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    if box is None:
        raise LiveError("the table's canvas is not visible")
    for row in rows:
        rerun(page, lambda row=row: page.mouse.click(box["x"] + 15, box["y"] + 53 + row * row_height))


def full_screenshot(page: Page, path: Path) -> None:
    """A screenshot of the whole page. Streamlit scrolls inside ``stMain``, so the viewport is stretched to the
    content's height for the shot (``full_page`` alone would stop at the window)."""
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], int(height))})
    page.wait_for_timeout(300)  # the tables redraw their canvases at the new size
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)


# --- what one step changed: the store and the audit log, read from this process ---------------------------------

class Ledger:
    """The store's records and the audit log's entries as the test process reads them, so that each step of a
    journey can assert exactly which memories it changed and that the audit log recorded exactly those changes,
    with each memory's state before and after."""

    def __init__(self, config: Path, store: str, audit_path: Path) -> None:
        self.config, self.store, self.audit_path = config, store, audit_path
        self.state, self.seen = self.records(), self.last_seq()

    def records(self) -> dict[str, dict[str, Any]]:
        async def read(editor: Any) -> dict[str, dict[str, Any]]:
            return {r.id: comparable(record_to_dict(r)) async for r in iter_records(editor, MemoryFilter())}
        return store_call(self.config, self.store, read)

    def entries(self, after: int = 0) -> list[AuditEntry]:
        log = SqliteAuditLog(self.audit_path)
        try:
            return [e for e in log.entries(AuditQuery()) if (e.seq or 0) > after]
        finally:
            log.close()

    def last_seq(self) -> int:
        found = self.entries()
        return found[-1].seq or 0 if found else 0

    def step(self, what: str, *, changed: Iterable[str] = (), added: int = 0, operations: Iterable[str] = (),
             notes: Iterable[str] = ()) -> list[AuditEntry]:
        """Assert that since the last step exactly ``changed`` (ids) and ``added`` new memories changed in the
        store, that the audit log holds one entry per changed memory with ``operations`` (a multiset) and the
        memory's exact state before and after, plus entries without a state of ``notes`` operations; return
        the new entries."""
        now = self.records()
        diff = {i for i in self.state.keys() | now.keys() if self.state.get(i) != now.get(i)}
        new = {i for i in diff if i not in self.state} - set(changed)  # ids nobody could name before the step
        assert (sorted(diff - new), len(new)) == (sorted(changed), added), \
            f"{what}: the store changed otherwise: {sorted(diff - new)} changed, {len(new)} added"
        entries = self.entries(self.seen)
        stated = [e for e in entries if e.before is not None or e.after is not None]
        assert sorted(e.memory_id or "" for e in stated) == sorted(diff), f"{what}: audited memories"
        assert sorted(e.operation for e in stated) == sorted(operations), f"{what}: audited operations"
        assert sorted(e.operation for e in entries if e not in stated) == sorted(notes), f"{what}: other entries"
        for entry in stated:
            assert comparable(entry.before) == self.state.get(entry.memory_id or ""), f"{what}: before-image"
            assert comparable(entry.after) == now.get(entry.memory_id or ""), f"{what}: after-image"
        self.state, self.seen = now, self.last_seq()
        return entries


def comparable(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """A record dict with its timestamps at the precision every store keeps (microseconds, UTC)."""
    if state is None:
        return None
    return {k: dt.datetime.fromisoformat(v).isoformat(timespec="microseconds") if k.endswith("_at") else v
            for k, v in state.items()}
