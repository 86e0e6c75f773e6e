"""What the toolkit interop tests share: the toolkit must be importable (never a skip), and a user id resolver."""

from __future__ import annotations

import importlib

import pytest


def require_toolkit() -> None:
    """Fail (not skip) the calling test module when the toolkit is missing: ``make test`` installs memdash[nat]."""
    for module in ("nat.builder.workflow_builder", "langchain_core.tools", "nat.plugins.zep_cloud.memory"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            pytest.fail(f"{module} cannot be imported ({exc}); install the toolkit: pip install -e '.[dev,nat]'",
                        pytrace=False)


def current_user() -> str:
    """A ``user_id_resolver`` for the toolkit's memory tools (the application's authenticated user)."""
    return "resolved-bob"
