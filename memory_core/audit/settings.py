"""``memdash: {state:, audit: {path: ...}, trash: {retention_days: 30}}``: where memdash keeps its own state and
how long the trash keeps deleted memories. All optional; a relative path is relative to the config file.

memdash's state is the audit log, and with it the trash (removals nothing undid), user labels and review
approvals, which are audit entries, plus the dashboard's local accounts. By default (``state: {_type:
sqlite}``) the log is a SQLite file beside the config (``audit.path``) and the accounts a JSON file
(``auth.users_file``): one dashboard process. A team running several processes shares one PostgreSQL state:

```yaml
memdash:
  state:
    _type: postgres
    dsn: postgresql://memdash_app@db.internal:5432/memdash   # ${VAR} expanded
    password: ${MEMDASH_STATE_PASSWORD}                      # optional; merged into the DSN, never shown
    schema: memdash_state                                    # default; created on first use
```
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from memory_core.audit.log import AuditLog
from memory_core.audit.postgres import IDENTIFIER, PostgresAuditLog, conninfo, describe
from memory_core.audit.sqlite import SqliteAuditLog
from memory_core.config import MemdashConfig, section_error
from memory_core.errors import ConfigError

DEFAULT_FILE = "memdash-audit.sqlite3"
DEFAULT_RETENTION_DAYS = 30
DEFAULT_SCHEMA = "memdash_state"
STATE_TYPES = ("sqlite", "postgres")
_POSTGRES_KEYS = {"_type", "dsn", "password", "schema", "connect_timeout"}


@dataclasses.dataclass(frozen=True)
class PostgresState:
    """``memdash.state`` of ``_type: postgres``: one database schema for every process's state."""

    conninfo: str = dataclasses.field(repr=False)  # the DSN with the password merged in
    schema: str = DEFAULT_SCHEMA
    connect_timeout: float = 10.0


@dataclasses.dataclass(frozen=True)
class SafetySettings:
    audit_path: Path | None  # the SQLite log's file; None when the state is in PostgreSQL
    retention_days: int = DEFAULT_RETENTION_DAYS
    postgres: PostgresState | None = None

    def open_audit_log(self) -> AuditLog:
        """The audit log (its file or tables are created on first use); ``AuditLogError`` if it cannot open."""
        if self.postgres is not None:
            return PostgresAuditLog(self.postgres.conninfo, schema=self.postgres.schema,
                                    connect_timeout=self.postgres.connect_timeout)
        assert self.audit_path is not None
        return SqliteAuditLog(self.audit_path)

    @property
    def audit_location(self) -> str:
        """Where the log is, for people: its file, or its PostgreSQL server and schema (never a password)."""
        if self.postgres is not None:
            return describe(self.postgres.conninfo, self.postgres.schema)
        return str(self.audit_path)


def safety_settings(config: MemdashConfig) -> SafetySettings:
    """The config's state, audit and trash settings, checked (``ConfigError`` with file, line and field)."""
    section = config.sections.get("memdash") or {}
    if not isinstance(section, dict):
        raise section_error(config, "must be a mapping (seed:, audit:, trash:)", ("memdash",))
    audit = _mapping(config, section, "audit", {"path"})
    trash = _mapping(config, section, "trash", {"retention_days"})
    days = trash.get("retention_days", DEFAULT_RETENTION_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise section_error(config, "must be a whole number of days, at least 1", ("memdash", "trash",
                                                                                    "retention_days"))
    postgres = postgres_state(config)
    if postgres is not None:
        if "path" in audit:
            raise section_error(config, "the audit log is in the PostgreSQL state (memdash.state): remove this "
                                "path", ("memdash", "audit", "path"))
        return SafetySettings(audit_path=None, retention_days=days, postgres=postgres)
    path = audit.get("path", DEFAULT_FILE)
    if not isinstance(path, str) or not path.strip():
        raise section_error(config, "must be a file path", ("memdash", "audit", "path"))
    return SafetySettings(audit_path=(config.base_dir / Path(path).expanduser()).resolve(), retention_days=days)


def postgres_state(config: MemdashConfig) -> PostgresState | None:
    """``memdash.state`` when it is ``_type: postgres``; ``None`` for the default SQLite files."""
    section = config.sections.get("memdash") or {}
    raw = section.get("state") if isinstance(section, dict) else None
    at = ("memdash", "state")
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("_type") not in STATE_TYPES:
        field = at if not isinstance(raw, dict) else (*at, "_type")
        raise section_error(config, f"must be a mapping with _type: {' or '.join(STATE_TYPES)}", field)
    allowed = _POSTGRES_KEYS if raw["_type"] == "postgres" else {"_type"}
    unknown = sorted(str(k) for k in set(raw) - allowed)
    if unknown:
        raise section_error(config, f"unknown key '{unknown[0]}' for a {raw['_type']} state; allowed: "
                            f"{', '.join(sorted(allowed))}", (*at, unknown[0]))
    if raw["_type"] == "sqlite":
        return None
    return PostgresState(conninfo=_conninfo(config, raw), schema=_schema(config, raw.get("schema", DEFAULT_SCHEMA)),
                         connect_timeout=_timeout(config, raw.get("connect_timeout", 10.0)))


def _conninfo(config: MemdashConfig, raw: dict[str, Any]) -> str:
    dsn, password = raw.get("dsn"), raw.get("password")
    if not isinstance(dsn, str) or not dsn.strip():
        raise section_error(config, "dsn: a PostgreSQL connection string (postgresql://user@host/db) is needed",
                            ("memdash", "state", *(("dsn",) if "dsn" in raw else ())))
    if password is not None and not isinstance(password, str):
        raise section_error(config, "must be a string (e.g. ${MEMDASH_STATE_PASSWORD})",
                            ("memdash", "state", "password"))
    try:
        return conninfo(dsn, password or None)
    except ConfigError as exc:
        raise section_error(config, exc.message, ("memdash", "state", "dsn")) from None


def _schema(config: MemdashConfig, raw: Any) -> str:
    if not isinstance(raw, str) or not IDENTIFIER.fullmatch(raw):
        raise section_error(config, "must be a schema name: lower-case letters, digits and _ (at most 63)",
                            ("memdash", "state", "schema"))
    return raw


def _timeout(config: MemdashConfig, raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        raise section_error(config, "must be a number of seconds above 0", ("memdash", "state", "connect_timeout"))
    return float(raw)


def _mapping(config: MemdashConfig, section: dict[str, Any], key: str, allowed: set[str]) -> dict[str, Any]:
    raw = section.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise section_error(config, f"must be a mapping with {', '.join(sorted(allowed))}", ("memdash", key))
    unknown = sorted(str(k) for k in set(raw) - allowed)
    if unknown:
        raise section_error(config, f"unknown key '{unknown[0]}'; allowed: {', '.join(sorted(allowed))}",
                            ("memdash", key, unknown[0]))
    return raw
