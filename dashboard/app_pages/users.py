"""Users: who has memories in the store, how many and when they last changed; find one by id prefix."""

import pandas as pd
import streamlit as st

from dashboard import context
from dashboard.components import erase, nav, page
from dashboard.components.pager import PAGE_SIZES, Pager, page_size
from dashboard.components.url import param, set_params, sync_from_url
from dashboard.services import memories
from dashboard.text import count_of, escape_markdown
from memory_core import identity
from memory_core.access import Role
from memory_core.errors import MemdashError
from memory_core.interfaces import Capability
from memory_core.records import MemoryFilter, UserSummary


def _controls() -> tuple[str, int]:
    """Prefix and page size, bound to ``?prefix=`` and ``?size=``."""
    size = page_size(default=PAGE_SIZES[1])
    sync_from_url("users", {"users_prefix": param("prefix"), "users_size": size})
    left, right, _ = st.columns([2, 1, 3])
    left.text_input("User id starts with", key="users_prefix",
                    on_change=lambda: set_params({"prefix": st.session_state.users_prefix}))
    right.selectbox("Users per page", PAGE_SIZES, key="users_size",
                    on_change=lambda: set_params({"size": str(st.session_state.users_size)}))
    return param("prefix"), size


def _users_table(users: list[UserSummary], labels: dict[str, str], key: str) -> UserSummary | None:
    frame = pd.DataFrame([{"user_id": u.user_id, "label": labels.get(u.user_id, ""), "memories": u.memory_count,
                           "last_activity": u.last_activity} for u in users],
                         columns=["user_id", "label", "memories", "last_activity"])
    event = st.dataframe(frame, key=key, on_select="rerun", selection_mode="single-row", hide_index=True,
                         column_config={"last_activity": st.column_config.DatetimeColumn(
                             "last activity", format="YYYY-MM-DD HH:mm")})
    rows = event.selection.rows if event else []
    return users[rows[0]] if rows and rows[0] < len(users) else None


def _user_links(store: str, user_id: str) -> None:
    name = escape_markdown(user_id)
    params = {"store": store, "user": user_id}
    cols = st.columns(3)
    cols[0].page_link(nav.BROWSE.link, label=f"Browse {name}'s memories", query_params=params,
                      icon=":material/table_rows:")
    cols[1].page_link(nav.SEARCH.link, label=f"Search {name}'s memories", query_params=params,
                      icon=":material/search:")
    cols[2].page_link(nav.ADD.link, label=f"Add a memory for {name}", query_params=params,
                      icon=":material/add:")


def _label_form(store: str, user_id: str, current: str) -> None:
    """A display label for the chosen user: memdash's own (in the audit log), never written into the store."""
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.text_input("Label (shown next to the id; kept by memdash, not in the store)", value=current,
                    key=f"users_label_{user_id}", max_chars=80)
    right.button("Save label", key="users_label_save", on_click=_save_label, args=(store, user_id),
                 disabled=context.actor().role_for(store) < Role.EDITOR)


def _save_label(store: str, user_id: str) -> None:
    try:
        memories.label_user(context.hub(), context.actor(), store, user_id,
                            st.session_state[f"users_label_{user_id}"])
    except MemdashError as exc:
        page.flash(f"Label not saved: {escape_markdown(exc)}", "error")
        return
    page.flash("Label saved.")


def _find_toolkit_user(store: str) -> None:
    """An identity typed as the operator knows it, resolved to the user id the toolkit stores it under."""
    with st.expander("Find a toolkit user by e-mail, sub, username or API key", icon=":material/badge:"):
        typed = st.text_input("Identity", key="users_identity", type="password",
                              placeholder="jane@example.com, a JWT sub, an API key, or username:password")
        st.caption("`nat serve` stores each user under a UUID derived from their identity; nothing typed here is "
                   "kept or sent anywhere.")
        for derived in identity.readings(typed):
            count = memories.count_memories(context.hub(), store, MemoryFilter(user_id=derived.user_id))
            st.text(f"As {derived.reading}: user {derived.user_id} · {count_of(count, 'memory', 'memories')}")
            if count:
                _user_links(store, derived.user_id)


st.title("Users")
store = page.store_or_stop()
page.show_flash()
hub = context.hub()
prefix, size = _controls()
chosen = None
with page.reported():
    pager = Pager("users_pager", {"store": store, "prefix": prefix, "size": size})
    result = memories.list_users(hub, store, prefix=prefix, limit=size, cursor=pager.cursor)
    if not result.users:
        st.info(f"No user id starts with '{escape_markdown(prefix)}'." if prefix
                else f"Store '{escape_markdown(store)}' has no users yet: it is empty.")
    else:
        labels = memories.user_labels(hub, store)
        chosen = _users_table(result.users, labels, key=f"users_table_{pager.page_id}")
        if chosen:
            _user_links(store, chosen.user_id)
            _label_form(store, chosen.user_id, labels.get(chosen.user_id, ""))
        else:
            st.caption("Select a user to browse, search or add memories.")
    pager.controls(result.next_cursor, note=f" · {count_of(len(result.users), 'user')} on this page")
    if hub.can(store, Capability.COUNT):
        _find_toolkit_user(store)
erase.erase_panel(store, chosen.user_id if chosen else None)
