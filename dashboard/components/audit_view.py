"""Audit entries on screen: a table of entries, one entry's fields, and before/after diffs (always as text)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.components import nav
from dashboard.components.times import datetime_column, local_time
from dashboard.text import truncate, user_shown
from memory_core.audit import AuditEntry

AUDIT_PAGE = nav.AUDIT.link
COLUMNS = ("entry", "at", "actor", "operation", "user_id", "memory", "version", "reverts", "store", "memory_id",
           "batch")


def entries_frame(entries: Sequence[AuditEntry], labels: Mapping[tuple[str, str], str] | None = None
                  ) -> pd.DataFrame:
    """One row per entry; ``labels`` by (store, user id), shown beside the id."""
    rows = [{
        "entry": e.seq, "at": e.at, "actor": e.actor, "operation": e.operation,
        "user_id": user_shown(e.user_id, {e.user_id: (labels or {}).get((e.store, e.user_id), "")}),
        "memory": memory_preview(e) or (e.note or ""), "version": version_change(e),
        "reverts": str(e.reverts) if e.reverts else "", "store": e.store, "memory_id": e.memory_id or "",
        "batch": (e.batch or "")[:8],
    } for e in entries]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def entries_table(entries: Sequence[AuditEntry], *, key: str,
                  labels: Mapping[tuple[str, str], str] | None = None) -> list[AuditEntry]:
    """Show ``entries`` with multi-row selection; returns the selected entries."""
    event = st.dataframe(
        entries_frame(entries, labels), key=key, on_select="rerun", selection_mode="multi-row", hide_index=True,
        column_config={"at": datetime_column("when", seconds=True),
                       "user_id": st.column_config.TextColumn("user"),
                       "memory": st.column_config.TextColumn("memory", width="large"),
                       "reverts": st.column_config.TextColumn("reverts entry")},
    )
    rows = event.selection.rows if event else []
    return [entries[i] for i in rows if i < len(entries)]


def entry_link(entry_seq: int, label: str | None = None) -> None:
    st.page_link(AUDIT_PAGE, label=label or f"Audit entry {entry_seq}", query_params={"entry": str(entry_seq)},
                 icon=":material/history:")


def version_change(entry: AuditEntry) -> str:
    """``1 → 2``, ``– → 1`` (created), ``3 → –`` (removed)."""
    def version(state: dict[str, Any] | None) -> str:
        return str(state.get("version", "?")) if state else "–"
    return f"{version(entry.before)} → {version(entry.after)}"


def entry_fields(entry: AuditEntry) -> None:
    """Every field of an entry as plain text."""
    st.text(f"entry {entry.seq} · {local_time(entry.at)} · {entry.operation} by {entry.actor}")
    cols = st.columns(3)
    cols[0].text(f"store: {entry.store}")
    cols[1].text(f"user: {entry.user_id or '(all users)'}")
    cols[2].text(f"memory: {entry.memory_id or '(no id)'}")
    cols = st.columns(3)
    cols[0].text(f"version: {version_change(entry)}")
    cols[1].text(f"batch: {entry.batch or '(none)'}")
    cols[2].text(f"reverts entry: {entry.reverts or '(none)'}")
    if entry.note:
        st.text(f"note: {entry.note}")


def state_lines(state: dict[str, Any] | None) -> list[str]:
    """A record dict as diffable lines: the memory text verbatim, the other fields as sorted JSON."""
    if state is None:
        return ["(no memory)"]
    rest = {k: v for k, v in state.items() if k != "memory"}
    memory = state.get("memory")
    text = ["memory:", *(memory.splitlines() if isinstance(memory, str) else [json.dumps(memory)])]
    return text + json.dumps(rest, indent=2, ensure_ascii=False, sort_keys=True).splitlines()


def diff_view(old: dict[str, Any] | None, new: dict[str, Any] | None, old_name: str, new_name: str) -> None:
    """A unified diff of two record states, in a code block (text, never rendered)."""
    diff = list(difflib.unified_diff(state_lines(old), state_lines(new), old_name, new_name, lineterm="", n=100))
    st.code("\n".join(diff) if diff else "(no difference)", language="diff")


def memory_preview(entry: AuditEntry) -> str:
    """The memory text an entry is about (before a removal, after otherwise), on one line."""
    state = (entry.before if entry.after is None else entry.after) or {}
    messages = state.get("conversation") or []
    return truncate(state.get("memory") or " ".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in messages
                                                    if isinstance(m, dict)), 120)
