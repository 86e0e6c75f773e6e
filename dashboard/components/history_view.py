"""The Memory page's account of a memory's life: where it came from (its provenance), how often the agent used
it, pause and expiry for the agent, and each version the audit log recorded, newest first, with its diff, who
made it and when, and a button to restore an earlier one (an audited edit, refused if the memory changed
meanwhile)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboard import context
from dashboard.components import nav
from dashboard.components.audit_view import diff_view, entry_link
from dashboard.components.page import flash
from dashboard.components.times import datetime_column, local_time, local_zone
from dashboard.services import filters, history, insights
from dashboard.services import life as services_life
from dashboard.services.history import Version
from dashboard.text import count_of, escape_markdown
from memory_core import life as memory_life
from memory_core import provenance
from memory_core.errors import MemdashError, VersionConflictError
from memory_core.interfaces import Capability
from memory_core.records import MemoryFilter, MemoryRecord

WHAT = {"add": "added", "update": "edited", "revert": "reverted", "delete": "deleted", "erase": "erased",
        "vector": "given a vector"}


def history_panel(store: str, record: MemoryRecord, *, editable: bool) -> None:
    """Every recorded version of ``record`` (as shown on this run), newest first."""
    found = history.memory_history(context.hub(), store, record.id)
    st.subheader("History", anchor=False)
    if not found.complete:
        st.caption(f"This memory was written before the audit log recorded it: created "
                   f"{local_time(record.created_at)}, last changed {local_time(record.updated_at)}. Versions "
                   "before the first one below are not known.")
    for version in reversed(found.versions):
        _version(store, record, version, editable=editable)


def _version(store: str, record: MemoryRecord, version: Version, *, editable: bool) -> None:
    entry = version.entry
    now = " (now)" if version.number == record.version else ""
    made = (f"{WHAT.get(entry.operation, entry.operation)} by {escape_markdown(entry.actor)}, {local_time(entry.at)}"
            if entry else "written before the audit log")
    with st.expander(f"Version {version.number}{now}: {made}", icon=":material/history:"):
        diff_view(version.previous, version.state, "before", f"version {version.number}")
        if entry and entry.seq is not None:
            entry_link(entry.seq, "This change in the audit log (revert it there)")
        if editable and not history.same_content(version.state, record):
            st.button(f"Restore version {version.number}", key=f"history_restore_{entry.seq if entry else 0}",
                      icon=":material/restore:", on_click=_restore, args=(store, record, version))


def _restore(store: str, record: MemoryRecord, version: Version) -> None:
    try:
        after = history.restore_version(context.hub(), context.actor(), store, record, version)
    except VersionConflictError as exc:
        now = f"now version {exc.current.version}" if exc.current else "it was deleted"
        flash(f"Not restored: this memory changed since you opened it ({now}). Nothing was overwritten; look at "
              "the history again.", "error")
        return
    except MemdashError as exc:
        flash(f"Not restored: {escape_markdown(exc)}", "error")
        return
    st.session_state.pop("detail_base", None)  # the editors load the restored text
    flash(f"Restored version {version.number}: the memory is now version {after.version}.")


def origin(store: str, record: MemoryRecord) -> None:
    """Where the memory came from (its provenance keys), with a link to the other memories of its conversation."""
    meta = record.item.metadata
    conversation, function, written = (meta.get(key) for key in (provenance.CONVERSATION, provenance.FUNCTION,
                                                                   provenance.WRITTEN_AT))
    if not (conversation or function):
        return
    parts = [f"conversation {conversation}" if conversation else "",
             f"written by {function}" if function else "", _when(written)]
    st.caption(escape_markdown("Came from " + ", ".join(p for p in parts if p) + "."))
    if isinstance(conversation, str | int | float) and conversation:
        flt = MemoryFilter(user_id=record.item.user_id, metadata={provenance.CONVERSATION: conversation})
        st.page_link(nav.BROWSE.link, label="Other memories from this conversation", icon=":material/forum:",
                     query_params={"store": store, **filters.filter_to_params(flt)})


def usage(store: str, record: MemoryRecord) -> None:
    """How often the agent's search returned the memory, where the store counts it."""
    hub = context.hub()
    if not hub.can(store, Capability.RETRIEVALS):
        return
    used = insights.usage_of(hub, store, record.id)
    st.caption("Never returned by the agent's search yet." if used is None else
               f"Used by the agent {count_of(used.retrievals, 'time')}, last on {local_time(used.last_retrieved)}.")
    logged = insights.retrievals_of(hub, store, record.id)
    if logged:
        with st.expander(f"The agent's last {count_of(len(logged), 'retrieval')}", icon=":material/manage_search:"):
            st.dataframe(pd.DataFrame([{"at": r.at, "rank": r.rank, "query": r.query or f"#{r.query_hash}"}
                                       for r in logged]), hide_index=True,
                         column_config={"at": datetime_column("When", seconds=True),
                                        "rank": st.column_config.NumberColumn("Rank"),
                                        "query": st.column_config.TextColumn("Query (or its hash)", width="large")})


def _when(raw: object) -> str:
    try:
        return f"at {local_time(dt.datetime.fromisoformat(str(raw)))}" if raw else ""
    except ValueError:
        return f"at {raw}"


def life_panel(store: str, record: MemoryRecord, *, editable: bool) -> None:
    """Whether the agent gets this memory (paused, expiring, expired), and the controls to change it."""
    hub = context.hub()
    pausable = hub.can(store, Capability.PAUSE)
    if not pausable and not hub.can(store, Capability.EXPIRE):
        return
    when, now = memory_life.expires_at(record.item), dt.datetime.now(dt.UTC)
    if memory_life.is_paused(record.item):
        st.warning("Paused: the agent's search does not return this memory until it is resumed.",
                   icon=":material/pause_circle:")
    if when is not None:
        said = "Expired" if when <= now else "Expires"
        st.caption(f"{said} {local_time(when)}" + (": the agent no longer gets it." if when <= now else "."))
    if not editable:
        return
    with st.container(horizontal=True):
        if pausable:
            _pause_button(store, record)
        with st.popover("Expiry", icon=":material/event_busy:"):
            day = st.date_input("Expires on", key="life_day", value=None, format="YYYY-MM-DD",
                                min_value=now.date())
            st.button("Set", key="life_set", disabled=day is None, on_click=_expire, args=(store, record, day))
            if when is not None:
                st.button("Remove the expiry", key="life_clear", on_click=_change, args=(store, lambda: (
                    services_life.set_expiry(context.hub(), context.actor(), store, record, None)), "Expiry removed"))


def _pause_button(store: str, record: MemoryRecord) -> None:
    paused = memory_life.is_paused(record.item)
    st.button("Resume for the agent" if paused else "Pause for the agent", key="life_pause",
              icon=":material/play_circle:" if paused else ":material/pause_circle:",
              on_click=_change, args=(store, lambda: services_life.set_paused(
                  context.hub(), context.actor(), store, record, not paused), "Resumed" if paused else "Paused"))


def _expire(store: str, record: MemoryRecord, day: dt.date | None) -> None:
    if day is None:
        return
    when = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(local_zone()))
    _change(store, lambda: services_life.set_expiry(context.hub(), context.actor(), store, record, when),
            f"Expires {local_time(when)}")


def _change(store: str, change: Callable[[], MemoryRecord], done: str) -> None:
    try:
        after = change()
    except VersionConflictError:
        flash("Nothing changed: this memory changed since you opened it. Look at it again.", "error")
        return
    except MemdashError as exc:
        flash(f"Nothing changed: {escape_markdown(exc)}", "error")
        return
    st.session_state.pop("detail_base", None)  # the editors show the new metadata
    flash(f"{escape_markdown(done)}: the memory is now version {after.version} (audited).")
