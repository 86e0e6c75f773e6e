"""memdash dashboard entry point: navigation only. Run with ``memdash run --config FILE``."""

import runpy
from pathlib import Path

import streamlit as st

from dashboard import auth, context
from dashboard.components import nav, signin, undo


def _browse_at_root() -> None:
    """``/`` shows Browse itself, run in place: a default page is not reachable by its own name, so Browse has
    its own page at ``/browse`` (where links go), and ``/`` neither redirects (the back button would bounce off
    the redirect) nor shows "Page not found"."""
    runpy.run_path(str(nav.BROWSE.path))


st.set_page_config(page_title="memdash", page_icon=Path(__file__).parent / "static" / "memdash.png", layout="wide")
access = auth.access()
navigation = st.navigation({
    section: ([st.Page(_browse_at_root, title=nav.BROWSE.title, default=True, visibility="hidden")]
              if section == "Memories" else [])
    + [st.Page(page.path, title=page.title, icon=page.icon, url_path=page.url_path) for page in pages]
    for section, pages in nav.SECTIONS.items()
}, position="sidebar" if access.actor else "hidden",  # the page in the URL survives signing in
    expanded=True)  # every page listed: the Playground is not hidden under "View 3 more"
signin.gate(access)  # until someone with a role signs in, the sign-in page is all there is
context.store_picker()
undo.sidebar()
navigation.run()
