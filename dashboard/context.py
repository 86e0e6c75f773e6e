"""Per-process and per-session context the pages share: the store hub, the actor, the chosen store."""

from __future__ import annotations

import os
import uuid

import streamlit as st

from dashboard import auth
from dashboard.services.hub import StoreHub
from dashboard.text import escape_markdown
from memory_core.access import Actor
from memory_core.config import CONFIG_ENV


@st.cache_resource(show_spinner=False)
def _hub_for(config_path: str | None) -> StoreHub:
    return StoreHub(config_path)


def config_path() -> str | None:
    """The config this session looks at: chosen on the Stores page, else the one memdash was started with."""
    return st.session_state.get("config_path") or os.environ.get(CONFIG_ENV)


def hub() -> StoreHub:
    """The hub as the signed-in person may read it: the stores their role shows, their reads recorded."""
    return _hub_for(config_path()).as_seen_by(actor(), _session())


def _session() -> str:
    """This browser session's id in read records (several tabs of one person are several sessions)."""
    return st.session_state.setdefault("_memdash_session", uuid.uuid4().hex)


def actor() -> Actor:
    """The person signed in to this session (``PermissionDenied`` when nobody is): see :mod:`dashboard.auth`."""
    return auth.current_actor()


def current_store() -> str | None:
    """The store in the URL (``?store=``), else the first configured one."""
    names = hub().store_names
    chosen = st.query_params.get("store")
    if chosen in names:
        return chosen
    return names[0] if names else None


def store_picker() -> str | None:
    """A sidebar select bound to ``?store=``; returns the chosen store name.

    The URL wins when it changed under the page (a shared link, the back button); otherwise the select
    writes its value to the URL, which also puts ``?store=`` back after a page switch.
    """
    names = hub().store_names
    if not names:
        if _hub_for(config_path()).store_names:
            st.sidebar.warning("Your role lets you read none of this config's stores.", icon=":material/lock:")
        return None
    url_store = st.query_params.get("store")
    state = st.session_state
    if state.get("store_picker") not in names or (url_store in names and url_store != state.get("_store_seen")):
        state["store_picker"] = current_store()
    chosen = st.sidebar.selectbox("Store", names, key="store_picker")
    state["_store_seen"] = chosen
    if url_store and url_store not in names:
        st.sidebar.warning(f"This link names the store {escape_markdown(url_store)}, which is not one you can "
                           f"open here: showing {escape_markdown(chosen)}.", icon=":material/warning:")
    if chosen != url_store:
        st.query_params["store"] = chosen
    return chosen
