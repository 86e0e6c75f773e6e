"""The Playground's pieces: a chat turn, its memory trace, the user timeline chart and the snapshot panel.

User text (messages, replies, memories) is shown with ``st.text`` or in tables and charts, never as markdown.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import context
from dashboard.components import page
from dashboard.components.memory_table import memory_link
from dashboard.services import snapshots
from dashboard.services.playground import Turn
from dashboard.services.timeline import TimelineEvent
from dashboard.text import count_of, escape_markdown, truncate
from memory_core.items import item_text

COLORS = alt.Scale(domain=["added", "edited", "deleted"], range=["#2e7d32", "#f9a825", "#c62828"])


def chat_turn(turn: Turn) -> None:
    with st.chat_message("user"):
        st.text(turn.message)
    with st.chat_message("assistant"):
        st.text(turn.reply)


def _score(score: float | None) -> str:
    return "—" if score is None else f"{score:.3f}"


def memory_trace(store: str, turn: Turn, number: int) -> None:
    """What the turn retrieved (with scores) and wrote, each with a link to its Memory page."""
    with st.container(border=True):
        st.caption(f"Turn {number} · {escape_markdown(turn.agent)}")
        if turn.fallback:
            st.warning(f"The LLM failed, the offline agent answered: {escape_markdown(turn.fallback)}")
        st.markdown(f"**Retrieved** ({count_of(len(turn.retrieved), 'memory', 'memories')})")
        for hit in turn.retrieved:
            st.text(f"{_score(hit.score)}  {truncate(hit.item.memory, 160)}")
            if hit.id:
                memory_link(store, hit.id, text=item_text(hit.item))
        st.markdown(f"**Written** ({count_of(len(turn.written), 'memory', 'memories')})")
        for written in turn.written:
            st.text(f"+ {truncate(written.item.memory, 160)}  [{', '.join(written.item.tags)}]")
            if written.id:
                memory_link(store, written.id, text=item_text(written.item))
            else:
                st.caption("the store chose its id and did not say which")


def timeline_chart(events: list[TimelineEvent]) -> None:
    if not events:
        st.caption("No memories for this user yet.")
        return
    frame = pd.DataFrame([{"at": e.at, "change": e.kind, "memory": truncate(e.memory, 80), "id": e.memory_id or "",
                           "source": e.source} for e in events])
    chart = alt.Chart(frame).mark_circle(size=120).encode(
        x=alt.X("at:T", title="time"), y=alt.Y("change:N", title=None, sort=list(COLORS.domain)),
        color=alt.Color("change:N", scale=COLORS, legend=None), tooltip=["at:T", "change", "memory", "id", "source"])
    st.altair_chart(chart, width="stretch")
    st.dataframe(frame, hide_index=True, key="playground_timeline_table")


def snapshot_panel(store: str) -> None:
    """Save the store's state, list the saved states, restore one (delete everything, import the file)."""
    hub, actor = context.hub(), context.actor()
    name = st.text_input("Snapshot name", value=snapshots.default_name(), key="snapshot_name")
    if st.button("Save snapshot", key="snapshot_save"):
        with page.reported():
            saved = snapshots.save_snapshot(hub, actor, store, name.strip())
            page.flash(f"Snapshot {escape_markdown(saved.name)} saved: {count_of(saved.count, 'memory', 'memories')}.")
            st.rerun()
    found = snapshots.list_snapshots(hub, store)
    if not found:
        st.caption("No snapshot of this store yet.")
        return
    st.dataframe(pd.DataFrame([{"name": s.name, "saved": s.at, "memories": s.count} for s in found]),
                 hide_index=True, key="snapshot_table")
    chosen = st.selectbox("Snapshot to restore", [s.name for s in found], key="snapshot_choice")
    if st.button("Restore snapshot", key="snapshot_restore", type="primary",
                 help="Deletes every memory of the store (to the trash), then imports the snapshot. Admins only."):
        with page.reported():
            restored = snapshots.restore_snapshot(hub, actor, store, chosen)
            page.flash(f"Snapshot {escape_markdown(chosen)} restored: {count_of(restored, 'memory', 'memories')}.")
            st.rerun()
