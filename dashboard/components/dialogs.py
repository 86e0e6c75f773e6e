"""Dialogs opened by ``on_click`` callbacks: the callback stores a payload, the page opens the dialog
while it is set. Callbacks (not ``if st.button(...)``) keep this drivable from AppTest and from a browser.
Inside a dialog, anything that closes it must rerun the whole app (:func:`close_button`)."""

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


def close_button(name: str, label: str = "Cancel", *, key: str) -> None:
    """A button inside dialog ``name`` that closes it. A dialog is a fragment: a button in it reruns only
    the dialog, so closing needs a rerun of the whole app."""
    if st.button(label, key=key):
        close_dialog(name)
        st.rerun()
