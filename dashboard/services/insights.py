"""Services of the insight pages: analytics, retrieval evaluation, review queue (the Playground's are in
:mod:`dashboard.playground`, :mod:`dashboard.timeline` and :mod:`dashboard.snapshots`).

Same rules as :mod:`dashboard.services`: reads go through the hub's editors, every mutation goes through a
``services`` function (role check, audit event).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from dashboard.services import memories
from dashboard.services.hub import StoreHub
from memory_core import review
from memory_core.access import Actor
from memory_core.audit import AuditQuery
from memory_core.audit.writer import approval
from memory_core.errors import ConfigError, InvalidInputError, UnsupportedError, VersionConflictError
from memory_core.evaluation import EvalReport, GoldenQuery, append_history, evaluate, parse_golden, read_history
from memory_core.interfaces import Capability, capabilities_of
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord, utcnow
from memory_core.stats import Bucket, GrowthPoint, HistogramBin, MemoryStats, SizedMemory, TagCount
from memory_core.usage import Retrieval, Usage, UsedMemory

NO_STATS = "store '{store}' cannot compute statistics"


def stats_of(hub: StoreHub, store: str) -> MemoryStats:
    """The store as a :class:`MemoryStats`, or ``UnsupportedError`` saying it cannot compute statistics."""
    editor = hub.editor(store)
    if Capability.STATS not in capabilities_of(editor):
        raise UnsupportedError(NO_STATS.format(store=store))
    return editor  # type: ignore[return-value]


@dataclasses.dataclass
class StoreStatistics:
    histogram: list[HistogramBin]
    tags: list[TagCount]
    growth: list[GrowthPoint]
    largest: list[SizedMemory]
    never_retrieved: list[SizedMemory] | None  # None: the store does not record retrievals
    most_used: list[UsedMemory] | None


def store_statistics(hub: StoreHub, store: str, *, bins: int = 10, top: int = 10,
                     bucket: Bucket = Bucket.DAY) -> StoreStatistics:
    """Every aggregate the Analytics page shows, each computed by the store."""
    stats = stats_of(hub, store)
    run = hub.runner.run
    tracked = hub.can(store, Capability.RETRIEVALS)
    never = run(stats.never_retrieved(top)) if tracked else None
    used = run(stats.most_used(top)) if tracked else None  # type: ignore[attr-defined]
    return StoreStatistics(histogram=run(stats.user_histogram(bins)), tags=run(stats.top_tags(top)),
                           growth=run(stats.growth(bucket)), largest=run(stats.largest(top)), never_retrieved=never,
                           most_used=used)


def note_agent_retrieval(hub: StoreHub, store: str, ids: list[str], query: str) -> None:
    """The Playground's agent retrieved ``ids`` for ``query``: counted (and logged) like any agent's search, where
    the store counts."""
    if ids and hub.can(store, Capability.RETRIEVALS):
        log = hub.editor(store)
        hub.runner.run(log.note_retrieved(ids, utcnow(), query))  # type: ignore[attr-defined]


def retrievals_of(hub: StoreHub, store: str, memory_id: str, n: int = 20) -> list[Retrieval] | None:
    """The memory's last logged retrievals, newest first; None where the store keeps no detailed log."""
    log = hub.browser(store, Capability.RETRIEVALS)
    if not log.retrieval_log.keep:  # type: ignore[attr-defined]
        return None
    return hub.runner.run(log.retrievals(memory_id, n))  # type: ignore[attr-defined]


def uses_of(hub: StoreHub, store: str, ids: list[str]) -> dict[str, int]:
    """How often the agent's search returned each of ``ids`` (0: never); only where the store records it."""
    log = hub.browser(store, Capability.RETRIEVALS)
    found = hub.runner.run(log.usage(ids))  # type: ignore[attr-defined]
    return {rid: found[rid].retrievals if rid in found else 0 for rid in ids}


def usage_of(hub: StoreHub, store: str, memory_id: str) -> Usage | None:
    """How often the agent's search returned the memory (None: never); only where the store records it."""
    log = hub.browser(store, Capability.RETRIEVALS)
    return hub.runner.run(log.usage([memory_id])).get(memory_id)  # type: ignore[attr-defined]


def added_since(hub: StoreHub, store: str, days: int) -> int | None:
    """How many memories were created in the last ``days`` days (None when the store cannot count)."""
    if not hub.can(store, Capability.COUNT):
        return None
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    return memories.count_memories(hub, store, MemoryFilter(created_from=since))


# --- retrieval evaluation ------------------------------------------------------------------------------
HISTORY_FILE = "eval-history.jsonl"


def eval_history_path(hub: StoreHub) -> Path:
    """``memdash: {eval: {history: FILE}}`` relative to the config, else ``eval-history.jsonl`` beside it."""
    config = hub.config
    if config is None:
        raise hub.config_error or ConfigError("no config loaded: start with memdash run --config FILE")
    section = (config.sections.get("memdash") or {}).get("eval") or {}
    return config.base_dir / str(section.get("history") or HISTORY_FILE)


def golden_from(name: str, data: bytes) -> list[GoldenQuery]:
    try:
        return parse_golden(data.decode("utf-8-sig"), name)
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{name} is not UTF-8 text (byte {exc.start})") from None


def run_eval(hub: StoreHub, store: str, queries: list[GoldenQuery], golden: str) -> EvalReport:
    """Run golden queries through the store's search and append the figures to the history file."""
    report = hub.runner.run(evaluate(hub.editor(store), queries, store=store, golden=golden))
    append_history(eval_history_path(hub), report)
    return report


def eval_history(hub: StoreHub, store: str) -> list[dict[str, Any]]:
    return [row for row in read_history(eval_history_path(hub)) if row.get("store") == store]


# --- review queue ----------------------------------------------------------------------------------------
def review_scan(hub: StoreHub, store: str, kinds: frozenset[review.Kind], *, limit: int = 200
                ) -> list[review.Finding]:
    """Findings of the store, one user and one page at a time (needs listing users and records); memories
    approved at their current version are left out."""
    browser = hub.browser(store, Capability.LIST_USERS)
    hub.browser(store, Capability.LIST)
    return hub.runner.run(review.scan(browser, kinds, limit=limit, approved=approvals(hub, store)))


def approvals(hub: StoreHub, store: str) -> review.Approved:
    """The (memory id, version) pairs approved in the review queue, read from the audit log."""
    entries = hub.audit.entries(AuditQuery(store=store, operation="review"))
    return frozenset(found for entry in entries if (found := approval(entry)))


def approve(hub: StoreHub, actor: Actor, store: str, finding: review.Finding) -> MemoryRecord:
    """Approve the flagged memory as the person saw it: an audit entry, the memory itself untouched.
    ``VersionConflictError`` when it changed since the scan."""
    record = memories.get_memory(hub, store, finding.record_id)
    if record.version != finding.version:
        raise VersionConflictError(record.id, finding.version, record)
    hub.writer(actor, store).note_review(record)
    return record


def redact(hub: StoreHub, actor: Actor, store: str, finding: review.Finding) -> MemoryRecord:
    """Replace the finding's match with ``[redacted]`` in the memory's text and conversation (an audited edit,
    revertible); ``VersionConflictError`` when the memory changed since the scan."""
    record = memories.get_memory(hub, store, finding.record_id)
    memory, conversation = review.redact(record.item, finding.match or "")
    patch = MemoryPatch(memory=memory, conversation=conversation)
    return memories.update_memory(hub, actor, store, record.id, patch, expected_version=finding.version)
