"""Playground: chat as a user with an agent that uses the toolkit's memory tools, see each turn's memories,
the user's timeline, and demo snapshots of the store."""

import streamlit as st

from dashboard import context
from dashboard.components import guided_demo, page, revert_flow
from dashboard.components.playground_view import chat_turn, snapshot_panel, timeline_chart
from dashboard.services import memories, playground, timeline
from dashboard.text import escape_markdown
from memory_core.access import PermissionDenied
from memory_core.interfaces import Capability

_TURNS = "playground_turns"


def _user(store: str) -> str:
    hub = context.hub()
    known = [u.user_id for u in memories.list_users(hub, store).users] if hub.can(store, Capability.LIST_USERS) else []
    left, right = st.columns(2)
    picked = left.selectbox("User", known, index=0 if known else None, key="playground_user",
                            placeholder="no users yet")
    typed = right.text_input("…or another user id", key="playground_user_typed")
    return typed.strip() or picked or ""


def _allowed(store: str) -> bool:
    try:
        playground.require_chat(context.hub(), context.actor(), store)
    except PermissionDenied as exc:
        page.show_error(exc)
        return False
    return True


def _chat(store: str, user: str, top_k: int, turns: list[playground.Turn]) -> None:
    typed = st.chat_input(f"Message as {user}", key="playground_input")
    message = guided_demo.scripted_message() or typed
    if not message:
        return
    turn = playground.ChatTurn(context.hub(), context.actor(), store, user, message, top_k=top_k)
    with st.chat_message("user"):
        st.text(message)
    turn.recall()
    turn.check_facts()
    with st.chat_message("assistant"):
        st.write_stream(escape_markdown(chunk) for chunk in turn.reply_chunks(playground.history_messages(turns, user)))
    turns.append(turn.remember())
    st.rerun()


st.title("Playground")
store = page.store_or_stop()
page.show_flash()
revert_flow.show_conflicts()
hub = context.hub()
st.info(escape_markdown(playground.agent(hub).label), icon=":material/smart_toy:")
with page.reported():
    turns = st.session_state.setdefault(_TURNS, {}).setdefault((hub.id, store), [])
    guided_demo.panel(store, turns)
    user = _user(store)
    top_k = st.number_input("Memories retrieved per turn (top_k)", 1, 20, 5, key="playground_top_k")
    with st.container():  # the chat input stays under the turns (at the page's root Streamlit pins it low)
        for number, turn in enumerate(turns, start=1):
            chat_turn(store, turn, number, latest=number == len(turns))
        if user and _allowed(store):
            _chat(store, user, int(top_k), turns)
    if user:
        st.subheader(f"Timeline of {escape_markdown(user)}")
        timeline_chart(timeline.user_timeline(hub, store, user))
    st.subheader("Snapshots")
    snapshot_panel(store)
