"""As of a date: one user's memories as they were at a moment, reconstructed from the audit log (what the agent
knew about them then), in a table that opens each memory, and as a JSONL download. ``?user=&at=`` (ISO)."""

import datetime as dt
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import context
from dashboard.components import page
from dashboard.components.memory_table import memory_table
from dashboard.components.times import local_time, local_zone
from dashboard.components.url import param, set_params, sync_from_url
from dashboard.services import history, memories
from dashboard.services.filters import when_param
from dashboard.text import count_of, escape_markdown
from memory_core.transfer import dump_jsonl_line


def _form() -> None:
    """User, local date and time; Show writes ``?user=&at=`` (UTC)."""
    zone = ZoneInfo(local_zone())
    at = when_param("at", param("at")) or dt.datetime.now(dt.UTC)
    shown = at.astimezone(zone)
    sync_from_url("as_of", {"as_of_user": param("user"), "as_of_day": shown.date(),
                            "as_of_time": shown.time().replace(second=0, microsecond=0)})
    with st.form("as_of_form", border=True):
        user, day, time = st.columns([2, 1, 1])
        user.text_input("User id", key="as_of_user")
        day.date_input("Date", key="as_of_day", format="YYYY-MM-DD")
        time.time_input(f"Time ({local_zone()})", key="as_of_time", step=60)
        st.form_submit_button("Show", type="primary", icon=":material/history:", on_click=_show, args=(zone,))


def _show(zone: ZoneInfo) -> None:
    s = st.session_state
    when = dt.datetime.combine(s.as_of_day, s.as_of_time, tzinfo=zone).astimezone(dt.UTC)
    set_params({"user": s.as_of_user.strip(), "at": when.strftime("%Y-%m-%dT%H:%M:%SZ")})  # no "+" in a URL


def _result(store: str, user: str, when: dt.datetime) -> None:
    hub = context.hub()
    found = history.user_as_of(hub, store, user, when)
    st.caption(f"{count_of(len(found.records), 'memory', 'memories')} of {escape_markdown(user)} as they were at "
               f"{local_time(when)}; {count_of(found.undone, 'audited change')} made since undone.")
    if found.unknown:
        st.warning(f"{count_of(len(found.unknown), 'memory', 'memories')} changed since outside memdash's audit log "
                   "(written by the agent's own toolkit, say): shown as they are now.", icon=":material/help:")
    if found.log_starts is None or when < found.log_starts:
        since = f"starts {local_time(found.log_starts)}" if found.log_starts else "has no changes of this store yet"
        st.warning(f"The audit log {since}: memories deleted outside it before then are not known, and those "
                   "written before it are shown from their timestamps.", icon=":material/help:")
    if not found.records:
        st.info("No memories then. Try a later moment, or check the user id on the Users page.")
        return
    memory_table(found.records, key="as_of_table", store=store, labels=memories.user_labels(hub, store))
    stamp = when.strftime("%Y%m%dT%H%MZ")
    st.download_button("Download as JSONL", "".join(dump_jsonl_line(r) for r in found.records),
                       file_name=f"{user}-as-of-{stamp}.jsonl", mime="application/x-ndjson",
                       icon=":material/download:", key="as_of_download")


st.title("Memories as of a date")
store = page.store_or_stop()
st.caption("What the agent knew about a person at a moment: today's memories with every audited change made since "
           "undone.")
with page.reported():
    _form()
    if param("user") and param("at"):
        _result(store, param("user"), when_param("at", param("at")) or dt.datetime.now(dt.UTC))
