"""The ``memdash`` command: in-process through ``main([...])`` and as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from memdash import cli
from memdash.cli import main
from memory_core.demo import demo_items
from memory_core.registry import register_memory
from memory_core.typed import MemoryBaseConfig

ROOT = Path(__file__).resolve().parents[2]
N_DEMO = len(demo_items())

IN_MEMORY = """\
memory:
  demo:
    _type: in_memory
memdash:
  seed:
    store: demo
    data: demo
"""


class BrokenConfig(MemoryBaseConfig, name="cli_test_broken"):
    """A store that always fails to start."""


@register_memory(BrokenConfig)
async def _broken(config: BrokenConfig, builder: object) -> AsyncIterator[object]:
    raise ConnectionRefusedError("connection refused (test)")
    yield


def write(tmp_path: Path, text: str, name: str = "memdash.yml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_check_lists_stores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", write(tmp_path, IN_MEMORY)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "demo: in_memory" in out and "into store 'demo'" in out


def test_check_reports_file_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "memory:\n  demo:\n    _type: in_memory\n  other:\n    _type: no_such_store\n")
    assert main(["check", "--config", bad]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{bad}:5" in err and "memory.other._type" in err and "no_such_store" in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(("text", "line", "field"), [
    ("memory:\n  demo:\n    _type: in_memory\nmemdash:\n  seed:\n    store: nope\n", 6, "memdash.seed.store"),
    ("memory:\n  demo:\n    _type: in_memory\nmemdash:\n  seed:\n    store: demo\n    data: huge\n", 7,
     "memdash.seed.data"),
    ("memory:\n  demo:\n    _type: in_memory\nmemdash:\n  seed: yes please\n", 5, "memdash.seed"),
])
def test_check_validates_the_seed_section(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int,
                                          field: str) -> None:
    path = write(tmp_path, text)
    assert main(["check", "--config", path]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}" in err and field in err


def test_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(tmp_path / "missing.yml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_check_as_a_process(tmp_path: Path) -> None:
    bad = write(tmp_path, "memory:\n  demo:\n    path: x.db\n")
    result = subprocess.run([sys.executable, "-m", "memdash", "check", "--config", bad],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert f"{bad}:2" in result.stderr and "missing _type" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    good = subprocess.run([sys.executable, "-m", "memdash", "check", "--config", write(tmp_path, IN_MEMORY)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert good.returncode == 0 and "demo: in_memory" in good.stdout


def test_usage_error_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert main(["check"]) == 2
    assert "--config" in capsys.readouterr().err


def test_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, IN_MEMORY)
    assert main(["seed", "--config", path]) == 0
    assert f"seeded {N_DEMO} memories" in capsys.readouterr().out
    assert main(["seed", "--config", path, "--store", "demo", "--if-empty"]) == 0  # in_memory: a new empty store
    assert f"seeded {N_DEMO} memories" in capsys.readouterr().out
    assert main(["seed", "--config", path, "--store", "nope"]) == 1
    assert "no memory store named 'nope'" in capsys.readouterr().err


def test_seed_needs_a_store_when_several(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "memory:\n  a:\n    _type: in_memory\n  b:\n    _type: in_memory\n")
    assert main(["seed", "--config", path]) == 1
    assert "--store NAME" in capsys.readouterr().err


def test_stores_reports_each_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "memory:\n  broken:\n    _type: cli_test_broken\n  demo:\n    _type: in_memory\n"
    assert main(["stores", "--config", write(tmp_path, text)]) == 1
    out = capsys.readouterr().out
    assert "broken (cli_test_broken): FAILED:" in out and "connection refused (test)" in out
    assert "demo (in_memory): ok" in out and "memories: 0, users: 0" in out and "count" in out


def test_run_dry_run_starts_streamlit_from_the_project_root(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, IN_MEMORY)
    assert main(["run", "--config", "memdash.yml", "--port", "8600", "--no-auth", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"cd {ROOT}"
    assert out[1] == f"MEMDASH_CONFIG={tmp_path / 'memdash.yml'} MEMDASH_NO_AUTH=1"
    assert out[2].endswith(f"-m streamlit run {ROOT / 'dashboard' / 'server.py'} --server.port 8600")


def test_run_refuses_a_bad_config_before_starting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--config", write(tmp_path, "memory: [1]\n")]) == 2
    assert "memdash: config error:" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_serves_with_the_project_streamlit_config(tmp_path: Path) -> None:
    """A real ``memdash run`` typed in another folder: seeds, then serves with the top-level config applied."""
    app = tmp_path / "app.py"
    app.write_text("import streamlit as st\nst.write('hello')\n", encoding="utf-8")
    config, port, log = write(tmp_path, IN_MEMORY), _free_port(), tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "memdash", "run", "--config", config, "--app", str(app), "--port",
             str(port), "--host", "127.0.0.1"],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline, status = time.monotonic() + 90, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status_code
                if status == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        output = log.read_text()
        assert status == 200, f"dashboard did not answer on port {port}:\n{output}"
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
        assert f"seeded {N_DEMO} demo memories into store 'demo'" in output
        # browser.serverAddress is only set in the project's .streamlit/config.toml: streamlit then prints
        # "URL: http://localhost:PORT" instead of "Local URL:", so the file was read.
        assert f"URL: http://localhost:{port}" in output and "Local URL" not in output, output
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_find_streamlit_dir_is_the_project_root() -> None:
    assert cli.find_streamlit_dir() == ROOT
    assert (ROOT / ".streamlit" / "config.toml").is_file()


BASE = "memory:\n  demo:\n    _type: in_memory\n"


@pytest.mark.parametrize(("text", "line", "says"), [
    (BASE + "memdash:\n  auth:\n    mode: bogus\n", 6, "memdash.auth.mode"),
    (BASE + "memdash:\n  trash:\n    retention_days: -3\n", 6, "memdash.trash.retention_days"),
    (BASE + "memdash:\n  audit:\n    path: ''\n", 6, "memdash.audit.path"),
    (BASE + "memdash:\n  snapshot:\n    path: snaps\n", 5, "unknown key 'snapshot'"),
    (BASE + "memdash:\n  eval:\n    history: 3\n", 6, "memdash.eval.history"),
    (BASE + "memdash:\n  snapshots: here\n", 5, "memdash.snapshots"),
])
def test_check_validates_every_key_of_the_memdash_section(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          text: str, line: int, says: str) -> None:
    """Each of these passed `memdash check` on d5b94e4, then the dashboard refused to open."""
    path = write(tmp_path, text)
    assert main(["check", "--config", path]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}" in err and says in err


@pytest.mark.parametrize(("text", "line"), [
    (BASE + "  demo:\n    _type: sqlite\n", 4),  # a store named twice: the first silently vanished
    (BASE + "memory:\n  other:\n    _type: in_memory\n", 4),  # a second memory: section
])
def test_duplicate_keys_are_refused_at_their_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                                  line: int) -> None:
    path = write(tmp_path, text)
    assert main(["check", "--config", path]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}" in err and "duplicate key" in err and "(first on line" in err


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """408 bytes of nested aliases kept `memdash check` busy for over 120 s on d5b94e4 (9 levels of 9)."""
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"{n}: &{n} [{','.join(['*' + p] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]
    path = write(tmp_path, "\n".join(levels) + "\n" + BASE)
    assert main(["check", "--config", path]) == 2
    assert "expands to more than 100,000 values through its aliases" in capsys.readouterr().err


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, BASE + "# " + "x" * 2_000_000 + "\n")
    assert main(["check", "--config", path]) == 2
    assert "larger than 1,000,000 bytes" in capsys.readouterr().err
