"""The Playground's pieces: a chat turn with its memory trace inside it, the user timeline chart and the snapshot
panel.

User text (messages, replies, memories) is shown with ``st.text`` or in tables and charts, never as markdown.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import context
from dashboard.components import page, revert_flow
from dashboard.components.memory_table import memory_link
from dashboard.components.times import datetime_column
from dashboard.services import playground, revert, snapshots
from dashboard.services.playground import Contradiction, Outcome, Turn
from dashboard.services.timeline import TimelineEvent
from dashboard.text import count_of, escape_markdown, truncate
from memory_core.errors import MemdashError
from memory_core.items import item_text

COLORS = alt.Scale(domain=["added", "edited", "deleted"], range=["#2e7d32", "#f9a825", "#c62828"])


def chat_turn(store: str, turn: Turn, number: int, *, latest: bool = False) -> None:
    """One exchange: the user's message, then the reply with the turn's own memory trace under it (open for the
    latest turn and while a contradiction waits for the operator)."""
    with st.chat_message("user"):
        st.text(turn.message)
    with st.chat_message("assistant"):
        st.text(turn.reply)
        pending = any(c.proposed and c.outcome is Outcome.PENDING for c in turn.contradictions)
        memory_trace(store, turn, number, expanded=latest or pending)


def _score(score: float | None) -> str:
    return "—" if score is None else f"{score:.3f}"


def trace_label(turn: Turn, number: int) -> str:
    parts = [f"{len(turn.retrieved):,} recalled", f"{len(turn.written):,} remembered"]
    if turn.contradictions:
        parts.append(count_of(len(turn.contradictions), "contradiction"))
    return f"Memory trace of turn {number}: {', '.join(parts)}"


def memory_trace(store: str, turn: Turn, number: int, *, expanded: bool = False) -> None:
    """What the turn recalled (with scores), remembered (with tags) and found contradicting a stored memory, each
    memory with a link to its Memory page; a contradiction offers to replace the old memory."""
    with st.expander(trace_label(turn, number), expanded=expanded, icon=":material/memory:"):
        st.caption(escape_markdown(turn.agent))
        if turn.fallback:
            st.warning(f"The LLM failed, the offline agent answered: {escape_markdown(turn.fallback)}")
        for index, found in enumerate(turn.contradictions):
            contradiction(store, turn, index, found)
        st.markdown(f"**Recalled** ({count_of(len(turn.retrieved), 'memory', 'memories')}, best first)")
        for hit in turn.retrieved:
            st.text(f"{_score(hit.score)}  {truncate(hit.item.memory, 160)}")
            if hit.id:
                memory_link(store, hit.id, text=item_text(hit.item))
        for fact in turn.known:
            st.text(f"= {truncate(fact, 160)}  (already remembered: not stored twice)")
        st.markdown(f"**Remembered** ({count_of(len(turn.written), 'memory', 'memories')})")
        for written in turn.written:
            st.text(f"+ {truncate(written.item.memory, 160)}  [{', '.join(written.item.tags)}]")
            if written.id:
                memory_link(store, written.id, text=item_text(written.item))
            else:
                st.caption("the store chose its id and did not say which")


def contradiction(store: str, turn: Turn, index: int, found: Contradiction) -> None:
    """The pair, the rule, and the agent's proposal: update the old memory to the new fact (an audited edit, with
    Undo), or keep both; nothing changes without the click."""
    with st.container(border=True):
        title = "Proposed edit" if found.proposed else "Contradicts a stored memory"
        st.markdown(f":material/edit_note: **{title}** ({escape_markdown(found.rule)})")
        st.text(f"old  {truncate(item_text(found.old.item), 160)}")
        st.text(f"new  {truncate(found.revised if found.proposed else found.fact, 160)}")
        if not found.proposed:
            st.caption("Both are kept. This store does not say which memory the old one is; find it on the Search "
                       "page.")
            return
        memory_link(store, found.old.id or "", text=item_text(found.old.item))
        key = f"playground_{turn.id}_{index}"
        if found.outcome is Outcome.UPDATED:
            st.caption("Updated: the old memory now says the new fact (audited).")
            st.button("Undo the edit", key=f"{key}_undo", icon=":material/undo:", on_click=_undo, args=(found,))
        elif found.outcome is Outcome.KEPT_BOTH:
            st.caption("Kept both: the new fact was added as a memory of its own.")
        else:
            st.caption("The agent did not add the new fact: it proposes to update the old memory instead.")
            update, keep = st.columns(2)
            update.button("Update the old memory", key=f"{key}_update", type="primary", icon=":material/edit:",
                          on_click=_update, args=(store, found))
            keep.button("Keep both", key=f"{key}_keep", on_click=_keep, args=(store, turn, found),
                        help="Adds the new fact as a memory of its own; the old one stays as it is.")


def _update(store: str, found: Contradiction) -> None:
    try:
        playground.apply_update(context.hub(), context.actor(), store, found)
    except MemdashError as exc:
        page.flash(f"Nothing was changed: {escape_markdown(exc)}", "error")
        return
    page.flash(f"Updated “{escape_markdown(truncate(item_text(found.old.item), 80))}” to "
               f"“{escape_markdown(truncate(found.revised, 80))}”.")


def _keep(store: str, turn: Turn, found: Contradiction) -> None:
    try:
        playground.keep_both(context.hub(), context.actor(), store, turn, found)
    except MemdashError as exc:
        page.flash(f"Nothing was added: {escape_markdown(exc)}", "error")


def _undo(found: Contradiction) -> None:
    if found.batch and revert_flow.run(revert.batch_entries(context.hub(), found.batch), action="undo"):
        playground.undone(found)


def timeline_chart(events: list[TimelineEvent]) -> None:
    if not events:
        st.caption("No memories for this user yet.")
        return
    frame = pd.DataFrame([{"memory": truncate(e.memory, 80), "change": e.kind, "at": e.at, "source": e.source,
                           "id": e.memory_id or ""} for e in events])
    chart = alt.Chart(frame).mark_circle(size=120).encode(
        x=alt.X("at:T", title="time"), y=alt.Y("change:N", title=None, sort=list(COLORS.domain)),
        color=alt.Color("change:N", scale=COLORS, legend=None), tooltip=["at:T", "change", "memory", "id", "source"])
    st.altair_chart(chart, width="stretch")
    st.dataframe(frame, hide_index=True, key="playground_timeline_table",
                 column_config={"at": datetime_column("When", seconds=True)})  # the viewer's time zone


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
                 hide_index=True, key="snapshot_table", column_config={"saved": datetime_column("Saved")})
    chosen = st.selectbox("Snapshot to restore", [s.name for s in found], key="snapshot_choice")
    if st.button("Restore snapshot", key="snapshot_restore", type="primary",
                 help="Deletes every memory of the store (to the trash), then imports the snapshot. Admins only."):
        with page.reported():
            restored = snapshots.restore_snapshot(hub, actor, store, chosen)
            page.flash(f"Snapshot {escape_markdown(chosen)} restored: {count_of(restored, 'memory', 'memories')}.")
            st.rerun()
