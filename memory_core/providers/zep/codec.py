"""Zep's JSON to memdash and back: facts as records, items as messages or text, scores, and the views of
threads, messages and episodes the dashboard shows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel

from memory_core.errors import InvalidInputError
from memory_core.models import MemoryItem
from memory_core.records import MemoryRecord

API_PATH = "/api/v2"  # Zep v3's API root under the host (the SDK's ZepEnvironment.DEFAULT)
ROLES = frozenset({"norole", "system", "assistant", "user", "function", "tool"})
MAX_TEXT = 10_000  # graph.add refuses longer data
MAX_MESSAGES = 30  # thread.add_messages takes at most this many messages per call
OWNER_KEY = "memdash_user_id"  # episode metadata naming the user of a text memdash added (edges do not say)
EDGE_FIELDS = ("name", "valid_at", "invalid_at", "expired_at", "episodes", "source_node_uuid", "target_node_uuid")


def api_root(base_url: str) -> str:
    """``https://api.getzep.com`` and the SDK's ``https://api.getzep.com/api/v2`` both give the latter."""
    root = base_url.rstrip("/")
    return root if root.endswith(API_PATH) else root + API_PATH


def edge_id(value: str) -> str | None:
    """Zep's form of an edge uuid (dashed), or ``None`` for a string that cannot be one."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def when(value: Any) -> dt.datetime:
    """A Zep timestamp (RFC 3339, up to nanoseconds) as an aware datetime; naive ones are UTC."""
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def fact_record(edge: dict[str, Any], user_id: str) -> MemoryRecord:
    """A fact (entity edge) as a record: id = edge uuid, memory = the fact, metadata = Zep's edge fields.

    ``updated_at`` is when Zep expired the fact (another fact superseded it), else when it was created.
    """
    created = when(edge["created_at"])
    expired = when(edge["expired_at"]) if edge.get("expired_at") else created
    item = MemoryItem(user_id=user_id, memory=str(edge["fact"]), metadata=edge_metadata(edge))
    return MemoryRecord(id=str(edge["uuid"]), item=item, created_at=created, updated_at=max(created, expired))


def edge_metadata(edge: dict[str, Any]) -> dict[str, Any]:
    """The edge fields a fact's record carries: relation name, validity, source episodes, nodes, attributes."""
    metadata = {key: edge.get(key) for key in EDGE_FIELDS}
    metadata["episodes"] = list(metadata["episodes"] or [])
    if edge.get("attributes"):
        metadata["attributes"] = edge["attributes"]
    return metadata


def hit_text(row: dict[str, Any], scope: str) -> str:
    """What a search result says: a fact, a node's summary, or an episode's content."""
    if scope == "nodes":
        return f"{row.get('name', '')}: {row.get('summary', '')}"
    return str(row.get("fact" if scope == "edges" else "content") or "")


def hit_metadata(row: dict[str, Any], scope: str) -> dict[str, Any]:
    if scope == "edges":
        return edge_metadata(row)
    keys = ("uuid", "labels", "created_at") if scope == "nodes" else ("uuid", "thread_id", "role", "source",
                                                                        "created_at")
    return {key: row.get(key) for key in keys}


def similarities(rows: list[dict[str, Any]], reranker: str) -> list[float]:
    """Higher = more similar, in [0, 1]. Zep's cross-encoder score is a sigmoid in [0, 1]; other rerankers give
    rank-based scores that only order results, so position ``i`` becomes ``1 / (1 + i)``."""
    if reranker == "cross_encoder":
        return [min(max(float(row.get("score") or row.get("relevance") or 0.0), 0.0), 1.0) for row in rows]
    return [1.0 / (1 + i) for i in range(len(rows))]


@dataclasses.dataclass
class Write:
    """What one item becomes in Zep: messages for a thread, or a text for the user's graph."""

    user_id: str
    thread_id: str | None = None
    messages: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    text: str | None = None

    def text_body(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "type": "text", "data": self.text, "source_description": "memdash",
                "metadata": {OWNER_KEY: self.user_id}}


def plan(item: MemoryItem, position: int, thread_id: str) -> Write:
    """The write for a valid item: its conversation if it has one (as the toolkit sends it), else its memory."""
    where = f"item {position}"
    if item.conversation:
        return Write(item.user_id, thread_id, [message_body(m, where) for m in item.conversation])
    if not (item.memory or "").strip():
        raise InvalidInputError(f"{where}: neither a conversation nor a memory text: nothing for Zep to store")
    if len(item.memory) > MAX_TEXT:
        raise InvalidInputError(f"{where}: the memory has {len(item.memory)} characters; Zep takes at most "
                                f"{MAX_TEXT} per text (split it into several items)")
    return Write(item.user_id, text=item.memory)


def message_body(message: dict[str, str], where: str) -> dict[str, Any]:
    """A toolkit message as a Zep message: ``role``, ``content`` and, when given, ``name`` and ``created_at``."""
    role, content = message["role"], message["content"]
    if role not in ROLES:
        raise InvalidInputError(f"{where}: role {role!r} is not one of Zep's roles ({', '.join(sorted(ROLES))})")
    if not isinstance(content, str) or not content.strip():
        raise InvalidInputError(f"{where}: a message's content must be a non-empty string")
    return {"role": role, "content": content} | {k: message[k] for k in ("name", "created_at") if message.get(k)}


def roles(value: Any) -> list[str] | None:
    """``ignore_roles`` checked: ``None`` or a list of Zep roles."""
    if value is None:
        return None
    if isinstance(value, str) or not all(r in ROLES for r in value):
        raise InvalidInputError(f"ignore_roles must be a list of Zep roles ({', '.join(sorted(ROLES))})")
    return list(value)


def thread_of(item: MemoryItem, call_thread: Any, default: str) -> str:
    """The thread of an item: its ``metadata['thread_id']``, else the call's ``thread_id=``, else the user's
    default thread (``default`` with ``{user_id}`` replaced)."""
    chosen = item.metadata.get("thread_id") or call_thread or default.replace("{user_id}", item.user_id)
    if not isinstance(chosen, str) or not chosen.strip():
        raise InvalidInputError(f"thread_id must be a non-empty string, got {chosen!r}")
    return chosen


# --- views of what Zep keeps besides facts (for the dashboard) ------------------------------------------------


class ZepThread(BaseModel):
    thread_id: str
    user_id: str | None = None
    uuid: str | None = None
    created_at: dt.datetime | None = None


class ZepMessage(BaseModel):
    uuid: str | None = None
    role: str
    name: str | None = None
    content: str
    created_at: dt.datetime | None = None
    metadata: dict[str, Any] | None = None
    processed: bool | None = None


class MessagePage(BaseModel):
    """One page of a thread's messages, oldest first; ``next_cursor`` is ``None`` on the last page."""

    thread_id: str
    user_id: str | None = None
    messages: list[ZepMessage]
    total_count: int | None = None
    next_cursor: str | None = None


class ZepEpisode(BaseModel):
    """A raw input Zep derived facts from: a message of a thread, or a text or JSON document."""

    uuid: str
    content: str
    created_at: dt.datetime
    source: str | None = None
    role: str | None = None
    thread_id: str | None = None
    metadata: dict[str, Any] | None = None
    processed: bool | None = None


class EpisodePage(BaseModel):
    episodes: list[ZepEpisode]
    next_cursor: str | None = None
