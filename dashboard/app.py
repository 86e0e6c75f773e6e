"""memdash dashboard entry point: navigation only. Run with ``memdash run --config FILE``."""

import runpy
from pathlib import Path

import streamlit as st

from dashboard import auth, context
from dashboard.components import signin, undo

PAGES = Path(__file__).parent / "app_pages"

BROWSE = PAGES / "browse.py"


def _browse_at_root() -> None:
    """``/`` shows Browse itself, run in place: a default page is not reachable by its own name, so Browse has
    its own page at ``/browse`` (where links go), and ``/`` neither redirects (the back button would bounce off
    the redirect) nor shows "Page not found"."""
    runpy.run_path(str(BROWSE))


st.set_page_config(page_title="memdash", page_icon=Path(__file__).parent / "static" / "memdash.png", layout="wide")
access = auth.access()
navigation = st.navigation({
    "Memories": [
        st.Page(_browse_at_root, title="Browse", default=True, visibility="hidden"),
        st.Page(BROWSE, title="Browse", icon=":material/table_rows:", url_path="browse"),
        st.Page(PAGES / "search.py", title="Search", icon=":material/search:", url_path="search"),
        st.Page(PAGES / "memory.py", title="Memory", icon=":material/description:", url_path="memory"),
        st.Page(PAGES / "add.py", title="Add", icon=":material/add:", url_path="add"),
    ],
    "Store": [
        st.Page(PAGES / "users.py", title="Users", icon=":material/group:", url_path="users"),
        st.Page(PAGES / "transfer.py", title="Import / export", icon=":material/swap_vert:", url_path="transfer"),
        st.Page(PAGES / "stores.py", title="Stores", icon=":material/database:", url_path="stores"),
        st.Page(PAGES / "audit.py", title="Audit log", icon=":material/history:", url_path="audit"),
        st.Page(PAGES / "trash.py", title="Trash", icon=":material/delete:", url_path="trash"),
    ],
    "Insight": [
        st.Page(PAGES / "stats.py", title="Analytics", icon=":material/monitoring:", url_path="stats"),
        st.Page(PAGES / "eval.py", title="Retrieval evaluation", icon=":material/fact_check:", url_path="eval"),
        st.Page(PAGES / "review.py", title="Review queue", icon=":material/rule:", url_path="review"),
        st.Page(PAGES / "playground.py", title="Playground", icon=":material/forum:", url_path="playground"),
    ],
}, position="sidebar" if access.actor else "hidden")  # the page in the URL survives signing in
signin.gate(access)  # until someone with a role signs in, the sign-in page is all there is
context.store_picker()
undo.sidebar()
navigation.run()
