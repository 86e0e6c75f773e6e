"""Typed errors: every user mistake or backend failure surfaces as one of these, never a traceback."""

from __future__ import annotations

import typing

if typing.TYPE_CHECKING:
    from memory_core.records import MemoryRecord


class MemdashError(Exception):
    """Base of every error memdash raises on purpose."""


class ConfigError(MemdashError):
    """A config file is wrong: names the file, the line and the field."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.message, self.file, self.line, self.field = message, file, line, field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        parts = [where] if where else []
        if self.field:
            parts.append(f"field '{self.field}'")
        return f"{', '.join(parts)}: {self.message}" if parts else self.message


class InvalidInputError(MemdashError, ValueError):
    """A call's arguments are wrong (missing user_id, bad metadata, bad filter...)."""


class NotFoundError(MemdashError, KeyError):
    """A memory id, user or store name that does not exist."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class VersionConflictError(MemdashError):
    """An update was based on a version that is no longer the stored one."""

    def __init__(self, record_id: str, expected: int, current: MemoryRecord | None) -> None:
        self.record_id, self.expected, self.current = record_id, expected, current
        actual = current.version if current else "deleted"
        super().__init__(
            f"memory {record_id} changed since it was loaded (expected version {expected}, now {actual})"
        )


class UnsupportedError(MemdashError, NotImplementedError):
    """The store does not offer this capability."""


class StoreUnavailableError(MemdashError, ConnectionError):
    """The backend cannot be reached or rejected the credentials."""


class AuditLogError(MemdashError):
    """The audit log cannot be opened, written or read; mutations are refused rather than left unrecorded."""
