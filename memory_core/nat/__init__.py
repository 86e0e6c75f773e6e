"""memdash and the NeMo Agent Toolkit (``nat``) in one process, both ways.

* :mod:`memory_core.nat.register` is the toolkit's ``nat.components`` entry point: it registers memdash's stores
  and embedders in the toolkit under ``memdash_*`` names (:mod:`memory_core.nat.components`).
* :mod:`memory_core.nat.resolver` is memdash's ``memdash.plugins`` entry point: it resolves those ``memdash_*``
  names (:mod:`memory_core.nat.names`) in memdash too, and a ``_type`` only an installed toolkit plugin implements
  through :mod:`memory_core.nat.fallback`.
* :mod:`memory_core.nat.adapters` converts items and wraps editors and embedders across the two APIs.

Only ``register``, ``resolver`` and ``names`` may be imported without the toolkit installed; memdash imports the
rest only when ``nat`` is importable (``pip install 'memdash[nat]'``). See ``docs/toolkit.md``.
"""

from __future__ import annotations

import importlib.util


def available() -> bool:
    """Whether the toolkit (``nvidia-nat-core``) is importable."""
    try:
        return importlib.util.find_spec("nat.data_models.memory") is not None
    except ModuleNotFoundError:  # no top-level ``nat`` package at all
        return False
