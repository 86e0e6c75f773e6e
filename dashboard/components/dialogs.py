"""Dialogs opened by ``on_click`` callbacks: the callback stores a payload, the page opens the dialog
while it is set. Callbacks (not ``if st.button(...)``) keep this drivable from AppTest and from a browser."""

from __future__ import annotations

from typing import Any

import streamlit as st

_PREFIX = "_dialog_"


def open_dialog(name: str, **payload: Any) -> None:
    """``on_click`` callback: open dialog ``name`` with ``payload`` on the next run."""
    st.session_state[_PREFIX + name] = payload


def payload(name: str) -> dict[str, Any] | None:
    """The payload of dialog ``name`` while it is open."""
    return st.session_state.get(_PREFIX + name)


def close_dialog(name: str) -> None:
    st.session_state.pop(_PREFIX + name, None)
