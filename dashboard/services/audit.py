"""The reads the Audit log and Trash pages make (entries are written by :mod:`memory_core.audit.writer`)."""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Mapping, Sequence

from dashboard.services.filters import when_param
from memory_core.audit import OPERATIONS, AuditEntry, AuditPage, AuditQuery
from memory_core.errors import InvalidInputError

if typing.TYPE_CHECKING:
    from dashboard.services.hub import StoreHub

QUERY_KEYS = ("user", "id", "op", "actor", "batch", "from", "to", "all_stores", "reads")


# --- reads -------------------------------------------------------------------------------------------


def audit_page(hub: StoreHub, query: AuditQuery, *, limit: int = 50, cursor: str | None = None) -> AuditPage:
    """Entries of the stores the hub's reader may read (changes, or with ``query.reads`` the read records)."""
    return hub.audit.page(hub.visible(query), limit=limit, cursor=cursor)


def audit_count(hub: StoreHub, query: AuditQuery) -> int:
    return hub.audit.count(hub.visible(query))


def audit_entry(hub: StoreHub, seq: int) -> AuditEntry:
    """One entry, if its store is one the hub's reader may read (``PermissionDenied`` otherwise)."""
    entry = hub.audit.get(seq)
    hub.require_read(entry.store)
    return entry


def reverted_by(hub: StoreHub, seqs: Sequence[int]) -> dict[int, int]:
    return hub.audit.reverted_by(seqs)


def retention_days(hub: StoreHub) -> int:
    return hub.safety.retention_days if hub.safety else 0


def trash_page(hub: StoreHub, store: str, *, user_id: str | None = None, limit: int = 50,
               cursor: str | None = None) -> AuditPage:
    """Memories deleted from ``store`` within the retention period and not restored, newest first."""
    hub.require_read(store)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days(hub))
    return hub.audit.trash(store, since=since, user_id=user_id, limit=limit, cursor=cursor)


# --- the Audit page's URL ---------------------------------------------------------------------------------


def query_from_params(params: Mapping[str, str], store: str | None) -> AuditQuery:
    """An :class:`AuditQuery` from ``?user=&id=&op=&actor=&batch=&from=&to=``; ``store`` unless ``?all_stores=1``;
    the read records instead of the changes with ``?reads=1``.

    Dates are ISO dates or datetimes (UTC when no zone is given); a bare ``to`` date includes its whole day.
    """
    operation = params.get("op") or None
    if operation is not None and operation not in OPERATIONS:
        raise InvalidInputError(f"op must be one of {', '.join(OPERATIONS)}, not {operation!r}")
    since = when_param("from", params.get("from", ""))
    until = when_param("to", params.get("to", ""), end_of_day=True)
    if since and until and since > until:
        raise InvalidInputError("the date range is empty: 'from' is after 'to'")
    return AuditQuery(store=None if params.get("all_stores") == "1" else store,
                      user_id=params.get("user") or None, memory_id=params.get("id") or None,
                      operation=operation, actor=params.get("actor") or None, batch=params.get("batch") or None,
                      since=since, until=until, reads=params.get("reads") == "1")
