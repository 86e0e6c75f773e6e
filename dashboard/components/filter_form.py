"""The memory filter form (user, tags any/all, metadata key:value, text, date ranges), bound to the URL.

Applying the form writes ``dashboard.state`` query parameters; the page then parses them, so a bad value
is reported the same way whether it came from the form or from a pasted link.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.components.url import day_value, set_params, sync_from_url
from dashboard.services import filters

DATES = ("created_from", "created_to", "updated_from", "updated_to")
_DATE_LABELS = {"created_from": "Created from", "created_to": "Created to", "updated_from": "Updated from",
                "updated_to": "Updated to"}


def filter_form(*, key: str = "filter") -> None:
    """Render the form; 'Apply' and 'Clear' rewrite the filter parameters of the URL."""
    sync_from_url(key, _widget_values(key))
    with st.form(f"{key}_form", border=True):
        top = st.columns([2, 2, 1, 3])
        top[0].text_input("User id", key=f"{key}_user", placeholder="every user")
        top[1].text_input("Tags (comma-separated)", key=f"{key}_tags")
        top[2].radio("Match tags", ("any", "all"), key=f"{key}_tags_mode", horizontal=True)
        top[3].text_input("Memory text contains", key=f"{key}_text")
        more = st.expander("Metadata and dates", expanded=_more_in_use())  # the table stays above the fold
        metadata, dates = more.columns([1, 2])  # four dates in two thirds: "yyyy-mm-dd" fits at 1024 px
        metadata.text_area("Metadata key:value (one per line)", key=f"{key}_meta", height=68,
                           placeholder="e.g. topic:travel")
        for column, name in zip(dates.columns(2), DATES[:2], strict=True):
            column.date_input(_DATE_LABELS[name], key=f"{key}_{name}", value=None, format="YYYY-MM-DD")
        for column, name in zip(dates.columns(2), DATES[2:], strict=True):
            column.date_input(_DATE_LABELS[name], key=f"{key}_{name}", value=None, format="YYYY-MM-DD")
        with st.container(horizontal=True):  # buttons as wide as their labels, at any window width
            st.form_submit_button("Apply", type="primary", on_click=_apply, args=(key,), icon=":material/filter_alt:")
            st.form_submit_button("Clear", on_click=set_params, args=({},), kwargs={"clear": filters.FILTER_KEYS})


def _more_in_use() -> bool:
    """Whether the URL filters by metadata or a date (the form then shows those fields open)."""
    return any(st.query_params.get(name) for name in ("meta", *DATES))


def _widget_values(key: str) -> dict[str, Any]:
    """Widget state read from the URL (raw text: parsing and its errors belong to the page)."""
    params = st.query_params
    values: dict[str, Any] = {
        f"{key}_user": params.get("user", ""),
        f"{key}_tags": params.get("tags", ""),
        f"{key}_tags_mode": "all" if params.get("tags_mode") == "all" else "any",
        f"{key}_text": params.get("text", ""),
        f"{key}_meta": "\n".join(params.get_all("meta")),
    }
    for name in DATES:
        values[f"{key}_{name}"] = day_value(params.get(name, ""))
    return values


def _apply(key: str) -> None:
    s = st.session_state
    values: dict[str, str | list[str] | None] = {
        "user": s[f"{key}_user"].strip(),
        "tags": s[f"{key}_tags"].strip(),
        "tags_mode": "all" if s[f"{key}_tags_mode"] == "all" and s[f"{key}_tags"].strip() else None,
        "text": s[f"{key}_text"],
        "meta": [line.strip() for line in s[f"{key}_meta"].splitlines() if line.strip()],
    }
    for name in DATES:
        day = s[f"{key}_{name}"]
        values[name] = day.isoformat() if day else None
    set_params(values, clear=filters.FILTER_KEYS)

