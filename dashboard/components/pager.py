"""Keyset paging: a stack of cursors in session state, reset whenever the query changes.

A pager given a ``step`` (the next page's cursor after a cursor) keeps its page number in the URL (``?page=3``):
a shared link or a reload walks to that page again, one keyset query per page, at most :data:`MAX_WALK` pages.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import streamlit as st

PAGE_SIZES = (25, 50, 100, 250)
PAGE_PARAM = "page"
MAX_WALK = 200  # a link opens at most this page: walking there costs one query per page

Step = Callable[[str | None], str | None]


def page_size(default: int = PAGE_SIZES[0]) -> int:
    """The page size in ``?size=`` when it is one of :data:`PAGE_SIZES`, else ``default``."""
    raw = st.query_params.get("size", "")
    return int(raw) if raw.isdigit() and int(raw) in PAGE_SIZES else default


def url_page() -> int:
    """The page number in ``?page=`` (1 when absent or not a positive number, at most :data:`MAX_WALK`)."""
    raw = st.query_params.get(PAGE_PARAM, "")
    return min(int(raw), MAX_WALK) if raw.isdigit() and int(raw) >= 1 else 1


class Pager:
    """Previous/Next over keyset cursors. ``query`` is anything JSON-able that identifies the listing."""

    def __init__(self, key: str, query: object, *, step: Step | None = None) -> None:
        self.key = key
        self.signature = json.dumps(query, sort_keys=True, default=str)
        self.in_url = step is not None
        state = st.session_state.get(key)
        if state and state["query"] != self.signature:  # the listing changed under the operator: page one
            st.session_state[key] = {"query": self.signature, "stack": [None]}
            self._write_url()
        elif not state or (self.in_url and url_page() != self.number):  # a link, a reload, the back button
            st.session_state[key] = {"query": self.signature, "stack": [None]}
            if step is not None:
                self._walk_to(url_page(), step)

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

    def _walk_to(self, number: int, step: Step) -> None:
        """Follow the cursors from page one to page ``number`` (or the last page, when there are fewer)."""
        while self.number < number:
            cursor = step(self.cursor)
            if cursor is None:
                break
            self._stack.append(cursor)
        self._write_url()

    def _write_url(self) -> None:
        if self.in_url and url_page() != self.number:
            if self.number == 1:
                del st.query_params[PAGE_PARAM]
            else:
                st.query_params[PAGE_PARAM] = str(self.number)

    def _back(self) -> None:
        if len(self._stack) > 1:
            self._stack.pop()
            self._write_url()

    def _forward(self, cursor: str | None) -> None:
        if cursor:
            self._stack.append(cursor)
            self._write_url()
