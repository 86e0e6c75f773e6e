"""Keyset paging: a stack of cursors in session state, reset whenever the query changes."""

from __future__ import annotations

import hashlib
import json

import streamlit as st

PAGE_SIZES = (25, 50, 100, 250)


def page_size(default: int = PAGE_SIZES[0]) -> int:
    """The page size in ``?size=`` when it is one of :data:`PAGE_SIZES`, else ``default``."""
    raw = st.query_params.get("size", "")
    return int(raw) if raw.isdigit() and int(raw) in PAGE_SIZES else default


class Pager:
    """Previous/Next over keyset cursors. ``query`` is anything JSON-able that identifies the listing."""

    def __init__(self, key: str, query: object) -> None:
        self.key = key
        self.signature = json.dumps(query, sort_keys=True, default=str)
        state = st.session_state.get(key)
        if not state or state["query"] != self.signature:
            st.session_state[key] = {"query": self.signature, "stack": [None]}

    @property
    def _stack(self) -> list[str | None]:
        return st.session_state[self.key]["stack"]

    @property
    def cursor(self) -> str | None:
        """The cursor of the page to show (``None`` for the first)."""
        return self._stack[-1]

    @property
    def number(self) -> int:
        return len(self._stack)

    @property
    def page_id(self) -> str:
        """Short id of this query and page, for keys of widgets that must reset with the page."""
        return hashlib.sha1(f"{self.signature}|{self.cursor}".encode()).hexdigest()[:10]

    def controls(self, next_cursor: str | None, note: str = "") -> None:
        """Previous / page number / Next; the buttons act through callbacks."""
        left, middle, right = st.columns([1, 3, 1], vertical_alignment="center")
        left.button("Previous", key=f"{self.key}_prev", on_click=self._back, disabled=self.number == 1,
                    icon=":material/chevron_left:")
        middle.caption(f"Page {self.number}{note}")
        right.button("Next", key=f"{self.key}_next", on_click=self._forward, args=(next_cursor,),
                     disabled=next_cursor is None, icon=":material/chevron_right:")

    def _back(self) -> None:
        if len(self._stack) > 1:
            self._stack.pop()

    def _forward(self, cursor: str | None) -> None:
        if cursor:
            self._stack.append(cursor)
