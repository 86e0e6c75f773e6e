"""A real Redis Agent Memory Server for tests: PyPI ``agent-memory-server`` in a Python 3.12 venv of its own
(it needs Python >= 3.12; the shared venv is 3.11), on a real Redis (:mod:`servers_redis`), with extraction, topic
and entity models off and embeddings from a local OpenAI-compatible stand-in (memdash's hashing embedder at the
server's 1536 dimensions), so nothing leaves the machine.

The venv lives in ``.venv/agent-memory-server`` (or under ``MEMDASH_AMS_VENV_HOME``), built on first use (about
three minutes from the package index) and reused while :data:`REQUIREMENTS` are unchanged. 0.14.0 is pinned:
0.15.x imports ``agent_memory_client.utils``, which no client release on the index provides yet, and ``mcp<2``
because the server imports ``mcp.server.fastmcp``, gone in mcp 2. A venv or server that cannot start fails the
tests that need it, with the reason: they never skip.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from memory_core.embedders.hashing import HashingEmbedder, HashingEmbedderConfig
from tests.helpers.fake_openai import FakeEmbeddings
from tests.helpers.servers_redis import free_port, start_or_fail

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("MEMDASH_AMS_VENV_HOME") or ROOT / ".venv") / "agent-memory-server"
REQUIREMENTS = ("agent-memory-server==0.14.0", "mcp<2")
DIMENSIONS = 1536  # the dimension the server gives its index for its default embedding model
HASHING = HashingEmbedder(HashingEmbedderConfig(dimension=DIMENSIONS))
START_TIMEOUT_S = 60.0


def python312() -> str:
    """A Python 3.12 interpreter that runs: the machine's pyenv 3.12, else ``python3.12`` on the PATH."""
    candidates = [*sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))),
                  shutil.which("python3.12")]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    pytest.fail("the agent memory server needs Python 3.12 (in ~/.pyenv/versions or python3.12 on the PATH)",
                pytrace=False)


def server_venv() -> Path:
    """The venv's ``agent-memory`` command, built first when needed (one builder at a time)."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    stamp, key = VENV / ".memdash-packages", hashlib.sha256("\n".join(REQUIREMENTS).encode()).hexdigest()
    with open(VENV.parent / ".agent-memory-server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.exists() and stamp.read_text() == key):
            for step in ([python312(), "-m", "venv", "--clear", str(VENV)],
                         [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", *REQUIREMENTS]):
                done = subprocess.run(step, capture_output=True, text=True, timeout=1200)
                if done.returncode != 0:
                    pytest.fail(f"cannot build the agent memory server venv ({' '.join(step[1:4])}):\n"
                                f"{done.stderr[-3000:]}", pytrace=False)
            stamp.write_text(key)
    return VENV / "bin" / "agent-memory"


def hashing_vectors(texts: Sequence[str]) -> list[list[float]]:
    """memdash's hashing embedder at the server's dimension: the same text, the same vector, offline."""
    return [[float(x) for x in vector] for vector in HASHING.embed_sync(list(texts))]


@contextlib.contextmanager
def agent_memory_server(workdir: Path) -> Iterator[str]:
    """A running server (and its Redis and embeddings stand-in); yields its base URL."""
    command = server_venv()
    redis = start_or_fail(workdir / "redis")
    embeddings = FakeEmbeddings(hashing_vectors)
    threading.Thread(target=embeddings.serve_forever, daemon=True).start()
    port = free_port()
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{redis.port}", "OPENAI_API_KEY": "local",
           "OPENAI_API_BASE": embeddings.base_url, "LONG_TERM_MEMORY": "true", "DISABLE_AUTH": "true",
           "ENABLE_DISCRETE_MEMORY_EXTRACTION": "false", "ENABLE_TOPIC_EXTRACTION": "false", "ENABLE_NER": "false",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LOG_LEVEL": "WARNING"}
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen([str(command), "api", "--port", str(port), "--task-backend", "asyncio"], env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(process, url, workdir / "server.log")
        yield url
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        process.kill()
        log.close()
        embeddings.shutdown()
        embeddings.server_close()
        redis.stop()


def _wait(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the agent memory server exited ({process.returncode}):\n{log.read_text()[-3000:]}",
                        pytrace=False)
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/v1/health", timeout=2) as answer:
            if answer.status == 200:
                return
        time.sleep(0.3)
    pytest.fail(f"the agent memory server did not answer within {START_TIMEOUT_S:.0f} s:\n"
                f"{log.read_text()[-3000:]}", pytrace=False)


@pytest.fixture(scope="session")
def ams_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with agent_memory_server(tmp_path_factory.mktemp("agent-memory-server")) as url:
        yield url
