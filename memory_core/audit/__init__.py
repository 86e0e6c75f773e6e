"""The audit log: every change made through memdash, append-only, with lossless before/after states.

:mod:`~memory_core.audit.log` holds the entry model and the :class:`AuditLog` interface,
:mod:`~memory_core.audit.sqlite` the SQLite implementation (used whatever the memory store is),
:mod:`~memory_core.audit.postgres` the PostgreSQL one that several dashboard processes share,
:mod:`~memory_core.audit.settings` the ``memdash: {state:, audit:, trash:}`` config.
"""

from memory_core.audit.log import OPERATIONS, AuditEntry, AuditLog, AuditPage, AuditQuery, Change
from memory_core.audit.settings import SafetySettings, safety_settings
from memory_core.audit.sqlite import SqliteAuditLog

__all__ = ["OPERATIONS", "AuditEntry", "AuditLog", "AuditPage", "AuditQuery", "Change", "SafetySettings",
           "SqliteAuditLog", "safety_settings"]
