"""The ``memdash:`` section of a config: every key memdash reads there, and the check that validates them all, so
``memdash check`` (and the dashboard on start) reports a mistake with file, line and field instead of a page
that refuses to open later.

```yaml
memdash:
  seed: {store: demo, data: demo}        # memdash run fills this store when it is empty
  auth: {...}                            # sign-in (memory_core.auth_settings)
  state: {_type: postgres, dsn: ...}     # the audit log and accounts in PostgreSQL, for several processes
  audit: {path: memdash-audit.sqlite3}   # the audit log's file when the state is sqlite (memory_core.audit.settings)
  trash: {retention_days: 30}
  snapshots: {path: snapshots}           # the Playground's demo snapshots
  eval: {history: eval-history.jsonl}    # the retrieval evaluation's history
```
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from memory_core.audit.settings import safety_settings
from memory_core.auth_settings import auth_settings
from memory_core.config import MemdashConfig, section_error
from memory_core.demo import DATASETS

KEYS = ("seed", "auth", "state", "audit", "trash", "snapshots", "eval")
SNAPSHOTS_DIR = "snapshots"
_PATHS = {"snapshots": "path", "eval": "history"}  # sections that hold one file or folder path


@dataclasses.dataclass(frozen=True)
class SeedSettings:
    """``memdash: {seed: {store: NAME, data: demo}}``: which store ``memdash run`` fills on first start."""

    store: str
    data: str = "demo"


def section(config: MemdashConfig) -> dict[str, Any]:
    """The ``memdash:`` mapping (empty when absent); ``ConfigError`` when it is not a mapping."""
    raw = config.sections.get("memdash") or {}
    if not isinstance(raw, dict):
        raise section_error(config, f"must be a mapping ({', '.join(KEYS)})", ("memdash",))
    return raw


def check_memdash_section(config: MemdashConfig) -> None:
    """Validate every key memdash reads in ``memdash:``; the first mistake is a ``ConfigError`` at its line."""
    unknown = sorted(str(key) for key in section(config) if key not in KEYS)
    if unknown:
        raise section_error(config, f"unknown key '{unknown[0]}'; allowed: {', '.join(KEYS)}",
                            ("memdash", unknown[0]))
    seed_settings(config)
    safety, auth = safety_settings(config), auth_settings(config)
    if safety.postgres is not None and auth.users_file is not None:
        raise section_error(config, "the local accounts are in the PostgreSQL state (memdash.state): remove "
                            "users_file and add them with memdash user add --config", ("memdash", "auth", "users_file"))
    for key, field in _PATHS.items():
        _path_section(config, key, field)


def seed_settings(config: MemdashConfig) -> SeedSettings | None:
    """The config's seed request, checked against its stores and the known data sets."""
    raw = section(config).get("seed")
    if raw in (None, False):
        return None
    path = ("memdash", "seed")
    if not isinstance(raw, dict) or not isinstance(raw.get("store"), str):
        raise section_error(config, "must be a mapping like {store: NAME, data: demo}", path)
    unknown = sorted(str(key) for key in set(raw) - {"store", "data"})
    if unknown:
        raise section_error(config, f"unknown key '{unknown[0]}'; allowed: store, data", (*path, unknown[0]))
    settings = SeedSettings(store=raw["store"], data=str(raw.get("data", "demo")))
    if settings.store not in config.memory:
        known = ", ".join(config.memory) or "none configured"
        raise section_error(config, f"no memory store named '{settings.store}'; configured: {known}",
                            (*path, "store"))
    if settings.data not in DATASETS:
        raise section_error(config, f"unknown data set '{settings.data}'; known: {', '.join(DATASETS)}",
                            (*path, "data"))
    return settings


def snapshots_folder(config: MemdashConfig, store: str) -> Path:
    """Where the Playground keeps ``store``'s snapshots: ``memdash: {snapshots: {path: DIR}}`` relative to the
    config (default ``snapshots/`` beside it), one folder per store. Read by the dashboard and by erasure."""
    raw = section(config).get("snapshots") or {}
    return config.base_dir / str(raw.get("path") or SNAPSHOTS_DIR) / store


def _path_section(config: MemdashConfig, key: str, field: str) -> None:
    raw = section(config).get(key)
    if raw is None:
        return
    if not isinstance(raw, dict) or set(raw) - {field}:
        raise section_error(config, f"must be a mapping like {{{field}: PATH}}", ("memdash", key))
    value = raw.get(field)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise section_error(config, "must be a file or folder path", ("memdash", key, field))
