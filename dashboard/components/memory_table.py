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
COLUMNS = ("id", "user_id", "memory", "tags", "metadata", "turns", "created_at", "updated_at", "version")


def records_frame(records: Sequence[MemoryRecord], labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Table rows: long text cut to one line (the full text is on the Memory page); a user's label beside the id."""
    rows = [{
        "id": r.id,
        "user_id": user_shown(r.user_id, labels),
        "memory": truncate(item_text(r.item), 160),  # a conversation-only item shows its messages
        "tags": truncate(", ".join(r.item.tags), 80),
        "metadata": truncate(json.dumps(r.item.metadata, ensure_ascii=False), 80) if r.item.metadata else "",
        "turns": len(r.item.conversation or []),
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "version": r.version,
    } for r in records]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def memory_table(records: Sequence[MemoryRecord], *, key: str, labels: Mapping[str, str] | None = None
                 ) -> list[MemoryRecord]:
    """Show ``records`` with multi-row selection; returns the selected records.

    Streamlit selects row positions, so the table's key names the memories it shows (ids and versions): when
    they change (an edit, a delete, a re-sort, another operator's change), it is a new table with nothing
    selected, and a tick can never land on a memory other than the one it was given to."""
    event = st.dataframe(
        records_frame(records, labels), key=f"{key}_{_content_key(records)}", on_select="rerun",
        selection_mode="multi-row", hide_index=True,
        column_config={
            "id": st.column_config.TextColumn("id", width="small"),
            "memory": st.column_config.TextColumn("memory", width="large"),
            "created_at": datetime_column("created"),
            "updated_at": datetime_column("updated"),
        },
    )
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
