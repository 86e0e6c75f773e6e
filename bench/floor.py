"""The floor the dashboard is measured against: a bare Streamlit app with one ``st.dataframe`` of the same rows,
and the same actions timed on it in the same Chromium.

* **first visit**: a fresh browser context (no cache, no cookies) opens the page; the time from navigation start
  (``performance.now()``) until the table's canvas is drawn;
* **rerun**: a text typed and a button clicked (the page runs again and says so); the time from the click until
  the page shows the new run's caption. The dashboard's sidebar navigation and Save are compared with it.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Browser, Page

from tests.helpers.browser import VIEWPORT, free_port

TABLE_DRAWN = """() => {
    const canvas = document.querySelector("[data-testid='stMain'] [data-testid='data-grid-canvas']");
    return canvas && canvas.width > 0 ? performance.now() : false;
}"""
BARE_APP = """import pandas as pd
import streamlit as st

st.title("Bare table")
st.dataframe(pd.DataFrame({"memory": %r}), hide_index=True)
note = st.text_input("Note", key="note")
if st.button("Save", key="save"):
    st.session_state.saved = st.session_state.get("saved", 0) + 1
st.caption(f"saved {st.session_state.get('saved', 0)}")
"""


def bare_server(folder: Path, texts: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    """The bare app showing ``texts`` as its table, served by ``streamlit run``; its process and URL."""
    app = folder / "bare.py"
    app.write_text(BARE_APP % texts)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
                                "--server.address", "127.0.0.1", "--server.headless", "true",
                                "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the bare Streamlit app did not start within 60 s")


def first_table_ms(browser: Browser, url: str, ready: str = TABLE_DRAWN, arg: object = None) -> float:
    """Milliseconds from navigation start until ``ready`` (a JS function returning ``performance.now()`` once the
    page is ready) holds, in a fresh context (a first visit)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(url)
        return page.wait_for_function(ready, arg=arg, timeout=120_000).json_value()
    finally:
        context.close()


def bare_rerun_ms(page: Page, number: int) -> float:
    """Milliseconds from the click on the bare app's Save to its ``number``-th run's caption."""
    page.locator(".st-key-note input").fill(f"note {number}")
    page.locator(".st-key-note input").press("Tab")
    start = time.perf_counter()
    page.locator(".st-key-save button").click()
    page.get_by_text(f"saved {number}", exact=True).wait_for(timeout=60_000)
    return (time.perf_counter() - start) * 1000
