"""Browse: one page of memories (one user's, or every user's where the store can), filtered and sorted,
with links to each memory and bulk tag / untag / delete. Never loads more than a page and a count."""

import streamlit as st

from dashboard import context
from dashboard.components import bulk, nav, page, undo
from dashboard.components.filter_form import filter_form
from dashboard.components.memory_table import memory_link, memory_table
from dashboard.components.pager import PAGE_SIZES, Pager, page_size
from dashboard.components.url import param, set_params, sync_from_url
from dashboard.services import filters, memories
from dashboard.services.hub import StoreHub
from dashboard.text import count_of, escape_markdown
from memory_core import identity
from memory_core.errors import InvalidInputError
from memory_core.interfaces import Capability
from memory_core.items import item_text
from memory_core.records import MemoryFilter, MemoryRecord

SORT_LABELS = {"updated_desc": "Updated, newest first", "updated_asc": "Updated, oldest first",
               "created_desc": "Created, newest first", "created_asc": "Created, oldest first"}


def _view_controls() -> None:
    """Sort and page size, bound to ``?sort=`` and ``?size=``."""
    sync_from_url("browse_view", {"browse_sort": param("sort") if param("sort") in SORT_LABELS else "updated_desc",
                                  "browse_size": page_size()})
    left, right, _ = st.columns([2, 1, 3])
    left.selectbox("Sort by", list(SORT_LABELS), format_func=SORT_LABELS.get, key="browse_sort",
                   on_change=lambda: set_params({"sort": st.session_state.browse_sort}))
    right.selectbox("Rows per page", PAGE_SIZES, key="browse_size",
                    on_change=lambda: set_params({"size": str(st.session_state.browse_size)}))


def _empty_message(store: str, flt: MemoryFilter, first_page: bool) -> None:
    if not first_page:
        st.info("No more memories.")
    elif flt == MemoryFilter():
        st.info(f"Store '{escape_markdown(store)}' is empty: add memories or import a file.")
    elif flt == MemoryFilter(user_id=flt.user_id):
        st.info(f"User '{escape_markdown(flt.user_id)}' has no memories in store '{escape_markdown(store)}'. "
                "Check the id on the Users page.")
        _toolkit_user(store, flt.user_id or "")
    else:
        st.info("No memories match this filter.")


def _toolkit_user(store: str, typed: str) -> None:
    """When what was typed is how a person signs in to the toolkit, the user id the toolkit stores them under."""
    hub = context.hub()
    if not hub.can(store, Capability.COUNT):
        return
    for derived in identity.readings(typed):
        count = memories.count_memories(hub, store, MemoryFilter(user_id=derived.user_id))
        if count:
            st.page_link(nav.BROWSE.link, label=f"Read as {escape_markdown(derived.reading)}, this is toolkit "
                         f"user {derived.user_id}, who has {count_of(count, 'memory', 'memories')}: browse them",
                         query_params={"store": store, "user": derived.user_id}, icon=":material/badge:")


def _count(hub: StoreHub, store: str, flt: MemoryFilter) -> int | None:
    return memories.count_memories(hub, store, flt) if hub.can(store, Capability.COUNT) else None


def _selected_links(store: str, selected: list[MemoryRecord]) -> None:
    for record in selected[:5]:
        memory_link(store, record.id, text=item_text(record.item))
    if len(selected) > 5:
        st.caption(f"and {len(selected) - 5} more selected")


st.title("Browse memories")
store = page.store_or_stop()
hub = context.hub()
page.show_flash()
undo.banner()
filter_form()
_view_controls()
with page.reported():
    try:
        flt, sort = filters.filter_from_params(st.query_params), filters.sort_from_params(st.query_params)
    except InvalidInputError as exc:
        raise InvalidInputError(f"This link's filter is not valid: {exc}") from None
    size = page_size()
    pager = Pager("browse_pager", {"store": store, "filter": flt.model_dump(mode="json"), "sort": param("sort"),
                                   "size": size},
                  step=lambda cursor: memories.list_memories(hub, store, flt, sort=sort, limit=size,
                                                             cursor=cursor).next_cursor)
    result = memories.list_memories(hub, store, flt, sort=sort, limit=size, cursor=pager.cursor)
    matching = _count(hub, store, flt)
    start = (pager.number - 1) * size
    shown = f" · rows {start + 1:,}–{start + len(result.records):,}" if result.records else ""
    total = f" of {matching:,} matching" if matching is not None else ""
    if not result.records:
        _empty_message(store, flt, pager.number == 1)
        selected = []
    else:
        selected = memory_table(result.records, key=f"browse_table_{pager.page_id}", store=store,
                                labels=memories.user_labels(hub, store))
        _selected_links(store, selected)
    if result.records or pager.number > 1:  # an empty first page has nothing to page through ("Page 1 of 0")
        pager.controls(result.next_cursor, note=shown + total)
    if matching != 0:
        bulk.bulk_panel(store, flt, selected, matching)
        st.page_link(nav.TRANSFER.link, label="Export these memories", icon=":material/download:",
                     query_params={"store": store, **filters.filter_to_params(flt)})
