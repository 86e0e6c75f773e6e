"""What the configured stores are and what they can do: health, capabilities in words, settings (secrets
masked), the agent's reach, the audit log's status, and which config file a session reads."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dashboard.services.hub import StoreHub
from dashboard.services.memories import export_records
from memory_core.access import Actor, Role
from memory_core.audit import AuditQuery
from memory_core.errors import (
    InvalidInputError,
    MemdashError,
)
from memory_core.interfaces import Capability, capabilities_of
from memory_core.reach import AgentReach, Reach
from memory_core.records import (
    MemoryFilter,
)

CAN = {  # what each capability lets an operator do, in words, in the order the Stores page lists them
    Capability.LIST_USERS: "list its users", Capability.LIST: "list memories",
    Capability.LIST_ALL_USERS: "list every user's memories at once", Capability.COUNT: "count",
    Capability.GET: "open a memory", Capability.UPDATE: "edit", Capability.DELETE_BY_IDS: "delete single memories",
    Capability.IMPORT: "import keeping ids and times", Capability.TEXT_SEARCH: "search by words",
    Capability.VECTOR_SEARCH: "search by meaning", Capability.SEARCH_RECORDS: "link search hits to their memories",
    Capability.PING: "report its health", Capability.STATS: "compute analytics",
    Capability.REACH: "tell which memories the agent's search cannot find",
    Capability.RETRIEVALS: "count how often the agent uses each memory",
    Capability.PAUSE: "pause a memory for the agent",
    Capability.EXPIRE: "give a memory an expiry date after which no agent gets it",
    Capability.BROWSE_BY_USE: "list and sort memories by how often the agent used them",
}


def can_words(capabilities: frozenset[Capability]) -> str:
    """What a store can do, as a sentence part an operator reads."""
    return ", ".join(words for capability, words in CAN.items() if capability in capabilities)




@dataclasses.dataclass
class StoreStatus:
    name: str
    type: str
    ok: bool
    error: str | None = None
    capabilities: frozenset[Capability] = frozenset()
    users: int | None = None
    memories: int | None = None
    notes: list[str] = dataclasses.field(default_factory=list)


def store_status(hub: StoreHub, store: str) -> StoreStatus:
    """Health, capabilities and counts of one store; a failure is reported, never raised."""
    status = StoreStatus(name=store, type=hub.store_type(store), ok=False)
    try:
        editor = hub.editor(store)
        status.capabilities = capabilities_of(editor)
        status.notes = list(getattr(editor, "notes", []))
        if Capability.PING in status.capabilities:
            hub.runner.run(editor.ping())  # type: ignore[attr-defined]
        if Capability.COUNT in status.capabilities:
            status.memories = hub.runner.run(editor.count_records(MemoryFilter()))  # type: ignore[attr-defined]
        status.ok = True
    except (MemdashError, OSError, TimeoutError) as exc:
        status.error = str(exc) or type(exc).__name__
    return status


def store_statuses(hub: StoreHub) -> list[StoreStatus]:
    return [store_status(hub, name) for name in hub.store_names]


def agent_reach(hub: StoreHub, store: str, examples: int = 20) -> Reach:
    """How many of ``store``'s memories the agent's own search can find (``UnsupportedError`` when the store
    cannot tell: the agent then searches through memdash itself)."""
    return hub.runner.run(_reach(hub.browser(store, Capability.REACH)).reach(examples))


def unfindable_reason(hub: StoreHub, store: str, memory_id: str) -> str | None:
    """Why the agent's own search cannot find this memory; ``None`` when it can or the store cannot tell."""
    if not hub.can(store, Capability.REACH):
        return None
    return hub.runner.run(_reach(hub.editor(store)).unfindable_reason(memory_id))


def give_missing_vectors(hub: StoreHub, actor: Actor, store: str, *, progress: Callable[[int, int], None] | None = None,
                 chunk: int = 200) -> int:
    """Give every memory the agent cannot find for want of a vector one (admin, audited, one batch); how many."""
    writer, batch, given = hub.writer(actor, store), uuid.uuid4().hex, 0
    ids = [record.id for record in export_records(hub, store, MemoryFilter())]
    for start in range(0, len(ids), chunk):
        given += len(hub.runner.run(writer.add_vectors(ids[start:start + chunk], batch=batch)))
        if progress:
            progress(min(start + chunk, len(ids)), len(ids))
    return given


def _reach(editor: Any) -> AgentReach:
    return editor  # a store declaring Capability.REACH implements AgentReach (capabilities_of)


@dataclasses.dataclass(frozen=True)
class SafetyStatus:
    path: str  # its file, or its PostgreSQL server and schema
    entries: int
    retention_days: int
    shared: bool = False  # in the PostgreSQL state every memdash process of the config writes to


def safety_status(hub: StoreHub) -> SafetyStatus:
    """Where the audit log lives and how much it holds (``AuditLogError`` when it cannot be opened)."""
    audit_log = hub.audit
    assert hub.safety is not None  # hub.audit raised otherwise
    return SafetyStatus(hub.safety.audit_location, audit_log.count(AuditQuery()), hub.safety.retention_days,
                        shared=hub.safety.postgres is not None)


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@/\s]+@")
_KEY_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def store_settings(hub: StoreHub, store: str) -> dict[str, Any]:
    """A store's validated config for display: secrets (``SecretStr``) and passwords inside URLs or libpq
    strings are masked."""
    hub.require_read(store)
    settings = hub._builder().get_memory_client_config(store).model_dump(mode="json", by_alias=True)
    return {key: _masked(value) for key, value in settings.items()}


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return _KEY_PASSWORD.sub(r"\1********", _URL_PASSWORD.sub(r"\1********@", value))
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def choose_config(actor: Actor, path: str) -> str:
    """Open another config file in the caller's session (its stores, never its sign-in settings): admins only.
    Returns the absolute path for ``context.config_path``."""
    actor.require_global(Role.ADMIN, "open another config")
    if not path.strip():
        raise InvalidInputError("a config file path is needed")
    return str(Path(path.strip()).expanduser().resolve())
