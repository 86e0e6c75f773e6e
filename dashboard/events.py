"""Typed events the services emit for every mutation (Datasette's ``events.py`` model).

Consumers subscribe with :func:`subscribe`: the audit log is one, the playground's trace another.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from memory_core.records import utcnow


@dataclasses.dataclass(frozen=True)
class MemoryEvent:
    """One change to one memory. ``before``/``after`` are lossless record dicts (``None`` when absent)."""

    operation: str  # add | update | delete
    actor: str
    store: str
    user_id: str
    memory_id: str | None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    batch: str | None = None  # groups the events of one bulk operation
    created: dt.datetime = dataclasses.field(default_factory=utcnow)


Listener = Callable[[MemoryEvent], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Register a listener; returns a function that unregisters it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def emit(event: MemoryEvent) -> None:
    for listener in list(_listeners):
        listener(event)
