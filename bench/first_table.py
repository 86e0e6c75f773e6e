"""A first visit: how long until the Browse table shows, against a bare Streamlit page with one table.

``python -m bench.first_table [--runs 9]``

Two servers on this machine: ``memdash run --no-auth`` on the demo data set (sqlite, 40 memories), and a bare
Streamlit app that shows one 25-row ``st.dataframe`` of the same memories' text (the baseline: what any
Streamlit page with a table costs here). Each run opens a fresh browser context (no cache, no cookies: a first
visit) in one Chromium and measures the time from navigation start (``performance.now()``) until the table's
canvas is drawn; memdash and the baseline alternate, so both see the same machine load. Medians and the ratio
are printed; nothing is asserted (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

import yaml
from playwright.sync_api import sync_playwright

from bench.floor import bare_server, first_table_ms
from memory_core.audit.writer import cli_writer
from memory_core.config import load_config
from memory_core.demo import demo_items, seed
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, DashboardServer


def demo_config(folder: Path) -> Path:
    config = folder / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"demo": {"_type": "sqlite", "path": "demo.sqlite3"}}}))

    async def fill() -> None:
        async with cli_writer(load_config(config), "demo") as writer:
            await seed(writer, "demo")

    asyncio.run(fill())
    return config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.first_table", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="timed first visits per page (after one warm-up each)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="memdash-bench-first-table-") as tmp:
        folder = Path(tmp)
        memdash = DashboardServer(demo_config(folder), folder / "server.log", no_auth=True).start()
        bare, bare_url = bare_server(folder, [item.memory for item in demo_items()[:25]])
        urls = {"memdash Browse": memdash.url("/?store=demo"), "bare Streamlit table": bare_url}
        times: dict[str, list[float]] = {name: [] for name in urls}
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
                for url in urls.values():
                    first_table_ms(browser, url)  # warm-up: the servers' first script runs and imports
                for _ in range(args.runs):
                    for name, url in urls.items():
                        times[name].append(first_table_ms(browser, url))
                browser.close()
        finally:
            memdash.stop()
            bare.kill()
    print(report(times, args.runs))


def report(times: dict[str, list[float]], runs: int) -> str:
    baseline = statistics.median(times["bare Streamlit table"])
    lines = [f"{'first visit, navigation to drawn table':<40}{'p50':>9}{'min':>9}{'max':>9}{'vs bare':>9}",
             "-" * 76]
    for name, values in times.items():
        p50 = statistics.median(values)
        lines.append(f"{name:<40}{p50:>7,.0f}ms{min(values):>7,.0f}ms{max(values):>7,.0f}ms{p50 / baseline:>8.2f}x")
    lines.append(f"({runs} runs each, alternating, fresh browser context per run)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
