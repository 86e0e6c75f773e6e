"""Undo right after a delete: an Undo button under the "Deleted ..." message on the next page shown, and Undo in
the sidebar until it is used or dismissed. Undo reverts the delete's audit batch (the memories come back with
their ids, versions and timestamps where the store can import); later, the Trash page restores them."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import context
from dashboard.components import revert_flow
from dashboard.components.audit_view import memory_preview
from dashboard.components.page import flash
from dashboard.services import audit, revert
from dashboard.text import escape_markdown, truncate
from memory_core.errors import MemdashError

_LAST = "_undo_last_delete"


def offer(store: str, batch: str) -> None:
    """After a delete made with audit ``batch``: offer to undo it from the next run on."""
    st.session_state[_LAST] = {"store": store, "batch": batch, "fresh": True}


def withdraw(store: str) -> None:
    """Drop the offer of a delete in ``store``: after an erasure there, what it names may be the erased person's."""
    last = st.session_state.get(_LAST)
    if last and last["store"] == store:
        st.session_state.pop(_LAST, None)


def banner() -> None:
    """Under the message of a delete made just before this run: its Undo button (shown once); then the
    conflicts of an undo that was refused, if any."""
    last = st.session_state.get(_LAST)
    if last and last.pop("fresh", False):
        days = audit.retention_days(context.hub())
        text, button = st.columns([5, 1], vertical_alignment="center")
        text.caption(f"Deleted memories go to the trash: undo now, or restore them from the Trash page for {days} "
                     "days.")
        button.button("Undo", key="undo_banner", type="primary", icon=":material/undo:", on_click=_undo)
    revert_flow.show_conflicts()


def sidebar() -> None:
    """Undo / dismiss the session's last delete, on every page until one of them is clicked, or until every
    memory it deleted was restored some other way (the Trash page, the Audit log, another operator)."""
    last = st.session_state.get(_LAST)
    if not last:
        return
    try:
        left, total = _still_deleted(last)
    except MemdashError:
        left, total = 1, 1  # the audit log cannot be read now: keep the offer, Undo will say why
    if left == 0:
        st.session_state.pop(_LAST, None)
        return
    box = st.sidebar.container(border=True)
    restored = f" ({total - left:,} of {total:,} restored since)" if left < total else ""
    more = f" and {total - 1:,} more" if total > 1 else ""
    what = f"“{escape_markdown(truncate(last.get('what', ''), 60))}”{more}"
    box.caption(f"Last delete: {what}, in store '{escape_markdown(last['store'])}'{restored}")
    undo, dismiss = box.columns(2)
    undo.button("Undo", key="undo_sidebar", icon=":material/undo:", on_click=_undo)
    dismiss.button("Dismiss", key="undo_dismiss", on_click=lambda: st.session_state.pop(_LAST, None))


def _still_deleted(last: dict[str, Any]) -> tuple[int, int]:
    """How many of the delete's memories are not restored yet, of how many it deleted."""
    hub = context.hub()
    if "seqs" not in last:
        entries = revert.batch_entries(hub, last["batch"])
        last["seqs"] = [entry.seq or 0 for entry in entries]
        last["what"] = memory_preview(entries[0]) if entries else ""
    seqs = last["seqs"]
    return len(seqs) - len(audit.reverted_by(hub, seqs)), len(seqs)


def _undo() -> None:
    last = st.session_state.pop(_LAST, None)
    if not last:
        return
    try:
        entries = revert.batch_entries(context.hub(), last["batch"])
    except MemdashError as exc:
        flash(f"Nothing was restored: {escape_markdown(exc)}", "error")
        return
    revert_flow.run(entries, action="restore")
