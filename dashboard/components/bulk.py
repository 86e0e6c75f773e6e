"""Bulk tag / untag / delete on the selected rows or on everything matching the filter.

A button's callback records the job; the job's dialog shows a dry-run count and asks for confirmation,
then runs the job with a progress bar (a whole filter is paged through by the services).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import streamlit as st

from dashboard import context, services
from dashboard.access import Role
from dashboard.components import dialogs, undo
from dashboard.components.page import flash, reported
from dashboard.components.text import count_of, escape_markdown
from memory_core.interfaces import Capability
from memory_core.records import MemoryFilter, MemoryRecord

DIALOG = "bulk"
ACTIONS = {"tag": "Tag", "untag": "Untag", "delete": "Delete"}
DONE = {"tag": "Tagged", "untag": "Untagged", "delete": "Deleted"}


def bulk_panel(store: str, flt: MemoryFilter, selected: Sequence[MemoryRecord], matching: int | None) -> None:
    """Scope, tags and the three action buttons; opens the confirmation dialog of a chosen job."""
    with st.expander("Bulk actions", icon=":material/checklist:", expanded=bool(selected)):
        scopes = {"selected": f"Selected rows ({len(selected)})",
                  "filter": "Everything matching the filter" + (f" ({matching:,})" if matching is not None else "")}
        scope = st.radio("Apply to", list(scopes), format_func=scopes.get, key="bulk_scope", horizontal=True)
        st.text_input("Tags to add or remove (comma-separated)", key="bulk_tags")
        columns = st.columns(len(ACTIONS) + 3)
        reader = context.actor().role_for(store) < Role.EDITOR
        for column, (action, label) in zip(columns, ACTIONS.items(), strict=False):
            column.button(f"{label}…", key=f"bulk_{action}", on_click=_open,
                          args=(action, store, flt, [r.id for r in selected]),
                          disabled=reader or (scope == "selected" and not selected))
        if reader:
            st.caption("Your role can read memories, not change them.")
    job = dialogs.payload(DIALOG)
    if job and job["store"] == store:
        _confirm(job)


def _open(action: str, store: str, flt: MemoryFilter, selected_ids: list[str]) -> None:
    """Button callback: the job as the form stands at the click (tags typed just before it included)."""
    s = st.session_state
    ids = selected_ids if s.get("bulk_scope") == "selected" else None
    dialogs.open_dialog(DIALOG, action=action, store=store, flt=flt, ids=ids, tags=s.get("bulk_tags", ""))


def _close() -> None:
    dialogs.close_dialog(DIALOG)


@st.dialog("Confirm bulk action", on_dismiss=_close)
def _confirm(job: dict[str, Any]) -> None:
    tags = [t.strip() for t in job["tags"].split(",") if t.strip()]
    if job["action"] != "delete" and not tags:
        st.warning("Type the tags to add or remove first.")
        dialogs.close_button(DIALOG, "Close", key="bulk_close")
        return
    with reported():
        count = _dry_run(job)
        st.markdown(_describe(job["action"], count, tags, whole_filter=job["ids"] is None))
        if count == 0:
            dialogs.close_button(DIALOG, "Close", key="bulk_close")
            return
        go, cancel = st.columns(2)
        with cancel:
            dialogs.close_button(DIALOG, key="bulk_cancel")
        if go.button(f"{ACTIONS[job['action']]} {_amount(count)}", key="bulk_confirm", type="primary"):
            _run(job, tags)


def _dry_run(job: dict[str, Any]) -> int | None:
    """How many memories the job touches (``None`` when the store cannot count)."""
    if job["ids"] is not None:
        return len(job["ids"])
    hub = context.hub()
    if not hub.can(job["store"], Capability.COUNT):
        return None
    return services.count_memories(hub, job["store"], job["flt"])


def _describe(action: str, count: int | None, tags: list[str], *, whole_filter: bool) -> str:
    what = _amount(count) + (" matching the filter" if whole_filter else " selected")
    if count == 0:
        return f"No memories to {action}: nothing will change."
    listed = ", ".join(escape_markdown(t) for t in tags)
    if action == "delete":
        return f"**Delete {what}?** They go to the trash: you can undo it right after, or restore them later."
    return f"**{ACTIONS[action]} {what}:** {'add' if action == 'tag' else 'remove'} {listed}."


def _amount(count: int | None) -> str:
    if count is None:
        return "all memories"
    return count_of(count, "memory", "memories")


def _run(job: dict[str, Any], tags: list[str]) -> None:
    """Do the job with a progress bar, then close the dialog and refresh the page."""
    hub, actor, store, action = context.hub(), context.actor(), job["store"], job["action"]
    bar = st.progress(0.0, text="Working…")

    def progress(done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0) if total else 1.0, text=f"{done:,} of {total:,}")

    change, batch = ({"add": tags} if action == "tag" else {"remove": tags}), uuid.uuid4().hex
    if job["ids"] is None and action == "delete":
        n = services.delete_matching(hub, actor, store, job["flt"], progress=progress, batch=batch)
    elif job["ids"] is None:
        n = services.retag_matching(hub, actor, store, job["flt"], progress=progress, **change)
    elif action == "delete":
        n = services.delete_memories(hub, actor, store, job["ids"], batch=batch)
    else:
        n = services.retag_memories(hub, actor, store, job["ids"], progress=progress, **change)
    dialogs.close_dialog(DIALOG)
    flash(f"{DONE[action]} {_amount(n)}.")
    if action == "delete" and n:
        undo.offer(store, batch)
    st.rerun()
