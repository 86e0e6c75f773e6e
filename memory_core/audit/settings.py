"""``memdash: {audit: {path: ...}, trash: {retention_days: 30}}``: where the audit log lives, how long the trash
keeps deleted memories. Both are optional; a relative path is relative to the config file."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from memory_core.audit.log import AuditLog
from memory_core.audit.sqlite import SqliteAuditLog
from memory_core.config import MemdashConfig, section_error

DEFAULT_FILE = "memdash-audit.sqlite3"
DEFAULT_RETENTION_DAYS = 30


@dataclasses.dataclass(frozen=True)
class SafetySettings:
    audit_path: Path
    retention_days: int = DEFAULT_RETENTION_DAYS

    def open_audit_log(self) -> AuditLog:
        """The audit log (its file and schema are created on first use); ``AuditLogError`` if it cannot open."""
        return SqliteAuditLog(self.audit_path)


def safety_settings(config: MemdashConfig) -> SafetySettings:
    """The config's audit and trash settings, checked (``ConfigError`` with file, line and field)."""
    section = config.sections.get("memdash") or {}
    if not isinstance(section, dict):
        raise section_error(config, "must be a mapping (seed:, audit:, trash:)", ("memdash",))
    audit = _mapping(config, section, "audit", {"path"})
    trash = _mapping(config, section, "trash", {"retention_days"})
    path = audit.get("path", DEFAULT_FILE)
    if not isinstance(path, str) or not path.strip():
        raise section_error(config, "must be a file path", ("memdash", "audit", "path"))
    days = trash.get("retention_days", DEFAULT_RETENTION_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise section_error(config, "must be a whole number of days, at least 1", ("memdash", "trash",
                                                                                    "retention_days"))
    return SafetySettings(audit_path=(config.base_dir / Path(path).expanduser()).resolve(), retention_days=days)


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
