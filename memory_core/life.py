"""Pause and expiry: a memory kept and browsable that the agent's search no longer returns.

Two reserved metadata keys, so every store that keeps metadata keeps them and an export carries them:
``memdash_paused`` (true: paused until resumed) and ``memdash_expires_at`` (an ISO 8601 time in UTC: from then
on the agent no longer gets the memory, and ``memdash expire`` moves it to the trash). The agent's search
(``RecordSearch.search``) leaves such memories out and asks the store for more results until it has ``top_k``
others or the store has no more, so ``top_k`` still holds; an operator's search shows them, marked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from memory_core.errors import InvalidInputError
from memory_core.models import MemoryItem

PAUSED = "memdash_paused"
EXPIRES_AT = "memdash_expires_at"


class ExpiresForAgent:
    """A store where a memory past its expiry time is never returned to any agent, whichever client searches (the
    service's own expiry, mapped from ``memdash_expires_at``); with ``UPDATE`` it offers ``Capability.EXPIRE``."""


class HidesFromAgent(ExpiresForAgent):
    """A store whose agent search leaves out paused and expired memories (memdash's own stores, through
    ``RecordSearch``, the only way agents read them); with ``UPDATE`` it offers ``Capability.PAUSE`` and
    ``Capability.EXPIRE``."""


def expires_at(item: MemoryItem) -> dt.datetime | None:
    """When the memory expires (None: never, or a value that is not a time, which is ignored)."""
    return expiry_in(item.metadata)


def expiry_in(metadata: dict[str, Any]) -> dt.datetime | None:
    """The expiry time a memory's metadata holds (see :func:`expires_at`)."""
    raw = metadata.get(EXPIRES_AT)
    if not isinstance(raw, str):
        return None
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def is_paused(item: MemoryItem) -> bool:
    return item.metadata.get(PAUSED) is True


def hidden_from_agent(item: MemoryItem, now: dt.datetime) -> bool:
    """Paused, or past its expiry time."""
    when = expires_at(item)
    return is_paused(item) or (when is not None and when <= now)


def paused_metadata(metadata: dict[str, Any], paused: bool) -> dict[str, Any]:
    """``metadata`` with the memory paused (or resumed)."""
    kept = {k: v for k, v in metadata.items() if k != PAUSED}
    return {**kept, PAUSED: True} if paused else kept


def expiring_metadata(metadata: dict[str, Any], when: dt.datetime | None, now: dt.datetime) -> dict[str, Any]:
    """``metadata`` with the expiry time set (or removed with None); a time already past is refused."""
    kept = {k: v for k, v in metadata.items() if k != EXPIRES_AT}
    if when is None:
        return kept
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    if when <= now:
        raise InvalidInputError(f"expires_at: {when.isoformat()} is already past; pick a later time, or delete "
                                "the memory")
    return {**kept, EXPIRES_AT: when.astimezone(dt.UTC).isoformat(timespec="seconds")}
