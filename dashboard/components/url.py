"""Widgets bound to ``st.query_params``: the URL is the source of truth, widgets follow it.

When the URL changes under a page (a shared link, the back button) the widgets are reset from it; when
the operator applies a widget, a callback writes the URL.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

import streamlit as st


def param(key: str) -> str:
    """One query parameter ('' when absent)."""
    return st.query_params.get(key, "")


def day_value(raw: str) -> dt.date | None:
    """A date input's value from a URL date or datetime ('2024-05-31', '2024-05-31T10:00'); None when absent or
    not a date (the page's own parser reports a bad one)."""
    try:
        return dt.date.fromisoformat(raw[:10]) if raw else None
    except ValueError:
        return None


def set_params(values: Mapping[str, str | list[str] | None], *, clear: Iterable[str] = ()) -> None:
    """Remove the ``clear`` keys, then set ``values`` (an empty value removes its key), in one URL update:
    each update is a browser history entry, so the back button steps from view to view."""
    params = {key: st.query_params.get_all(key) for key in st.query_params if key not in {*clear, *values}}
    params.update({key: value for key, value in values.items() if value})
    st.query_params.from_dict(params)


def sync_from_url(scope: str, values: Mapping[str, Any]) -> None:
    """Reset widget state (``widget key -> value`` read from the URL) when the URL changed since this
    scope last saw it, or when the widgets were not on the previous run (another page was shown)."""
    signature = json.dumps(values, sort_keys=True, default=str)
    seen = f"_url_{scope}"
    if st.session_state.get(seen) != signature or any(key not in st.session_state for key in values):
        for key, value in values.items():
            st.session_state[key] = value
        st.session_state[seen] = signature
