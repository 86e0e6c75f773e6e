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
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from servers_redis import free_port, start_or_fail

from memory_core.embedders.hashing import HashingEmbedder, HashingEmbedderConfig

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("MEMDASH_AMS_VENV_HOME") or ROOT / ".venv") / "agent-memory-server"
REQUIREMENTS = ("agent-memory-server==0.14.0", "mcp<2")
DIMENSIONS = 1536  # the dimension the server gives its index for its default embedding model
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


class Embeddings(ThreadingHTTPServer):
    """``POST /v1/embeddings`` as OpenAI answers it, with memdash's hashing embedder."""

    daemon_threads = True
    embedder = HashingEmbedder(HashingEmbedderConfig(dimension=DIMENSIONS))

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EmbeddingsHandler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _EmbeddingsHandler(BaseHTTPRequestHandler):
    server: Embeddings

    def log_message(self, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = self.server.embedder.embed_sync([str(t) for t in texts])
        data = json.dumps({"object": "list", "model": body.get("model"),
                           "usage": {"prompt_tokens": 1, "total_tokens": 1},
                           "data": [{"object": "embedding", "index": i, "embedding": [float(x) for x in v]}
                                    for i, v in enumerate(vectors)]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextlib.contextmanager
def agent_memory_server(workdir: Path) -> Iterator[str]:
    """A running server (and its Redis and embeddings stand-in); yields its base URL."""
    command = server_venv()
    redis = start_or_fail(workdir / "redis")
    embeddings = Embeddings()
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
