"""A memory's conversation as chat messages; content and role names are shown as plain text."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard.text import escape_markdown

_USER_ROLES = frozenset({"user", "human"})


def avatar_for(role: str) -> str:
    """Streamlit's two avatars: ``user`` for user/human turns, ``assistant`` for every other role."""
    return "user" if role.casefold() in _USER_ROLES else "assistant"


def conversation_view(conversation: Sequence[dict[str, str]] | None) -> None:
    if not conversation:
        st.caption("No conversation stored with this memory.")
        return
    for message in conversation:
        role = str(message.get("role", ""))
        with st.chat_message(role or "unknown", avatar=avatar_for(role)):
            st.caption(escape_markdown(role or "(no role)"))
            st.text(str(message.get("content", "")))
