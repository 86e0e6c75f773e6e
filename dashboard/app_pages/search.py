"""Search: what an agent would retrieve for a user and a query, with each score explained."""

import math

import streamlit as st

from dashboard import context
from dashboard.components import page
from dashboard.components.memory_table import memory_link
from dashboard.components.url import param, set_params, sync_from_url
from dashboard.services import memories
from dashboard.services.hub import cannot_message
from dashboard.text import count_of, escape_markdown, truncate, user_shown
from memory_core.errors import InvalidInputError
from memory_core.interfaces import Capability
from memory_core.records import MemoryFilter


def _number(name: str, kind: type[int] | type[float]) -> int | float | None:
    """A numeric query parameter (``None`` when absent); a bad one raises ``InvalidInputError``."""
    raw = param(name)
    try:
        value = kind(raw) if raw else None
    except ValueError:
        value = math.nan
    if value is not None and not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a number, not {raw!r}")
    return value


def _number_or_none(name: str, kind: type[int] | type[float]) -> int | float | None:
    try:
        return _number(name, kind)
    except InvalidInputError:
        return None


def _form() -> None:
    """User, query, top_k and threshold; 'Search' writes them to the URL."""
    top_k = _number_or_none("top_k", int)
    sync_from_url("search", {"search_user": param("user"), "search_query": param("q"),
                             "search_top_k": top_k if top_k and 0 < top_k <= 100 else 5,
                             "search_threshold": _number_or_none("threshold", float)})
    with st.form("search_form"):
        left, right = st.columns([1, 3])
        left.text_input("User id", key="search_user")
        right.text_input("Query", key="search_query", placeholder="what would the agent ask?")
        left, right, _ = st.columns([1, 1, 2])
        left.number_input("Results", min_value=1, max_value=100, step=1, key="search_top_k",
                          help="How many memories the search returns at most (the agent's top_k).")
        right.number_input("Similarity threshold", key="search_threshold", value=None, step=0.05, format="%.3f",
                           placeholder="none")
        st.form_submit_button("Search", type="primary", on_click=_apply, icon=":material/search:")


def _apply() -> None:
    s = st.session_state
    threshold = s.search_threshold
    set_params({"user": s.search_user.strip(), "q": s.search_query, "top_k": str(s.search_top_k),
                "threshold": None if threshold is None else str(threshold)})


# What each part of memdash's ranking (memory_core.retrieval) means, in the order an operator reads them; the
# two signals are always shown, bonuses only when they count. A store's own raw signals are not repeated.
SIGNALS = {"text": "matching words", "vector": "similar meaning"}
BONUSES = {"date": "the date asked about", "neighbour": "next to a match in its conversation",
           "group": "in the conversation of a match"}


def _explain(hit: memories.SearchHit) -> str:
    """The score in words: how much it comes from matching words and from similar meaning (each 0 to 1 among
    this search's candidates) and which bonuses it got; a breakdown, not a sum."""
    if hit.score is None:
        return "The store gave no score."
    why = [f"{words} {hit.parts[name]:.2f}" for name, words in SIGNALS.items() if name in hit.parts]
    why += [f"+ {words}" for name, words in BONUSES.items() if hit.parts.get(name, 0) > 0]
    return f"score {hit.score:.3f}" + (f" (from {', '.join(why)})" if why else " (the store does not break it down)")


def _show_hit(store: str, rank: int, hit: memories.SearchHit) -> None:
    with st.container(border=True):
        head, score = st.columns([4, 1])
        head.caption(f"#{rank} · {_explain(hit)}")
        score.metric("similarity_score", "–" if hit.score is None else f"{hit.score:.3f}", label_visibility="collapsed")
        st.text(truncate(hit.item.memory or _conversation_text(hit), 600))
        if hit.item.tags:
            st.text("tags: " + ", ".join(hit.item.tags))
        if hit.id:
            memory_link(store, hit.id, text=hit.item.memory or _conversation_text(hit))


def _conversation_text(hit: memories.SearchHit) -> str:
    return " / ".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in hit.item.conversation or [])


def _agent_view(store: str, user: str, query: str, top_k: int) -> None:
    """The exact text an agent's get_memory tool hands its LLM for this user and query."""
    with st.expander("What the agent receives (its get_memory tool's exact output)", icon=":material/smart_toy:"):
        st.code(memories.agent_view(context.hub(), store, user_id=user, query=query, top_k=top_k), language=None,
                wrap_lines=True)
        st.caption("The toolkit's 1.9 get_memory tool on this store, with no similarity threshold (the tool has "
                   "none): this is what the LLM reads.")


def _results(store: str, user: str, query: str) -> None:
    hub = context.hub()
    top_k = _number("top_k", int)
    threshold = _number("threshold", float)
    hits = memories.search_memories(hub, store, user_id=user, query=query, top_k=5 if top_k is None else int(top_k),
                                    threshold=threshold)
    if not hub.can(store, Capability.SEARCH_RECORDS):
        st.info(escape_markdown(cannot_message(store, Capability.SEARCH_RECORDS)), icon=":material/block:")
    _agent_view(store, user, query, 5 if top_k is None else int(top_k))
    if hits:
        shown = user_shown(user, memories.user_labels(hub, store))
        st.caption(f"{count_of(len(hits), 'result')} for user {escape_markdown(shown)}")
        for rank, hit in enumerate(hits, start=1):
            _show_hit(store, rank, hit)
    elif hub.can(store, Capability.COUNT) and memories.count_memories(hub, store, MemoryFilter(user_id=user)) == 0:
        st.info(f"User '{escape_markdown(user)}' has no memories in store '{escape_markdown(store)}'.")
    else:
        words_only = hub.can(store, Capability.TEXT_SEARCH) and not hub.can(store, Capability.VECTOR_SEARCH)
        st.info("Nothing matched this query" + (" above the threshold." if threshold is not None else ".")
                + (" This store searches by words only (no embedder configured): a memory is found when it shares "
                   "a word with the query, not when it means the same." if words_only else ""))


st.title("Search")
store = page.store_or_stop()
_form()
user, query = param("user"), param("q")
with page.reported():
    if user and query:
        _results(store, user, query)
    elif query or user:
        st.info("Enter both a user id and a query: memories are always searched for one user.")
