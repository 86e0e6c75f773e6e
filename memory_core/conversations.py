"""Which conversation a memory belongs to: the toolkit's auto-memory stores one item per message, and the
conversation is named only in metadata, under the key its writer uses."""

from __future__ import annotations

from memory_core.models import MemoryItem

# the keys writers name a conversation with, first match wins: the toolkit's conversation_id (its context),
# session_id (Redis Agent Memory, Mem0's run), thread_id (Zep, LangGraph), run_id (Mem0)
CONVERSATION_KEYS = ("conversation_id", "session_id", "thread_id", "run_id")


def conversation_of(item: MemoryItem) -> tuple[str, str | int] | None:
    """``(metadata key, value)`` naming the item's conversation, or ``None``."""
    for key in CONVERSATION_KEYS:
        value = item.metadata.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return key, value
    return None
