"""The dashboard on a big store: the Browse page for one user at 1,000,000 memories against 10,000.

``python -m bench.dashboard [--rows 1000000] [--users 10000] [--small 10000] [--runs 7] [--workdir DIR] [--json OUT]``

For each size a sqlite store is generated through ``add_records`` in batches (the synthetic chat turns of
:mod:`bench.latency`). The small store keeps the large one's memories per user (``--small`` rows over
``users * small / rows`` users), so both Browse pages show the same rows. Then, per size:

* **server**: wall time of an AppTest run of the whole app on the Browse page (``?store=&user=``), one user
  per run, median of ``--runs`` after a warm-up run;
* **browser**: ``memdash run`` on the store; Chromium opens ``/?store=&user=`` and the time from navigation
  start (``performance.now()``) until the table's canvas and the "rows 1–25 of N matching" caption are shown,
  median of ``--runs`` (static files cached after a warm-up load);
* **RSS** of the streamlit server process after the browser runs;
* **page tour**: Chromium opens every page of the dashboard for one user (Browse, Search with a query, a
  Memory, Add, Users, Import / export, Stores, Audit log, Trash, Analytics, Retrieval evaluation, Review queue,
  Playground), each until it has finished running; the server's RSS after each page, the largest reported;
* **download**: the whole store streamed from the Import / export page's link (JSONL), read in 1 MiB chunks;
  the server's peak RSS while it streams (sampled every 50 ms) and its rate;
* **against the floor** (:mod:`bench.floor`): a bare Streamlit page with one ``st.dataframe`` of the same user's
  first 25 memories, in the same Chromium, runs alternating: a first visit in a fresh context (navigation to the
  table drawn) of the Browse page and of the bare page; the sidebar's Browse link (from the Users page, until the
  table is drawn) and Save on the Memory page (an edit of the text, until "Saved") against the bare page's rerun
  (a text typed, a button clicked, until the run's caption shows).

Targets: server ≤ 300 ms, browser ≤ 1.5 s; first visit, sidebar navigation and Save ≤ 1.3× the floor's; RSS
≤ 300 MB after the browser runs, after the page tour and during the download, and for the big store ≤ 1.2× the
small store's figure (the Browse RSS: within 10 %).
Store files go to a temporary folder, or to ``--workdir``, where a store of the right size is reused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import yaml
from playwright.sync_api import sync_playwright
from streamlit.testing.v1 import AppTest

from bench.floor import TABLE_DRAWN, bare_rerun_ms, bare_server, first_table_ms
from bench.latency import synthetic_texts
from memory_core.auth_settings import NO_AUTH_ENV
from memory_core.models import MemoryItem
from memory_core.providers.sqlite import SqliteMemory
from memory_core.records import MemoryFilter, MemoryRecord
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, DashboardServer, launch_chromium

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"  # AppTest runs the app itself
STORE = "big"
BATCH = 20_000
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
TARGETS = {"server_ms": 300.0, "browser_ms": 1500.0, "rss_mb": 300.0, "rss_growth": 0.10, "work_growth": 0.20,
           "vs_floor": 1.3}
PAGES = ("/browse?user={user}", "/search?user={user}&q=favourite+food", "/memory?id={memory}", "/add",
         "/users", "/transfer?user={user}", "/stores", "/audit", "/trash", "/stats", "/eval", "/review",
         "/playground")
READY = """caption => {
    const canvas = document.querySelector("[class*='st-key-browse_table_'] [data-testid='data-grid-canvas']");
    const texts = [...document.querySelectorAll("[data-testid='stMain'] [data-testid='stCaptionContainer']")];
    return canvas && texts.some(t => t.textContent.includes(caption)) ? performance.now() : false;
}"""


# --- the store -----------------------------------------------------------------------------------------------

def user_id(number: int) -> str:
    return f"user-{number:05d}"


def records(texts: list[str], start: int, users: int, rng: random.Random) -> list[MemoryRecord]:
    """Memories ``start ...`` of the store: a random user each, a minute apart, a tag on every tenth."""
    batch = []
    for i, text in enumerate(texts, start):
        when = T0 + dt.timedelta(minutes=i)
        item = MemoryItem(user_id=user_id(rng.randrange(users)), memory=text, tags=["locomo"] if i % 10 == 0 else [],
                          metadata={"session": i % 30, "turn": i})
        batch.append(MemoryRecord(id=f"m{i:08d}", item=item, created_at=when, updated_at=when))
    return batch


async def build_store(path: Path, rows: int, users: int) -> float:
    """Fill ``path`` with ``rows`` memories over ``users`` users (reused when it already holds them); seconds."""
    start = time.perf_counter()
    async with await SqliteMemory.open(path) as store:
        have = await store.count_records(MemoryFilter())
        if have == rows:
            return 0.0
        if have:
            raise SystemExit(f"{path} holds {have:,} memories, not {rows:,}: remove it or use another --workdir")
        texts, rng, loop = synthetic_texts(rows), random.Random(17), asyncio.get_running_loop()

        def make(first: int) -> asyncio.Future[list[MemoryRecord]]:  # on a thread, while the store writes
            return loop.run_in_executor(None, records, texts[first:first + BATCH], first, users, rng)

        upcoming = make(0)
        for first in range(0, rows, BATCH):
            batch = await upcoming
            if first + BATCH < rows:
                upcoming = make(first + BATCH)
            await store.add_records(batch)
            print(f"  {min(first + BATCH, rows):,} of {rows:,}", file=sys.stderr, end="\r", flush=True)
    print(file=sys.stderr)
    return time.perf_counter() - start


async def users_and_counts(path: Path, users: int, count: int) -> list[tuple[str, int]]:
    """``count`` users spread over the id range, each with how many memories they hold."""
    picked = [user_id(n) for n in range(0, users, max(1, users // count))][:count]
    async with await SqliteMemory.open(path) as store:
        return [(u, await store.count_records(MemoryFilter(user_id=u))) for u in picked]


async def first_memory(path: Path, user: str) -> str:
    async with await SqliteMemory.open(path) as store:
        return (await store.list_records(MemoryFilter(user_id=user), limit=1)).records[0].id


async def first_page(path: Path, user: str) -> list[str]:
    """The texts of the user's first Browse page (newest first), for the bare page's table."""
    async with await SqliteMemory.open(path) as store:
        return [r.item.memory or "" for r in (await store.list_records(MemoryFilter(user_id=user), limit=25)).records]


async def version_of(path: Path, memory: str) -> int:
    async with await SqliteMemory.open(path) as store:
        return (await store.get_record(memory)).version


def write_config(folder: Path, store: Path) -> Path:
    config = folder / f"{store.stem}.yml"
    config.write_text(yaml.safe_dump({"memory": {STORE: {"_type": "sqlite", "path": str(store)}}}))
    return config


# --- measurements --------------------------------------------------------------------------------------------

def server_times(config: Path, users: list[tuple[str, int]]) -> list[float]:
    """Seconds of an AppTest run of the Browse page per user (the first user is the warm-up, not returned).

    One AppTest for all runs, the user changed in the URL between them: a new AppTest would scan every
    installed package for components on its first run, which a server does once at start-up.
    """
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["config_path"] = str(config)
    at.switch_page("app_pages/browse.py")
    at.query_params["store"] = STORE
    times = []
    for user, _ in users:
        at.query_params["user"] = user
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
        if at.exception or not at.dataframe:
            raise SystemExit(f"the Browse page failed for {user}: {[e.value for e in at.exception]}")
    return times[1:]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU time of the processes still alive."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += sum(process.cpu_times()[:2])
    return total


def browser_times(server: DashboardServer, users: list[tuple[str, int]], profile: Path) -> dict[str, Any]:
    """Seconds from navigation start to the rendered table per user (the first load is the warm-up, not
    counted), and the CPU seconds the server and Chromium spent per counted load."""
    times, server_process = [], psutil.Process(server.process.pid)
    with sync_playwright() as playwright:
        context = launch_chromium(playwright, profile)
        page = context.new_page()
        chromium = [p for p in psutil.Process().children(recursive=True) if "chrom" in p.name()]
        for n, (user, count) in enumerate(users):
            if n == 1:
                start_cpu = (cpu_seconds([server_process]), cpu_seconds(chromium))
            page.goto(server.url(f"/?store={STORE}&user={user}"))
            caption = f"rows 1–{min(count, 25)} of {count:,} matching"
            times.append(page.wait_for_function(READY, arg=caption, timeout=60_000).json_value() / 1000)
        page.wait_for_timeout(500)  # the last load's rendering after the table showed
        runs = len(users) - 1
        cpu = {"server_cpu_ms": (cpu_seconds([server_process]) - start_cpu[0]) / runs * 1000,
               "chromium_cpu_ms": (cpu_seconds(chromium) - start_cpu[1]) / runs * 1000}
        context.close()
    return {"browser_ms": [t * 1000 for t in times[1:]], **cpu}


def rss_mb(process: psutil.Process) -> float:
    return process.memory_info().rss / 2**20


def page_tour(server: DashboardServer, user: str, memory: str, profile: Path) -> dict[str, Any]:
    """Open every page in Chromium, each until its script run is over; the server's RSS after each."""
    process, after = psutil.Process(server.process.pid), {}
    with sync_playwright() as playwright:
        context = launch_chromium(playwright, profile)
        page = context.new_page()
        for path in PAGES:
            target = path.format(user=user, memory=memory)
            page.goto(server.url(target + ("&" if "?" in target else "?") + f"store={STORE}"))
            page.wait_for_selector("[data-testid='stMain']", timeout=60_000)
            page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
            page.wait_for_timeout(300)
            after[path.split("?")[0]] = rss_mb(process)
        context.close()
    return {"tour_rss_mb": max(after.values()), "tour_worst_page": max(after, key=after.get)}


def download(server: DashboardServer, profile: Path) -> dict[str, Any]:
    """Stream the whole store from the Import / export page's link; peak server RSS while it streams."""
    process, peak, done = psutil.Process(server.process.pid), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(process))
            time.sleep(0.05)

    with sync_playwright() as playwright:
        context = launch_chromium(playwright, profile)
        page = context.new_page()
        page.goto(server.url(f"/transfer?store={STORE}"))
        href = page.locator(".st-key-export_download a").get_attribute("href", timeout=60_000)
        context.close()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start, size, lines = time.perf_counter(), 0, 0
    with urllib.request.urlopen(server.url(f"/{href}"), timeout=600) as answer:
        while chunk := answer.read(2**20):
            size, lines = size + len(chunk), lines + chunk.count(b"\n")
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return {"download_rss_mb": peak[0], "download_s": seconds, "download_mb": size / 2**20, "download_rows": lines,
            "download_rows_per_s": lines / seconds}


def against_floor(server: DashboardServer, path: Path, user: tuple[str, int], memory: str, runs: int,
                  folder: Path) -> dict[str, Any]:
    """First visit, sidebar navigation and Save, each against the bare page's, runs alternating (see above)."""
    bare, bare_url = bare_server(folder, asyncio.run(first_page(path, user[0])))
    browse = server.url(f"/?store={STORE}&user={user[0]}")
    caption = f"rows 1–{min(user[1], 25)} of {user[1]:,} matching"
    times: dict[str, list[float]] = {key: [] for key in ("first_ms", "floor_first_ms", "nav_ms", "save_ms",
                                                         "floor_rerun_ms")}
    version = asyncio.run(version_of(path, memory))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
            for n in range(runs + 1):  # the first round warms both servers up
                first = first_table_ms(browser, browse, READY, caption)
                floor = first_table_ms(browser, bare_url, TABLE_DRAWN)
                if n:
                    times["first_ms"].append(first)
                    times["floor_first_ms"].append(floor)
            context = browser.new_context()
            ours, theirs = context.new_page(), context.new_page()
            ours.goto(server.url(f"/users?store={STORE}"))
            theirs.goto(bare_url)
            theirs.wait_for_function(TABLE_DRAWN, timeout=60_000)
            for n in range(runs + 1):  # the page in front: a background tab's drawing is throttled
                ours.bring_to_front()
                nav = sidebar_browse_ms(ours)
                save = save_ms(ours, server.url(f"/memory?store={STORE}&id={memory}"), version + n + 1)
                theirs.bring_to_front()
                floor = bare_rerun_ms(theirs, n + 1)
                if n:
                    times["nav_ms"].append(nav)
                    times["save_ms"].append(save)
                    times["floor_rerun_ms"].append(floor)
            browser.close()
    finally:
        bare.kill()
    return times


def sidebar_browse_ms(page: Any) -> float:
    """From the Users page: milliseconds from a click on the sidebar's Browse link to the drawn table."""
    sidebar = page.locator("[data-testid='stSidebarNav']")
    sidebar.get_by_role("link", name="Users").click()
    page.locator("[data-testid='stMain'] h1", has_text="Users").wait_for(timeout=60_000)
    page.wait_for_function("!document.querySelector(\"[class*='st-key-browse_table_']\")", timeout=60_000)
    start = time.perf_counter()
    sidebar.get_by_role("link", name="Browse").click()
    page.wait_for_function(READY, arg="rows 1–25", timeout=60_000)
    return (time.perf_counter() - start) * 1000


def save_ms(page: Any, url: str, version: int) -> float:
    """On the Memory page: milliseconds from a click on Save (the text edited) to "Saved: ... version N"."""
    page.goto(url)
    text = page.locator(".st-key-detail_memory textarea")
    text.fill(f"{text.input_value()} ({version})")
    text.press("Tab")
    start = time.perf_counter()
    page.locator(".st-key-detail_save button").click()
    page.get_by_text(f"Saved: this memory is now version {version}.").wait_for(timeout=60_000)
    return (time.perf_counter() - start) * 1000


def measure(rows: int, users: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    path = folder / f"memdash-{rows}.sqlite3"
    print(f"store of {rows:,} memories over {users:,} users: {path}", file=sys.stderr, flush=True)
    built = asyncio.run(build_store(path, rows, users))
    picked = asyncio.run(users_and_counts(path, users, args.runs + 1))
    config = write_config(folder, path)
    server_s = server_times(config, picked)
    server = DashboardServer(config, folder / f"server-{rows}.log", no_auth=True).start()
    try:
        profile = Path(tempfile.mkdtemp(prefix="memdash-chromium-", dir=folder))
        browser = browser_times(server, picked, profile)
        rss = psutil.Process(server.process.pid).memory_info().rss
        memory = asyncio.run(first_memory(path, picked[0][0]))
        tour = page_tour(server, picked[0][0], memory, profile)
        floor = against_floor(server, path, picked[0], memory, args.runs, folder)
        taken = download(server, profile)
    finally:
        server.stop()
    if taken["download_rows"] != rows:
        raise SystemExit(f"the download held {taken['download_rows']:,} memories, not {rows:,}")
    return {"rows": rows, "users": users, "build_s": built, "file_mb": path.stat().st_size / 2**20,
            "server_ms": [t * 1000 for t in server_s], **browser, "rss_mb": rss / 2**20,
            **tour, **floor, **taken, "load_avg": os.getloadavg()[0]}


# --- report --------------------------------------------------------------------------------------------------

def verdicts(small: dict[str, Any], big: dict[str, Any]) -> dict[str, bool]:
    """Whether each target holds at both sizes (RSS also: grows by at most 10 % from the small to the big)."""
    def within(key: str) -> bool:
        return all(statistics.median(r[key]) <= TARGETS[key] for r in (small, big))

    def bounded(key: str, growth: float) -> bool:
        return big[key] <= small[key] * (1 + growth) and max(small[key], big[key]) <= TARGETS["rss_mb"]

    def near_floor(key: str, floor: str) -> bool:
        return all(statistics.median(r[key]) <= TARGETS["vs_floor"] * statistics.median(r[floor]) for r in (small, big))

    return {"server_ms": within("server_ms"), "browser_ms": within("browser_ms"),
            "first_ms": near_floor("first_ms", "floor_first_ms"), "nav_ms": near_floor("nav_ms", "floor_rerun_ms"),
            "save_ms": near_floor("save_ms", "floor_rerun_ms"),
            "rss_mb": bounded("rss_mb", TARGETS["rss_growth"]),
            "tour_rss_mb": bounded("tour_rss_mb", TARGETS["work_growth"]),
            "download_rss_mb": bounded("download_rss_mb", TARGETS["work_growth"])}


def report(small: dict[str, Any], big: dict[str, Any]) -> str:
    met = verdicts(small, big)
    head = f"{'':<42}{small['rows']:>14,}{big['rows']:>14,}   target (both sizes)"
    lines = [head, f"{'':<42}{'memories':>14}{'memories':>14}", "-" * len(head)]

    def row(label: str, key: str, unit: str, target: str = "", verdict: bool | None = None) -> None:
        values = [statistics.median(r[key]) if isinstance(r[key], list) else r[key] for r in (small, big)]
        mark = "" if verdict is None else ("  ok" if verdict else "  MISSED")
        lines.append(f"{label:<42}{values[0]:>11,.0f} {unit:<2}{values[1]:>11,.0f} {unit:<2}   {target}{mark}")

    row("Browse page, server (AppTest), p50", "server_ms", "ms", "<= 300 ms", met["server_ms"])
    row("Browse table in Chromium, p50", "browser_ms", "ms", "<= 1500 ms", met["browser_ms"])
    row("server RSS after the browser runs", "rss_mb", "MB", "<= 300 MB, flat (+10 %)", met["rss_mb"])
    row("server RSS, most after any page of the tour", "tour_rss_mb", "MB", "<= 300 MB, <= 1.2x", met["tour_rss_mb"])
    row("server RSS, peak during the full download", "download_rss_mb", "MB", "<= 300 MB, <= 1.2x",
        met["download_rss_mb"])
    row("  download size", "download_mb", "MB")
    row("  download rate", "download_rows_per_s", "/s")
    row("  server CPU per browser load", "server_cpu_ms", "ms")
    row("  Chromium CPU per browser load", "chromium_cpu_ms", "ms")
    row("memories per user (avg)", "per_user", "")
    row("store file", "file_mb", "MB")
    row("store generation (0 = reused)", "build_s", "s")
    lines.append(f"{'against a bare page of the same rows':<42}{'p50 / floor':>14}{'p50 / floor':>14}")

    def ratio(label: str, key: str, floor: str) -> None:
        cells = [f"{statistics.median(r[key]) / statistics.median(r[floor]):.2f}x" for r in (small, big)]
        mark = "  ok" if met[key] else "  MISSED"
        lines.append(f"{label:<42}{cells[0]:>14}{cells[1]:>14}   <= {TARGETS['vs_floor']}x{mark}")

    row("  first visit, Browse table drawn", "first_ms", "ms")
    row("  first visit, bare table drawn (floor)", "floor_first_ms", "ms")
    ratio("  first visit vs floor", "first_ms", "floor_first_ms")
    row("  sidebar Browse link to table drawn", "nav_ms", "ms")
    row("  Save on the Memory page to 'Saved'", "save_ms", "ms")
    row("  bare page rerun, click to caption (floor)", "floor_rerun_ms", "ms")
    ratio("  sidebar navigation vs floor rerun", "nav_ms", "floor_rerun_ms")
    ratio("  Save vs floor rerun", "save_ms", "floor_rerun_ms")
    lines.append(f"{'page with the most RSS after it':<42}{small['tour_worst_page']:>14}{big['tour_worst_page']:>14}")
    lines.append(f"{'machine load (1-min average, at the end)':<42}{small['load_avg']:>14.1f}{big['load_avg']:>14.1f}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="memories in the big store")
    parser.add_argument("--users", type=int, default=10_000, help="users of the big store")
    parser.add_argument("--small", type=int, default=10_000, help="memories in the comparison store")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per measurement (after one warm-up)")
    parser.add_argument("--workdir", type=Path, help="keep (and reuse) the stores here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ[NO_AUTH_ENV] = "1"  # the AppTest runs, like the server (--no-auth), skip sign-in
    with tempfile.TemporaryDirectory(prefix="memdash-bench-dashboard-") as tmp:
        folder = args.workdir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        small_users = max(1, args.users * args.small // args.rows)
        results = [measure(args.small, small_users, args, folder), measure(args.rows, args.users, args, folder)]
    for result in results:
        result["per_user"] = result["rows"] / result["users"]
    print(report(*results))
    if args.json:
        args.json.write_text(json.dumps({"targets": TARGETS, "results": results}, indent=2))


if __name__ == "__main__":
    main()
