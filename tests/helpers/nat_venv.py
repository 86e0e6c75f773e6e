"""A separate venv with the toolkit's Redis and Mem0 plugins, for ``tests/memory_core/test_nat_stores.py``.

``nvidia-nat-redis`` pins redis-py below 6 and ``nvidia-nat-mem0ai`` protobuf below 6, both older than the
shared venv's, so they live in ``.venv/nat-toolkit-1.9`` (or under ``MEMDASH_NAT_VENV_HOME``) with memdash installed
editable and without dependencies (its ``nat.components`` entry point, as in a toolkit project that installs
memdash). Built on first use, as ``tests/memory_core/test_mem0_sdk_compat.py`` builds its SDK venvs (two to four
minutes from the package index), and reused while its requirements and ``pyproject.toml`` are unchanged. A venv
that cannot be built fails the tests that need it, with pip's output: they never skip.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_HOME = Path(os.environ.get("MEMDASH_NAT_VENV_HOME") or ROOT / ".venv")
VENV = VENV_HOME / "nat-toolkit-1.9"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = ("nvidia-nat==1.9.0", "nvidia-nat-redis==1.9.0", "nvidia-nat-mem0ai==1.9.0", "langchain-core>=0.3")
PROBE = Path(__file__).resolve().parent / "nat_toolkit_probe.py"
PIP = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]


def _stamp(name: str) -> Path:
    return VENV / f".memdash-{name}"


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _run(step: list[str]) -> None:
    done = subprocess.run(step, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        pytest.fail(f"cannot build the toolkit venv at {VENV} ({' '.join(step[1:])}):\n{done.stderr[-3000:]}",
                    pytrace=False)


def _ensure(name: str, key: str, steps: list[list[str]]) -> None:
    """Run ``steps`` unless the stamp ``name`` says they already ran with ``key``."""
    stamp = _stamp(name)
    if stamp.exists() and stamp.read_text() == key:
        return
    for step in steps:
        _run(step)
    stamp.write_text(key)


def toolkit_python() -> Path:
    """The venv's Python, built or brought up to date first (one builder at a time)."""
    VENV_HOME.mkdir(parents=True, exist_ok=True)
    with open(VENV_HOME / ".nat-toolkit-1.9.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        packages = _key(*REQUIREMENTS)
        if not (_stamp("packages").exists() and _stamp("packages").read_text() == packages):
            _run([sys.executable, "-m", "venv", "--clear", str(VENV)])
        _ensure("packages", packages, [[str(PYTHON), *PIP, *REQUIREMENTS]])
        memdash = _key(packages, (ROOT / "pyproject.toml").read_text())
        _ensure("memdash", memdash, [[str(PYTHON), *PIP, "--no-deps", "-e", str(ROOT)]])
    return PYTHON


def probe(python: Path, config: Path, calls: list[dict[str, Any]], env: dict[str, str] | None = None) -> list[Any]:
    """Run ``tests/helpers/nat_toolkit_probe.py`` in the toolkit venv: build ``config`` with the toolkit's own
    builder and invoke its functions; returns what each call returned."""
    done = subprocess.run([str(python), str(PROBE), str(config)], input=json.dumps(calls), capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})}, cwd=ROOT)
    assert done.returncode == 0, f"the toolkit probe failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])
