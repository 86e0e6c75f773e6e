"""Browse: one page of memories (one user's, or every user's where the store can), filtered and sorted,
with links to each memory and bulk tag / untag / delete. Never loads more than a page and a count."""

import streamlit as st

from dashboard import context
from dashboard.components import bulk, nav, page, undo
from dashboard.components.filter_form import filter_form
from dashboard.components.memory_table import memory_link, memory_table
from dashboard.components.pager import PAGE_SIZES, Pager, page_size
from dashboard.components.url import param, set_params, sync_from_url
from dashboard.services import filters, insights, memories
from dashboard.services.hub import StoreHub
from dashboard.text import count_of, escape_markdown
from memory_core import identity
from memory_core.errors import InvalidInputError
from memory_core.interfaces import Capability
from memory_core.items import item_text
from memory_core.records import MemoryFilter, MemoryRecord, by_use

SORT_LABELS = {"updated_desc": "Updated, newest first", "updated_asc": "Updated, oldest first",
               "created_desc": "Created, newest first", "created_asc": "Created, oldest first",
               "most_used": "Most used by the agent", "least_used": "Least used by the agent"}
USE_LABELS = {"": "Any", "yes": "Returned at least once", "never": "Never returned"}


def _view_controls(by_use: bool) -> None:
    """Sort, page size and (where the store counts the agent's use) the use filter, bound to ``?sort=``,
    ``?size=`` and ``?used=``."""
    sorts = [name for name in SORT_LABELS if by_use or name not in filters.BY_USE_SORTS]
    values = {"browse_sort": param("sort") if param("sort") in sorts else "updated_desc", "browse_size": page_size()}
    if by_use:
        values["browse_used"] = param("used") if param("used") in USE_LABELS else ""
    sync_from_url("browse_view", values)
    left, right, use, _ = st.columns([2, 1, 2, 1])
    left.selectbox("Sort by", sorts, format_func=SORT_LABELS.get, key="browse_sort",
                   on_change=lambda: set_params({"sort": st.session_state.browse_sort}))
    right.selectbox("Rows per page", PAGE_SIZES, key="browse_size",
                    on_change=lambda: set_params({"size": str(st.session_state.browse_size)}))
    if by_use:
        use.selectbox("By the agent's search", list(USE_LABELS), format_func=USE_LABELS.get, key="browse_used",
                      help="Memories the agent's own search returned at least once, or never (an operator's "
                      "searches and reads do not count)",
                      on_change=lambda: set_params({"used": st.session_state.browse_used or None}))


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
with page.reported():
    _view_controls(hub.can(store, Capability.BROWSE_BY_USE))
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
        uses = insights.uses_of(hub, store, [r.id for r in result.records]) if by_use(flt, sort) else None
        selected = memory_table(result.records, key=f"browse_table_{pager.page_id}", store=store,
                                labels=memories.user_labels(hub, store), uses=uses)
        _selected_links(store, selected)
    if result.records or pager.number > 1:  # an empty first page has nothing to page through ("Page 1 of 0")
        pager.controls(result.next_cursor, note=shown + total)
    if matching != 0:
        bulk.bulk_panel(store, flt, selected, matching)
        st.page_link(nav.TRANSFER.link, label="Export these memories", icon=":material/download:",
                     query_params={"store": store, **filters.filter_to_params(flt)})
