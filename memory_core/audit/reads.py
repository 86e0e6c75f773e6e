"""Who looked at whose memories: read records in the audit log, apart from the changes (``operation == "read"``).

A read record says who read how many memories of which user of which store, how (``browse``, ``open``,
``search``, ``agent view``) and when; exports, snapshots and ``memdash person`` are ``export`` entries instead.
Bounded: per session, user and kind, one record per :data:`WINDOW`; the reads in between are summed into the next
one, so paging through a person's memories writes one record, not one per page, and nothing is lost but the exact
moment of each page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable

from memory_core.access import Actor
from memory_core.audit.log import READ, AuditEntry, AuditLog
from memory_core.records import utcnow

WINDOW = dt.timedelta(minutes=10)
KINDS = ("browse", "open", "search", "agent view")


@dataclasses.dataclass
class _Tally:
    recorded_at: dt.datetime
    unrecorded: int = 0  # memories read since the last record, not yet in the log


class ReadRecorder:
    """Appends read records to one audit log, at most one per (session, actor, store, user, kind) per window."""

    def __init__(self, log: Callable[[], AuditLog], *, window: dt.timedelta = WINDOW,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._log, self._window, self._clock = log, window, clock
        self._tallies: dict[tuple[str, str, str, str, str], _Tally] = {}
        self._lock = threading.Lock()

    def record(self, actor: Actor, session: str, store: str, reads: dict[str, int], kind: str) -> None:
        """``reads``: memories read per user id (``{"alice": 25}``); an empty user id stands for every user."""
        if kind not in KINDS:
            raise ValueError(f"unknown read kind {kind!r}")
        now, due = self._clock(), []
        with self._lock:
            self._forget_before(now - self._window)
            for user_id, count in reads.items():
                key = (session, actor.name, store, user_id, kind)
                tally = self._tallies.get(key)
                if tally is None or now - tally.recorded_at >= self._window:
                    due.append(AuditEntry(READ, actor.name, store, user_id, at=now,
                                          note=f"{kind} · {count + (tally.unrecorded if tally else 0)}"))
                    self._tallies[key] = _Tally(now)
                else:
                    tally.unrecorded += count
        if due:
            self._log().append(due)

    def _forget_before(self, horizon: dt.datetime) -> None:
        """Drop the tallies of windows that ended (their unrecorded reads go with the next record, or nowhere
        when there is none: at most one window's worth per key). Keeps memory bounded by the active sessions."""
        if len(self._tallies) > 10_000:
            self._tallies = {key: t for key, t in self._tallies.items() if t.recorded_at >= horizon}

