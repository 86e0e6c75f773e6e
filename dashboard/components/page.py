"""What every page does around its content: pick the store, report failures, show one-shot messages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from dashboard import context
from dashboard.components import nav
from dashboard.text import escape_markdown
from memory_core.errors import MemdashError, StoreUnavailableError, UnsupportedError

_FLASH = "_flash"


def store_or_stop() -> str:
    """The store this page works on; stops the page with a message when there is none."""
    hub = context.hub()
    if hub.config_error:
        st.error(f"Config error: {escape_markdown(hub.config_error)}", icon=":material/error:")
        st.page_link(nav.STORES.link, label="Open another config on the Stores page")
        st.stop()
    store = context.current_store()
    if store is None:
        st.info("No store is configured. Start with `memdash run --config FILE` or open a config on the Stores page.")
        st.page_link(nav.STORES.link, label="Stores")
        st.stop()
    return store


def show_error(exc: BaseException) -> None:
    """An operator-facing message for a failure: info for a missing capability, error otherwise."""
    message = escape_markdown(str(exc) or type(exc).__name__)
    if isinstance(exc, UnsupportedError):
        st.info(message, icon=":material/block:")
    elif isinstance(exc, StoreUnavailableError):
        st.error(f"Store unavailable: {message}", icon=":material/cloud_off:")
    else:
        st.error(message, icon=":material/error:")


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Run a block of service calls; a memdash, I/O or timeout error ends the block with a message."""
    try:
        yield
    except (MemdashError, OSError, TimeoutError) as exc:
        show_error(exc)


def flash(message: str, kind: str = "success") -> None:
    """Show ``message`` (already markdown-safe) on the next run, e.g. after ``st.rerun`` or a page switch."""
    st.session_state[_FLASH] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop(_FLASH, (None, None))
    if kind:
        getattr(st, kind)(message)
