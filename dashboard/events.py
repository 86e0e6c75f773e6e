"""Typed events the services emit for every mutation (Datasette's ``events.py`` model).

Consumers subscribe with :func:`subscribe` (one event at a time: the playground's trace) or
:func:`subscribe_changes` (all the events of one service call at once: the audit log, which writes them in one
transaction). Listeners run synchronously inside the service call, changes-listeners first, so a listener that
raises (an audit log that cannot be written) makes the operation fail visibly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from memory_core.records import utcnow


@dataclasses.dataclass(frozen=True)
class MemoryEvent:
    """One change to one memory. ``before``/``after`` are lossless record dicts (``None`` when absent)."""

    operation: str  # add | update | delete | revert
    actor: str
    store: str
    user_id: str
    memory_id: str | None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    batch: str | None = None  # groups the events of one bulk operation
    created: dt.datetime = dataclasses.field(default_factory=utcnow)
    reverts: int | None = None  # the audit entry a revert undoes
    origin: str | None = None  # id of the StoreHub that made the change (its audit log records it)
    note: str | None = None  # what before/after cannot say (e.g. "the store gave the restored memory a new id")


Listener = Callable[[MemoryEvent], None]
ChangesListener = Callable[[Sequence[MemoryEvent]], None]
_listeners: list[Listener] = []
_changes_listeners: list[ChangesListener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Register a listener of single events; returns a function that unregisters it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def subscribe_changes(listener: ChangesListener) -> Callable[[], None]:
    """Register a listener of every event of one service call at once; returns a function that unregisters it."""
    _changes_listeners.append(listener)
    return lambda: _changes_listeners.remove(listener)


def emit(*events: MemoryEvent) -> None:
    """Deliver the events of one service call."""
    if not events:
        return
    for changes_listener in list(_changes_listeners):
        changes_listener(events)
    for listener in list(_listeners):
        for event in events:
            listener(event)
