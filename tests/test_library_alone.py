"""``pip install memdash`` for an agent: the library works without the dashboard's packages (Streamlit, pandas,
argon2) and without the ``dashboard`` package itself, here made unimportable in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = r'''
import asyncio, sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"streamlit", "pandas", "argon2", "dashboard"}:
            raise ImportError(f"{name} is not installed (blocked by the test)")
sys.meta_path.insert(0, Blocked())

from memdash import cli
from memory_core.builder import MemoryBuilder
from memory_core.config import parse_config
from memory_core.models import MemoryItem
from memory_core.tools import GetToolConfig, bind_tool

async def main():
    config = parse_config("memory:\n  m: {_type: in_memory}\n")
    async with MemoryBuilder(config) as builder:
        store = await builder.get_memory_client("m")
        await store.add_items([MemoryItem(user_id="alice", memory="Alice drinks green tea")])
        get = bind_tool(store, GetToolConfig(memory="m", user_id="alice"))
        print(await get.ainvoke({"query": "green tea", "top_k": 1}))

asyncio.run(main())
print("user:", cli.main(["user", "list", "--users-file", "x.json"]))
print("run:", cli.main(["run", "--config", "missing.yml"]))
print("loaded:", sorted(m for m in sys.modules if m.split(".")[0] in {"streamlit", "pandas", "argon2", "dashboard"}))
'''


def test_the_library_runs_without_the_dashboard() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0].startswith("Memories as a JSON:") and "Alice drinks green tea" in done.stdout
    assert "user: 1" in out and "run: 1" in out and "loaded: []" in out
    assert "memdash user (" in done.stderr and "pip install 'memdash[dashboard]'" in done.stderr
    assert "memdash run: the dashboard is not installed here" in done.stderr
