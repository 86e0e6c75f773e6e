"""The review queue's last scan in this session: the Review page's findings, and the count Analytics shows."""

from __future__ import annotations

import streamlit as st

from memory_core.review import Finding

KEY = "review_findings"


def remembered(store: str, found: list[Finding]) -> None:
    st.session_state[KEY] = (store, found)


def of(store: str) -> list[Finding] | None:
    """The findings of this store's last scan not yet approved, redacted or deleted; None before a scan."""
    scanned, found = st.session_state.get(KEY, (None, []))
    return found if scanned == store else None


def drop(memory_id: str) -> None:
    """Take the findings of a memory that was approved, redacted or deleted off the list."""
    stored, found = st.session_state[KEY]
    st.session_state[KEY] = (stored, [f for f in found if memory_id not in (f.record_id, f.other_id)])
