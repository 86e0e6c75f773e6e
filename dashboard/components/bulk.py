"""Bulk tag / untag / delete on the selected rows or on everything matching the filter.

The scope is what the screen shows chosen when the button is clicked, passed with the click (never read back
from session state, so a scope the page did not show cannot be used); an unknown scope is refused. The
confirmation dialog names the count and lists the first memories it will change; a delete of selected rows is
checked against the versions the operator saw.
"""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from dashboard import context
from dashboard.components import dialogs, undo
from dashboard.components.page import flash, reported
from dashboard.services import memories
from dashboard.text import count_of, escape_markdown, truncate
from memory_core.access import Role
from memory_core.errors import VersionConflictError
from memory_core.interfaces import Capability
from memory_core.items import item_text
from memory_core.records import MemoryFilter, MemoryRecord

DIALOG = "bulk"
ACTIONS = {"tag": "Tag", "untag": "Untag", "delete": "Delete"}
DONE = {"tag": "Tagged", "untag": "Untagged", "delete": "Deleted"}
SCOPES = {"selected": "Selected rows", "filter": "Everything matching the filter"}
LISTED = 5


def bulk_panel(store: str, flt: MemoryFilter, selected: list[MemoryRecord], matching: int | None) -> None:
    """Scope, tags and the three action buttons; opens the confirmation dialog of a chosen job."""
    with st.expander("Bulk actions", icon=":material/checklist:", expanded=bool(selected)):
        scope = st.radio("Apply to", list(SCOPES), format_func=SCOPES.get, key="bulk_scope", horizontal=True)
        counts = {"selected": count_of(len(selected), "row") + " selected",
                  "filter": f"{matching:,} matching" if matching is not None else "every match"}
        st.caption(f"{counts['selected']} · {counts['filter']}")
        st.text_input("Tags to add or remove (comma-separated)", key="bulk_tags")
        reader = context.actor().role_for(store) < Role.EDITOR
        with st.container(horizontal=True):  # buttons as wide as their labels, at any window width
            for action, label in ACTIONS.items():
                st.button(f"{label}…", key=f"bulk_{action}", on_click=_open, args=(action, store, flt, scope, selected),
                          disabled=reader or (scope == "selected" and not selected))
        if reader:
            st.caption("Your role can read memories, not change them.")
    job = dialogs.payload(DIALOG)
    if job and job["store"] == store:
        _confirm(job)


def _open(action: str, store: str, flt: MemoryFilter, scope: str, selected: list[MemoryRecord]) -> None:
    """Button callback: the job as the screen showed it at the click (scope, selected memories, tags)."""
    if scope not in SCOPES or (scope == "selected" and not selected):
        flash("Choose what the bulk action applies to: the selected rows or everything matching the filter.",
              "error")
        return
    dialogs.open_dialog(DIALOG, action=action, store=store, flt=flt, scope=scope,
                        records=list(selected) if scope == "selected" else None,
                        tags=st.session_state.get("bulk_tags", ""))


@st.dialog("Confirm bulk action", on_dismiss=lambda: dialogs.close_dialog(DIALOG))
def _confirm(job: dict[str, Any]) -> None:
    tags = [t.strip() for t in job["tags"].split(",") if t.strip()]
    if job["action"] != "delete" and not tags:
        st.warning("Type the tags to add or remove first.")
        dialogs.close_button(DIALOG, "Close", key="bulk_close")
        return
    with reported():
        count, first = _preview(job)
        st.markdown(_describe(job, count, tags))
        if count == 0:
            dialogs.close_button(DIALOG, "Close", key="bulk_close")
            return
        st.text("\n".join(f"• {truncate(item_text(r.item), 90)}  (user {r.user_id})"
                          for r in first))
        if count is None or count > len(first):
            st.caption("and " + ("the rest matching the filter" if count is None else f"{count - len(first):,} more"))
        go, cancel = st.columns(2)
        with cancel:
            dialogs.close_button(DIALOG, key="bulk_cancel")
        if go.button(f"{ACTIONS[job['action']]} {_amount(count)}", key="bulk_confirm", type="primary"):
            _run(job, tags)


def _preview(job: dict[str, Any]) -> tuple[int | None, list[MemoryRecord]]:
    """How many memories the job touches (``None`` when the store cannot count) and the first of them."""
    if job["records"] is not None:
        return len(job["records"]), job["records"][:LISTED]
    hub = context.hub()
    first = memories.list_memories(hub, job["store"], job["flt"], limit=LISTED).records
    count = memories.count_memories(hub, job["store"], job["flt"]) if hub.can(job["store"], Capability.COUNT) else None
    return count, first


def _describe(job: dict[str, Any], count: int | None, tags: list[str]) -> str:
    action = job["action"]
    if count == 0:
        return f"No memories to {action}: nothing will change."
    what = _amount(count) + (" selected" if job["scope"] == "selected" else " matching the filter")
    listed = ", ".join(escape_markdown(t) for t in tags)
    if action == "delete":
        return f"**Delete {what}?** They go to the trash: you can undo it right after, or restore them later."
    return f"**{ACTIONS[action]} {what}:** {'add' if action == 'tag' else 'remove'} {listed}."


def _amount(count: int | None) -> str:
    return "all matching memories" if count is None else count_of(count, "memory", "memories")


def _run(job: dict[str, Any], tags: list[str]) -> None:
    """Do the job with a progress bar, then close the dialog and refresh the page."""
    hub, actor, store, action = context.hub(), context.actor(), job["store"], job["action"]
    bar = st.progress(0.0, text="Working…")

    def progress(done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0) if total else 1.0, text=f"{done:,} of {total:,}")

    change, batch = ({"add": tags} if action == "tag" else {"remove": tags}), uuid.uuid4().hex
    records: list[MemoryRecord] | None = job["records"]
    try:
        if records is None and action == "delete":
            n = memories.delete_matching(hub, actor, store, job["flt"], progress=progress, batch=batch)
        elif records is None:
            n = memories.retag_matching(hub, actor, store, job["flt"], progress=progress, batch=batch, **change)
        elif action == "delete":
            n = memories.delete_memories(hub, actor, store, [r.id for r in records], batch=batch,
                                         expected_versions={r.id: r.version for r in records})
        else:
            n = memories.retag_memories(hub, actor, store, [r.id for r in records], progress=progress, batch=batch,
                                        **change)
    except VersionConflictError as exc:
        dialogs.close_dialog(DIALOG)
        flash(f"Nothing was deleted: {escape_markdown(exc)}. Someone changed it after you selected it; look at "
              "the table again and choose.", "error")
        st.rerun()
    dialogs.close_dialog(DIALOG)
    flash(f"{DONE[action]} {count_of(n, 'memory', 'memories')}.")
    if action == "delete" and n:
        undo.offer(store, batch)
    st.rerun()
