"""Stores: every configured store with its type, health, capabilities and counts; admins also see each store's
settings (secrets masked) and may open another config file."""

import streamlit as st

from dashboard import context, services
from dashboard.components import page
from dashboard.components.text import count_of, escape_markdown
from memory_core.access import Role

st.title("Stores")
hub = context.hub()
admin = context.actor().role >= Role.ADMIN

with st.expander("Config file", expanded=hub.config is None):
    st.caption(f"Loaded: {escape_markdown(hub.config_path or 'none')}")
    path = st.text_input("Open another config file", value=hub.config_path or "", key="config_input",
                         disabled=not admin)
    if st.button("Load", key="load_config", disabled=not admin) and path:
        with page.reported():
            st.session_state["config_path"] = services.choose_config(context.actor(), path)
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

statuses = services.store_statuses(hub)
with st.container(border=True):
    st.subheader("Audit log", anchor=False)
    with page.reported():
        safety = services.safety_status(hub)
        st.text(f"file: {safety.path}")
        st.caption(f"{count_of(safety.entries, 'entry', 'entries')} · deleted memories stay restorable from the "
                   f"Trash page for {safety.retention_days} days · set in memdash.audit.path (relative to the config "
                   "file)")
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
            left.page_link("app_pages/browse.py", label="Browse", icon=":material/table_rows:",
                           query_params={"store": status.name})
        else:
            right.error(f"unavailable: {escape_markdown(status.error)}", icon=":material/error:")
        if status.memories is not None:
            right.metric("Memories", f"{status.memories:,}")
        left.caption("Can: " + (services.can_words(status.capabilities) if status.capabilities
                                else "add, search and remove only (toolkit interface)"))
        for note in status.notes:
            left.warning(escape_markdown(note), icon=":material/info:")
        if admin:
            with left.expander("Settings (secrets masked)"):
                st.json(services.store_settings(hub, status.name), expanded=True)
