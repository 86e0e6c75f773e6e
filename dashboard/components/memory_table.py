"""One page of memories as a selectable table, and links from rows to the Memory page."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from dashboard.components import nav
from dashboard.components.times import datetime_column
from dashboard.text import escape_markdown, truncate, user_shown
from memory_core.items import item_text
from memory_core.records import MemoryRecord

MEMORY_PAGE = nav.MEMORY.link
# what an operator reads first comes first; the id last (copyable, and on the Memory page)
COLUMNS = ("memory", "user_id", "used", "tags", "metadata", "created_at", "updated_at", "version", "turns", "id")


def records_frame(records: Sequence[MemoryRecord], labels: Mapping[str, str] | None = None,
                  uses: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Table rows: long text cut to one line (the full text is on the Memory page); a user's label beside the id;
    tags as a list (chips); metadata as ``key: value`` pairs; with ``uses``, how often the agent got each."""
    rows = [{
        "memory": truncate(item_text(r.item), 160),  # a conversation-only item shows its messages
        "user_id": user_shown(r.user_id, labels),
        "used": (uses or {}).get(r.id, 0),
        "tags": [truncate(tag, 40) for tag in r.item.tags[:12]],
        "metadata": truncate(metadata_text(r.item.metadata), 100),
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "version": r.version,
        "turns": len(r.item.conversation or []),
        "id": r.id,
    } for r in records]
    return pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "used" or uses is not None])


def metadata_text(metadata: Mapping[str, object]) -> str:
    """``source: support call · lang: en``: strings as they are, other values as JSON."""
    return " · ".join(f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
                      for key, value in metadata.items())


def memory_table(records: Sequence[MemoryRecord], *, key: str, store: str, labels: Mapping[str, str] | None = None,
                 uses: Mapping[str, int] | None = None) -> list[MemoryRecord]:
    """Show ``records`` with multi-row selection; returns the selected records. A click on a memory's text
    opens it on the Memory page (one click); ticks select rows for the bulk actions. ``uses``: a column of how
    often the agent's search returned each (when the page is filtered or sorted by it).

    Streamlit selects row positions, so the table's key names the memories it shows (ids and versions): when
    they change (an edit, a delete, a re-sort, another operator's change), it is a new table with nothing
    selected, and a tick can never land on a memory other than the one it was given to."""
    event = st.dataframe(
        records_frame(records, labels, uses), key=f"{key}_{_content_key(records)}", on_select="rerun",
        selection_mode=["multi-row", "single-cell"], hide_index=True,
        column_config={
            "memory": st.column_config.TextColumn("Memory", width=330),  # with the times, within 1440 px
            "user_id": st.column_config.TextColumn("User", width="small"),
            "used": st.column_config.NumberColumn("Agent got it", width=90,
                                                  help="how often the agent's search returned it"),
            "tags": st.column_config.ListColumn("Tags", width=170),
            "metadata": st.column_config.TextColumn("Metadata", width="small"),
            "created_at": datetime_column("Created"),
            "updated_at": datetime_column("Updated"),
            "version": st.column_config.NumberColumn("v", width=40, help="version: how many times it was saved"),
            "turns": (st.column_config.NumberColumn("Turns", width=50, help="conversation messages")
                      if any(r.item.conversation for r in records) else None),
            "id": st.column_config.TextColumn("Id", width="small"),
        },
    )
    st.caption("Click a memory's text to open it; tick rows to tag or delete them together.")
    opened = [row for row, column in (event.selection.cells if event else []) if column == "memory"]
    if opened and opened[0] < len(records):
        st.switch_page(MEMORY_PAGE, query_params={"store": store, "id": records[opened[0]].id})
    rows = event.selection.rows if event else []
    return [records[i] for i in rows if i < len(records)]


def _content_key(records: Sequence[MemoryRecord]) -> str:
    shown = "\n".join(f"{r.id}:{r.version}" for r in records)
    return hashlib.sha256(shown.encode()).hexdigest()[:16]


def memory_link(store: str, record_id: str, label: str | None = None, *, text: str | None = None) -> None:
    """A link to the Memory page of one record, named by its text (``text``) rather than its id."""
    if label is None:
        label = f"Open “{escape_markdown(truncate(text, 60))}”" if text else f"Open memory {escape_markdown(record_id)}"
    st.page_link(MEMORY_PAGE, label=label, query_params={"store": store, "id": record_id},
                 icon=":material/open_in_new:")
