"""Analytics: memories per user, top tags, growth over time and the largest memories, computed by the store."""

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import context
from dashboard.components import findings, nav, page
from dashboard.components.memory_table import memory_link
from dashboard.components.times import datetime_column
from dashboard.services import insights
from dashboard.services.insights import StoreStatistics
from dashboard.text import escape_markdown
from memory_core.interfaces import Capability
from memory_core.stats import Bucket

_COUNT_AXIS = alt.Axis(format="d", tickMinStep=1)  # counts: no 0.2-memory ticks
RECENT_DAYS = 7


def _headline(store: str, stats: StoreStatistics) -> None:
    """The numbers a reader looks for first, from the same aggregates as the charts."""
    users = sum(b.users for b in stats.histogram)
    memories = sum(p.created for p in stats.growth)
    recent = insights.added_since(context.hub(), store, RECENT_DAYS)
    flagged = findings.of(store)
    cols = st.columns(4)
    cols[0].metric("Memories", f"{memories:,}", help=f"{memories / users:,.1f} per user on average" if users else None)
    cols[1].metric("Users", f"{users:,}")
    cols[2].metric(f"Added in the last {RECENT_DAYS} days", "–" if recent is None else f"{recent:,}",
                   help="this store cannot count memories by date" if recent is None else None)
    cols[3].metric("Flagged in review", "not scanned" if flagged is None else f"{len(flagged):,}",
                   help="scan on the Review page to count them" if flagged is None else
                   "findings of the Review page's last scan in this session that nobody has handled yet")
    if recent:
        since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=RECENT_DAYS)).strftime("%Y-%m-%dT%H:%M")
        st.page_link(nav.BROWSE.link, label=f"Browse the memories added in the last {RECENT_DAYS} days",
                     icon=":material/schedule:", query_params={"store": store, "created_from": since})


def _histogram(stats: StoreStatistics) -> None:
    st.subheader("Memories per user")
    frame = pd.DataFrame([{"memories": f"{b.low}–{b.high}" if b.high > b.low else str(b.low), "low": b.low,
                           "users": b.users} for b in stats.histogram])
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("memories:N", sort=alt.SortField("low"), title="memories per user", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("users:Q", title="users", axis=_COUNT_AXIS), tooltip=["memories", "users"])
    st.altair_chart(chart, width="stretch")


def _tags(stats: StoreStatistics) -> None:
    st.subheader("Top tags")
    if not stats.tags:
        st.caption("No memory has a tag.")
        return
    frame = pd.DataFrame([t.model_dump() for t in stats.tags])
    chart = alt.Chart(frame).mark_bar().encode(x=alt.X("memories:Q"), y=alt.Y("tag:N", sort="-x"),
                                               tooltip=["tag", "memories"])
    st.altair_chart(chart, width="stretch")


def _growth(stats: StoreStatistics, bucket: Bucket) -> None:
    title, choice = st.columns([3, 2], vertical_alignment="bottom")
    title.subheader(f"Memories created per {bucket}")
    choice.radio("Per", list(Bucket), horizontal=True, key="stats_bucket", format_func=str,
                 label_visibility="collapsed")
    frame = pd.DataFrame([{"start": pd.Timestamp(p.start), "created": p.created} for p in stats.growth])
    chart = alt.Chart(frame).mark_bar().encode(x=alt.X("start:T", title=f"{bucket} starting"),
                                               y=alt.Y("created:Q", axis=_COUNT_AXIS),
                                               tooltip=["start:T", "created"])
    st.altair_chart(chart, width="stretch")


def _largest(store: str, stats: StoreStatistics) -> None:
    st.subheader("Largest memories")
    frame = pd.DataFrame([m.model_dump() for m in stats.largest], columns=["preview", "user_id", "size", "id"])
    event = st.dataframe(frame, key="stats_largest", on_select="rerun", selection_mode="single-row",
                         hide_index=True, column_config={
                             "preview": st.column_config.TextColumn("Memory", width="large"),
                             "user_id": st.column_config.TextColumn("User", width="small"),
                             "size": st.column_config.NumberColumn("Characters", width="small"),
                             "id": st.column_config.TextColumn("Id", width="small")})
    rows = event.selection.rows if event else []
    if rows and rows[0] < len(stats.largest):
        memory_link(store, stats.largest[rows[0]].id, text=stats.largest[rows[0]].preview)
    else:
        st.caption("Select a row to open the memory. Size: characters of the memory and its conversation.")


def _usage(store: str, stats: StoreStatistics) -> None:
    """What the agent's search uses most, and what it never returned (where the store counts retrievals)."""
    if stats.never_retrieved is None or stats.most_used is None:
        st.subheader("Which memories the agent uses")
        st.info("Not available: this store does not record when the agent's search returns a memory.",
                icon=":material/block:")
        return
    left, right = st.columns(2)
    with left:
        st.subheader("Most used by the agent")
        _used_table(store, "stats_most_used", pd.DataFrame(
            [m.model_dump() for m in stats.most_used],
            columns=["preview", "user_id", "retrievals", "last_retrieved", "id"]), stats.most_used)
        _browse_by_use(store, "Browse, most used first", {"sort": "most_used"})
    with right:
        st.subheader("Never retrieved")
        _used_table(store, "stats_never", pd.DataFrame([m.model_dump() for m in stats.never_retrieved],
                                                       columns=["preview", "user_id", "id"]), stats.never_retrieved)
        _browse_by_use(store, "Browse all never retrieved", {"used": "never"})


def _browse_by_use(store: str, label: str, params: dict[str, str]) -> None:
    if context.hub().can(store, Capability.BROWSE_BY_USE):
        st.page_link(nav.BROWSE.link, label=label, query_params={"store": store, **params},
                     icon=":material/manage_search:")


def _used_table(store: str, key: str, frame: pd.DataFrame, rows: list) -> None:
    if frame.empty:
        st.caption("None yet.")
        return
    event = st.dataframe(frame, key=key, on_select="rerun", selection_mode="single-row", hide_index=True,
                         column_config={"preview": st.column_config.TextColumn("Memory", width="large"),
                                        "user_id": st.column_config.TextColumn("User", width="small"),
                                        "retrievals": st.column_config.NumberColumn("Times", width="small"),
                                        "last_retrieved": datetime_column("Last"),
                                        "id": st.column_config.TextColumn("Id", width="small")})
    picked = event.selection.rows if event else []
    if picked and picked[0] < len(rows):
        memory_link(store, rows[picked[0]].id, text=rows[picked[0]].preview)


def _page(store: str) -> None:
    hub = context.hub()
    insights.stats_of(hub, store)  # "cannot compute statistics" before any control
    bucket = Bucket(st.session_state.get("stats_bucket", Bucket.DAY))
    stats = insights.store_statistics(hub, store, bucket=bucket)
    if not stats.histogram:
        st.info(f"Store '{escape_markdown(store)}' is empty: add memories or import a file, then come back.")
        return
    _headline(store, stats)
    left, right = st.columns(2)
    with left:
        _histogram(stats)
    with right:
        _tags(stats)
    _growth(stats, bucket)
    _largest(store, stats)
    _usage(store, stats)


st.title("Analytics")
store = page.store_or_stop()
with page.reported():
    _page(store)
