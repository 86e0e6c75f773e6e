"""Toolkit items to Mem0 request bodies and Mem0 memories back to records.

Mem0 keeps one text per memory, its metadata, its entity ids (``user_id``, ``run_id``...) and timestamps.
What a ``MemoryItem`` has beyond that travels in the memory's metadata under ``_memdash``::

    {"source": "memory" | "conversation" | "inferred", "tags": [...], "conversation": [...] | null,
     "version": 3, "digest": "<sha256 of the text memdash last wrote, 16 hex>"}

``source`` says what Mem0's text is: the item's ``memory`` verbatim, the item's conversation rendered as
``role: content`` lines (the item had no memory text), or a fact Mem0 inferred from the conversation.
``version`` counts memdash's updates; a text that no longer matches ``digest`` was edited elsewhere (Mem0's
dashboard, its SDK) and reads as one version later. A memory without ``_memdash`` (written by another
client) reads like the toolkit reads it: Mem0's text, its ``categories`` as tags, ``input`` as conversation.

An expiry time (``memdash_expires_at``, :mod:`memory_core.life`) is also sent as Mem0's own ``expiration_date``,
the last UTC day the memory is visible, so Mem0 hides it from every client's search from the next UTC midnight:
at the expiry time or up to a day later, never earlier. A memory given an ``expiration_date`` elsewhere reads
with ``memdash_expires_at`` at the end of that day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from memory_core import life
from memory_core.errors import InvalidInputError
from memory_core.items import item_text
from memory_core.models import MemoryItem
from memory_core.records import MemoryRecord

ENVELOPE = "_memdash"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_item(item: MemoryItem, where: str) -> None:
    """Reject what Mem0 could not store or what would clash with the envelope."""
    if ENVELOPE in item.metadata:
        raise InvalidInputError(f"{where}: metadata key '{ENVELOPE}' is reserved by memdash's mem0 store")
    if item.memory is not None and not item.memory.strip():
        raise InvalidInputError(f"{where}: Mem0 cannot store a blank memory text (leave memory unset instead)")
    if item.memory is None and not item.conversation:
        raise InvalidInputError(f"{where}: Mem0 needs a memory text or a conversation")


def _split_run_id(metadata: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A copy of ``metadata`` without a string ``run_id``, and that run id (Mem0 keeps it as an entity)."""
    copy = dict(metadata)
    run_id = copy.get("run_id")
    if isinstance(run_id, str) and run_id:
        del copy["run_id"]
        return copy, run_id
    return copy, None


def _text_of(item: MemoryItem) -> tuple[str, str]:
    """``(source, text)`` for an item stored verbatim."""
    return ("memory", item.memory) if item.memory is not None else ("conversation", item_text(item))


def add_body(item: MemoryItem, *, infer: bool) -> dict[str, Any]:
    """The ``POST /v3/memories/add/`` body for one item; ``item`` itself is left untouched.

    A memory text (or, with ``infer`` off, the rendered conversation) is sent as one user message with
    ``infer: false``, so Mem0 stores exactly that text as one memory. With ``infer`` on, a conversation-only
    item is sent as its conversation for Mem0 to extract facts from.
    """
    metadata, run_id = _split_run_id(item.metadata)
    if infer and item.memory is None:
        source, messages, text = "inferred", [dict(m) for m in item.conversation or []], None
    else:
        source, text = _text_of(item)
        messages = [{"role": "user", "content": text}]
    envelope = {"source": source, "tags": list(item.tags), "conversation": item.conversation, "version": 1,
                "digest": digest(text) if text is not None else None}
    body: dict[str, Any] = {"messages": messages, "user_id": item.user_id, "infer": source == "inferred",
                            "metadata": {**metadata, ENVELOPE: envelope}}
    if run_id is not None:
        body["run_id"] = run_id
    if (day := expiration_date(item.metadata)) is not None:
        body["expiration_date"] = day
    return body


def expiration_date(metadata: dict[str, Any]) -> str | None:
    """Mem0's ``expiration_date`` for the expiry time in ``metadata``: the last UTC day before that time."""
    when = life.expiry_in(metadata)
    return None if when is None else (when - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date().isoformat()


def _expires_from(row: dict[str, Any]) -> str | None:
    """The expiry time Mem0's ``expiration_date`` means (the next UTC midnight); ``None`` for none or a value Mem0
    cannot parse either (it fails open: such a memory never expires)."""
    try:
        day = dt.date.fromisoformat(str(row.get("expiration_date") or ""))
    except ValueError:
        return None
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return end.isoformat(timespec="seconds")


def _follow_expiration(metadata: dict[str, Any], row: dict[str, Any]) -> None:
    """``metadata``'s expiry time made to agree with Mem0's ``expiration_date`` (changed or cleared elsewhere)."""
    native = _expires_from(row)
    if native is None:
        metadata.pop(life.EXPIRES_AT, None)
    elif expiration_date(metadata) != row["expiration_date"]:
        metadata[life.EXPIRES_AT] = native


def update_body(row: dict[str, Any], item: MemoryItem, version: int) -> dict[str, Any]:
    """The ``PUT /v1/memories/{id}/`` body that makes memory ``row`` hold ``item`` at ``version``."""
    metadata, run_id = _split_run_id(item.metadata)
    if run_id != _run_id(row):
        raise InvalidInputError("Mem0 cannot move a memory to another run_id (metadata['run_id'])")
    source, text = _text_of(item)
    envelope = {"source": source, "tags": list(item.tags), "conversation": item.conversation, "version": version,
                "digest": digest(text)}
    body: dict[str, Any] = {"metadata": {**metadata, ENVELOPE: envelope}}
    if text != row.get("memory"):
        body["text"] = text
    if (day := expiration_date(item.metadata)) != (row.get("expiration_date") or None):
        body["expiration_date"] = day  # None makes it permanent again
    return body


def _run_id(row: dict[str, Any]) -> str | None:
    return row.get("run_id") or row.get("session_id") or None


def _time(value: Any) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def record(row: dict[str, Any], user_id: str | None = None) -> MemoryRecord:
    """A Mem0 memory (from get, list, search or update) as a record; ``ValueError`` when it is malformed."""
    metadata = dict(row.get("metadata") or {})
    envelope = metadata.pop(ENVELOPE, None)
    envelope = envelope if isinstance(envelope, dict) else None
    if _run_id(row):
        metadata["run_id"] = _run_id(row)
    if "expiration_date" in row:  # Mem0's own date is what every client's search obeys
        _follow_expiration(metadata, row)
    text = str(row.get("memory") or "")
    if envelope:
        tags, conversation = envelope.get("tags") or [], envelope.get("conversation")
        memory = None if envelope.get("source") == "conversation" else text
    else:
        tags, conversation, memory = row.get("categories") or [], row.get("input") or None, text
    item = MemoryItem(user_id=row.get("user_id") or user_id or "", memory=memory, tags=list(tags),
                      metadata=metadata, conversation=conversation)
    created = _time(row["created_at"])
    updated = _time(row["updated_at"]) if row.get("updated_at") else created
    return MemoryRecord(id=str(row["id"]), item=item, created_at=created, updated_at=updated,
                        version=version_of(envelope, text))


def version_of(envelope: dict[str, Any] | None, text: str) -> int:
    """memdash's update count, plus one when the text was changed outside memdash since."""
    if not envelope:
        return 1
    version = int(envelope.get("version") or 1)
    edited = envelope.get("digest") is not None and envelope["digest"] != digest(text)
    return version + 1 if edited else version


def score_of(row: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """Mem0's relevance (higher = more relevant, documented in [0, 1]; clamped) and its per-signal parts."""
    value = min(max(float(row.get("score") or 0.0), 0.0), 1.0)
    breakdown = row.get("score_breakdown") or {}
    parts = {k: float(v) for k, v in breakdown.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return value, parts or {"mem0": value}
