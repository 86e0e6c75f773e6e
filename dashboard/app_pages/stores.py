"""Stores: every configured store with its type, health, capabilities and counts; admins also see each store's
settings (secrets masked) and may open another config file."""

import streamlit as st

from dashboard import context
from dashboard.components import nav, page
from dashboard.components.memory_table import memory_link
from dashboard.services import catalog
from dashboard.text import count_of, escape_markdown
from memory_core.access import Role
from memory_core.interfaces import Capability


def agent_reach(store: str, admin: bool) -> None:
    """Count the memories the agent's own search cannot find; admins give them vectors."""
    st.caption("The agent searches this store by its own path (KNN on the toolkit's vector index): a memory "
               "without a vector of that index's dimension is never returned to it, whatever its text.")
    key = f"reach_{store}"
    if st.button("Count what the agent cannot find", key=f"{key}_count"):
        with page.reported():
            st.session_state[key] = catalog.agent_reach(context.hub(), store)
    if done := st.session_state.pop(f"{key}_done", None):
        st.success(done, icon=":material/check_circle:")
    reach = st.session_state.get(key)
    if reach is None:
        return
    if not reach.unfindable:
        st.success(f"The agent's search can find all {count_of(reach.total, 'memory', 'memories')}.",
                   icon=":material/check_circle:")
        return
    why = "; ".join(f"{escape_markdown(reason)}: {n:,}" for reason, n in reach.reasons.items())
    st.warning(f"The agent's search cannot find {reach.unfindable:,} of {count_of(reach.total, 'memory', 'memories')} "
               f"({why}).", icon=":material/visibility_off:")
    for example in reach.examples[:5]:
        memory_link(store, example.record_id)
    if not reach.repairable:
        st.caption("Configure the embedder the agent uses on this store (`embedder:` in its config) to give them "
                   "vectors from here.")
    elif st.button("Give them vectors…", key=f"{key}_repair", disabled=not admin,
                   help=None if admin else "Only an admin can do this."):
        with page.reported():
            bar = st.progress(0.0, "Giving vectors…")
            given = catalog.give_missing_vectors(context.hub(), context.actor(), store,
                                          progress=lambda done, total: bar.progress(done / total))
            st.session_state[key] = catalog.agent_reach(context.hub(), store)
            st.session_state[f"{key}_done"] = (f"Gave {count_of(given, 'memory', 'memories')} a vector (in the "
                                               "audit log): the agent's search can find them now.")
            st.rerun()


st.title("Stores")
hub = context.hub()
admin = context.actor().role >= Role.ADMIN

with st.expander("Config file", expanded=hub.config is None):
    st.caption(f"Loaded: {escape_markdown(hub.config_path or 'none')}")
    path = st.text_input("Open another config file", value=hub.config_path or "", key="config_input",
                         disabled=not admin)
    if st.button("Load", key="load_config", disabled=not admin) and path:
        with page.reported():
            st.session_state["config_path"] = catalog.choose_config(context.actor(), path)
            st.rerun()
    if not admin:
        st.caption("Only an admin can open another config file.")

if hub.config_error:
    st.error(f"Config error: {escape_markdown(hub.config_error)}", icon=":material/error:")
    st.stop()
for warning in hub.config.warnings if hub.config else []:
    st.warning(escape_markdown(warning))
if not hub.store_names:
    st.info("This config has no `memory:` section: add a store, e.g. `memory: {demo: {_type: sqlite, path: demo.db}}`.")
    st.stop()

statuses = catalog.store_statuses(hub)
with st.container(border=True):
    st.subheader("Audit log", anchor=False)
    with page.reported():
        safety = catalog.safety_status(hub)
        st.text(f"{'PostgreSQL' if safety.shared else 'file'}: {safety.path}")
        where = ("memdash.state (shared by every memdash process of this config)" if safety.shared
                 else "memdash.audit.path (relative to the config file)")
        st.caption(f"{count_of(safety.entries, 'entry', 'entries')} · deleted memories stay restorable from the "
                   f"Trash page for {safety.retention_days} days · set in {where}")
        if safety.entries == 0 and any(s.memories for s in statuses):
            st.warning("This audit log is empty although the stores hold memories: changes made before it was "
                       "created, or recorded in another audit log, are not in it. If this config was copied from "
                       "elsewhere, check that memdash.audit.path points at the log that belongs to these stores.",
                       icon=":material/warning:")

for status in statuses:
    with st.container(border=True):
        left, right = st.columns([3, 2])
        left.subheader(escape_markdown(status.name), anchor=False)
        left.text(f"_type: {status.type}")
        if status.ok:
            right.success("healthy", icon=":material/check_circle:")
            left.page_link(nav.BROWSE.link, label="Browse", icon=":material/table_rows:",
                           query_params={"store": status.name})
        else:
            right.error(f"unavailable: {escape_markdown(status.error)}", icon=":material/error:")
        if status.memories is not None:
            right.metric("Memories", f"{status.memories:,}")
        left.caption("Can: " + (catalog.can_words(status.capabilities) if status.capabilities
                                else "add, search and remove only (toolkit interface)"))
        for note in status.notes:
            left.warning(escape_markdown(note), icon=":material/info:")
        if status.ok and Capability.REACH in status.capabilities:
            with left.expander("What the agent's search can find"):
                agent_reach(status.name, admin)
        if admin:
            with left.expander("Settings (secrets masked)"):
                st.json(catalog.store_settings(hub, status.name), expanded=True)
