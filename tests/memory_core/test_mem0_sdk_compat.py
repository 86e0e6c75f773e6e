"""The official ``mem0ai`` SDK against the local Mem0 (``tests/helpers/fake_mem0.py``): keeps the fake honest.

Two SDK generations: 0.1.118 (what ``nvidia-nat-mem0ai`` 1.9 pins; v1/v2 endpoints) and 2.2.1 (current; v3
endpoints). ``mem0ai`` pins protobuf below the shared venv's, so each version lives in its own venv,
``.venv/mem0-sdk-<version>`` (or under ``MEMDASH_MEM0_SDK_HOME``), built on first use (40 s to two minutes
from the package index) and reused afterwards. A venv that cannot be built fails these tests: they never skip.
"""

from __future__ import annotations

import concurrent.futures
import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from memory_core.builder import MemoryBuilder
from memory_core.config import parse_config
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter
from tests.helpers.fake_mem0 import FakeMem0

SDK_VERSIONS = ("0.1.118", "2.2.1")
KEY = "m0-sdk-test-key"
HERE = Path(__file__).resolve().parent
SDK_HOME = Path(os.environ.get("MEMDASH_MEM0_SDK_HOME") or HERE.parents[1] / ".venv")
LEGACY_PATHS = {("POST", "/v1/memories/"), ("POST", "/v1/memories/search/"), ("GET", "/v1/memories/"),
                ("POST", "/v2/memories/"), ("POST", "/v2/memories/search/")}
CURRENT_PATHS = {("POST", "/v3/memories/add/"), ("POST", "/v3/memories/search/"), ("POST", "/v3/memories/")}
SHARED_PATHS = {("GET", "/v1/ping/"), ("GET", "/v1/memories/{id}/"), ("PUT", "/v1/memories/{id}/"),
                ("DELETE", "/v1/memories/{id}/"), ("GET", "/v1/memories/{id}/history/"), ("GET", "/v1/entities/"),
                ("DELETE", "/v1/batch/"), ("DELETE", "/v1/memories/")}


def _installed(python: Path, version: str) -> bool:
    if not python.exists():
        return False
    probe = [str(python), "-c", "from importlib.metadata import version; print(version('mem0ai'))"]
    done = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    return done.returncode == 0 and done.stdout.strip() == version


def _build(version: str) -> Path:
    """The Python of a venv holding ``mem0ai==version``, built unless it already exists (one builder at a time)."""
    venv = SDK_HOME / f"mem0-sdk-{version}"
    python = venv / "bin" / "python"
    SDK_HOME.mkdir(parents=True, exist_ok=True)
    with open(SDK_HOME / f".mem0-sdk-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed(python, version):
            steps = [[sys.executable, "-m", "venv", "--clear", str(venv)],
                     [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                      f"mem0ai=={version}"]]
            for step in steps:
                done = subprocess.run(step, capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    pytest.fail(f"cannot build the mem0ai {version} venv at {venv} ({' '.join(step[-2:])}):\n"
                                f"{done.stderr[-3000:]}")
    return python


@pytest.fixture(scope="module")
def sdk_pythons() -> dict[str, Path]:
    """Every SDK version's venv Python, the missing ones built in parallel."""
    with concurrent.futures.ThreadPoolExecutor(len(SDK_VERSIONS)) as pool:
        return dict(zip(SDK_VERSIONS, pool.map(_build, SDK_VERSIONS), strict=True))


def _probe(python: Path, server: FakeMem0, mem0_dir: Path) -> dict[str, Any]:
    env = {**os.environ, "MEM0_HOST": server.url, "MEM0_API_KEY": KEY, "MEM0_TELEMETRY": "False",
           "MEM0_DIR": str(mem0_dir)}
    probe = HERE.parent / "helpers" / "mem0_sdk_probe.py"
    done = subprocess.run([str(python), str(probe)], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"the mem0ai probe failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout)


def _template(path: str) -> str:
    parts = path.split("/")
    return "/".join("{id}" if len(p) == 36 and p.count("-") == 4 else p for p in parts)


def _results(answer: Any) -> list[dict[str, Any]]:
    """Rows of a listing or search, whichever envelope the SDK generation returns."""
    return answer["results"] if isinstance(answer, dict) else answer


@pytest.mark.parametrize("version", SDK_VERSIONS)
async def test_official_sdk_works_against_the_local_mem0(version: str, sdk_pythons: dict[str, Path],
                                                         tmp_path: Path) -> None:
    config = "memory:\n  m:\n    _type: mem0_memory\n    host: {url}\n    api_key: {key}\n"
    with FakeMem0(KEY) as server:
        async with MemoryBuilder(parse_config(config.format(url=server.url, key=KEY))) as builder:
            memdash = await builder.get_memory_client("m")
            await memdash.add_items([MemoryItem(user_id="sdk-alice", memory="memdash wrote this note")])
            out = _probe(sdk_pythons[version], server, tmp_path)
            bob = (await memdash.list_records(MemoryFilter(user_id="sdk-bob"))).records
        legacy = version.startswith("0.")
        assert out["version"] == version
        # what memdash wrote, the SDK finds
        assert [r["memory"] for r in out["memdash_search"]["results"]] == ["memdash wrote this note"]
        # add, search, list, get, update, history, users
        add = out["add"]["results"][0] if legacy else out["add"]
        assert add["status"] == "PENDING" and add["event_id"]
        [hit] = [r for r in out["search"]["results"] if r["memory"] == "I love hiking in the Alps"]
        assert 0 < hit["score"] <= 1 and hit["metadata"] == {"src": "sdk"} and hit["user_id"] == "sdk-alice"
        both = ["I love hiking in the Alps", "memdash wrote this note"]
        assert sorted(r["memory"] for r in _results(out["get_all"])) == both
        assert out["get_all_page"]["count"] == 2 and len(out["get_all_page"]["results"]) == 1
        if legacy:
            assert sorted(r["memory"] for r in out["get_all_v2"]) == both
            assert out["search_v2"][0]["memory"] == "I love hiking in the Alps"
        assert out["get"]["id"] == hit["id"] and out["update"]["memory"] == "I love hiking in the Dolomites"
        assert [(h["event"], h["new_memory"]) for h in out["history"]] == [
            ("ADD", "I love hiking in the Alps"), ("UPDATE", "I love hiking in the Dolomites")]
        assert [(u["type"], u["name"]) for u in out["users"]["results"]] == [("user", "sdk-alice")]
        # batch delete, delete, delete all
        assert out["batch_delete"] == {"message": "Successfully deleted 1 memories"}
        assert out["delete"] == {"message": "Memory deleted successfully!"}
        assert "message" in out["delete_all"] and _results(out["after_delete_all"]) == []
        assert "Invalid API key" in out["wrong_key"]
        # AsyncMemoryClient, with the toolkit's exact calls on 0.1.118
        assert [r["memory"] for r in out["async_search"]["results"]] == ["I love hiking in the Alps"]
        [carol] = _results(out["async_get_all"])
        assert (carol["session_id"], carol["metadata"]) == ("run-1", {"k": "v"})
        assert out["async_delete"]["message"] and out["async_delete_all"]["message"]
        assert _results(out["async_after"]) == []
        # what the SDK wrote, memdash reads
        assert [(r.item.memory, r.item.metadata, r.version) for r in bob] == [("The SDK wrote this for bob", {"n": 1},
                                                                                1)]
        # every SDK request was one the fake accepts, signed like the SDK signs it
        sdk_calls = [c for c in server.calls if c.headers.get("authorization") == f"Token {KEY}"]
        assert [c.status for c in server.calls if c not in sdk_calls] == [401]  # the wrong key's ping
        assert all(c.status == 200 for c in sdk_calls), [(c.method, c.path, c.status) for c in sdk_calls]
        assert {c.headers["mem0-user-id"] for c in sdk_calls} == {hashlib.md5(KEY.encode()).hexdigest()}
        used = {(c.method, _template(c.path)) for c in sdk_calls}
        assert used >= SHARED_PATHS | (LEGACY_PATHS if legacy else CURRENT_PATHS)
