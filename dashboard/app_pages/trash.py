"""Trash (``?store=&user=``): memories deleted through memdash within the retention period and not restored
since, read from the audit log's before-states (there is no second copy), with Restore."""

import pandas as pd
import streamlit as st

from dashboard import context
from dashboard.components import page, revert_flow
from dashboard.components.audit_view import entry_link, memory_preview
from dashboard.components.pager import PAGE_SIZES, Pager, page_size
from dashboard.components.times import datetime_column
from dashboard.components.url import param, set_params, sync_from_url
from dashboard.services import audit, life, memories
from dashboard.text import count_of, escape_markdown, user_shown
from memory_core.access import Role
from memory_core.audit import AuditEntry
from memory_core.errors import MemdashError
from memory_core.interfaces import Capability


def _user_filter() -> str:
    sync_from_url("trash", {"trash_user": param("user")})
    left, _ = st.columns([2, 4])
    left.text_input("User id", key="trash_user", placeholder="every user",
                    on_change=lambda: set_params({"user": st.session_state.trash_user.strip()}))
    return param("user")


def _table(entries: list[AuditEntry], key: str, labels: dict[str, str]) -> list[AuditEntry]:
    frame = pd.DataFrame([{"deleted_at": e.at, "by": e.actor, "user_id": user_shown(e.user_id, labels),
                           "memory": memory_preview(e),
                           "memory_id": e.memory_id, "entry": e.seq} for e in entries],
                         columns=["deleted_at", "by", "user_id", "memory", "memory_id", "entry"])
    event = st.dataframe(frame, key=key, on_select="rerun", selection_mode="multi-row", hide_index=True,
                         column_config={"deleted_at": datetime_column("deleted"),
                             "memory": st.column_config.TextColumn("memory", width="large")})
    rows = event.selection.rows if event else []
    return [entries[i] for i in rows if i < len(entries)]


def _restore_button(store: str, selected: list[AuditEntry]) -> None:
    allowed = context.actor().role_for(store) >= Role.EDITOR
    label = f"Restore {count_of(len(selected), 'memory', 'memories')}" if selected else "Restore selected"
    st.button(label, key="trash_restore", type="primary", icon=":material/restore_from_trash:",
              disabled=not selected or not allowed, on_click=revert_flow.run, args=(selected,),
              kwargs={"action": "restore"})
    if not allowed:
        st.caption("Your role can see the trash, not restore memories.")
    for entry in selected[:5]:
        entry_link(entry.seq or 0, f"Audit entry {entry.seq} (the delete)")


def _sweep(store: str) -> None:
    """Move the memories whose expiry time is past here (admins: it is a bulk delete)."""
    if not context.hub().can(store, Capability.EXPIRE) or context.actor().role_for(store) < Role.ADMIN:
        return
    st.button("Move expired memories here", key="trash_sweep", icon=":material/event_busy:", on_click=_swept,
              args=(store,), help="Memories whose expiry time is past: the agent no longer gets them; this moves "
                                  "them to the trash, restorable like any delete (memdash expire does the same).")


def _swept(store: str) -> None:
    try:
        moved = life.sweep_expired(context.hub(), context.actor(), store)
    except MemdashError as exc:
        page.flash(f"Nothing was moved: {escape_markdown(exc)}", "error")
        return
    page.flash(f"Moved {count_of(moved, 'expired memory', 'expired memories')} to the trash." if moved
               else "No memory has expired.", "success" if moved else "info")


st.title("Trash")
store = page.store_or_stop()
hub = context.hub()
page.show_flash()
revert_flow.show_conflicts()
st.caption(f"Memories deleted from store '{escape_markdown(store)}' through memdash in the last "
           f"{audit.retention_days(hub)} days (memdash.trash.retention_days) and not restored since. Older deletes "
           "stay in the audit log but are no longer offered here.")
user = _user_filter()
with page.reported():
    size = page_size(default=PAGE_SIZES[1])
    pager = Pager("trash_pager", {"store": store, "user": user, "size": size})
    result = audit.trash_page(hub, store, user_id=user or None, limit=size, cursor=pager.cursor)
    if not result.entries:
        st.info("The trash is empty." if pager.number == 1 else "No more deleted memories.")
        selected = []
    else:
        selected = _table(result.entries, key=f"trash_table_{pager.page_id}",
                          labels=memories.user_labels(hub, store))
    _restore_button(store, selected)
    pager.controls(result.next_cursor)
    _sweep(store)
