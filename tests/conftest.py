"""Shared fixtures. Keep this small and general; append, don't rewrite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# the session-scoped real servers (started only by the tests that use them)
pytest_plugins = ["tests.helpers.servers_postgres", "tests.helpers.servers_redis"]


@pytest.fixture
def make_dash(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Factory of dashboard test setups (``dashboard_helpers.Dash``), each with its own config file."""
    from tests.helpers.dashboard import Dash

    made: list[Dash] = []

    def make(stores: dict[str, dict[str, Any]] | None = None) -> Dash:
        folder = tmp_path / f"dash{len(made)}"
        folder.mkdir()
        made.append(Dash.create(folder, stores))
        return made[-1]

    yield make
    for dash in made:
        dash.close()


@pytest.fixture
def dash(make_dash: Callable[..., Any]) -> Any:
    """A dashboard over one empty in_memory store named ``main``."""
    return make_dash()


@pytest.fixture(scope="session", autouse=True)
def _sign_in_off() -> Iterator[None]:
    """Sign-in is off, explicitly (``MEMDASH_NO_AUTH=1``, as ``memdash run --no-auth``), for every test that is not
    about it, servers started by tests included; tests of sign-in delete the variable (``monkeypatch.delenv``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEMDASH_NO_AUTH", "1")
        yield
