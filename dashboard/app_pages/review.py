"""Review queue: memories flagged by the detectors (personal data, near-duplicates, contradictions). Each is
approved (recorded in memdash's audit log, the memory untouched), redacted (an audited edit), edited, or
deleted after a confirmation that names it (to the trash, with Undo)."""

import uuid

import streamlit as st

from dashboard import context
from dashboard.components import dialogs, findings, page, undo
from dashboard.components.memory_table import memory_link
from dashboard.services import insights, memories
from dashboard.text import count_of, escape_markdown, truncate
from memory_core.errors import MemdashError, NotFoundError
from memory_core.items import item_text
from memory_core.records import MemoryRecord
from memory_core.review import Finding, Kind

DIALOG = "review_delete"
SHOWN = 25
LABELS = {Kind.PERSONAL_DATA: "Personal data", Kind.NEAR_DUPLICATE: "Near-duplicate",
          Kind.CONTRADICTION: "Contradiction"}


def _scan(store: str) -> None:
    kinds = st.multiselect("Detectors", list(Kind), default=list(Kind), format_func=LABELS.get, key="review_kinds")
    if st.button("Scan the store", type="primary", key="review_scan", disabled=not kinds):
        found = insights.review_scan(context.hub(), store, frozenset(kinds))
        findings.remembered(store, found)


def _quoted(record: MemoryRecord | Finding) -> str:
    text = record.excerpt if isinstance(record, Finding) else item_text(record.item)
    return f"“{escape_markdown(truncate(text, 80))}” (user {escape_markdown(record.user_id)})"


def _approve(store: str, finding: Finding) -> None:
    """Button callback: record the approval of the memory as scanned."""
    try:
        insights.approve(context.hub(), context.actor(), store, finding)
    except (MemdashError, OSError) as exc:
        page.flash(f"Not approved: {escape_markdown(exc)} Scan again to see it as it is now.", "error")
        return
    findings.drop(finding.record_id)
    page.flash(f"Approved {_quoted(finding)}: it is not flagged again unless it changes. The memory itself is "
               "unchanged.")


def _redact(store: str, finding: Finding) -> None:
    try:
        after = insights.redact(context.hub(), context.actor(), store, finding)
    except (MemdashError, OSError) as exc:
        page.flash(f"Not redacted: {escape_markdown(exc)} Scan again to see it as it is now.", "error")
        return
    findings.drop(finding.record_id)
    page.flash(f"Redacted {_quoted(after)}: now version {after.version} (the Audit log can revert it).")


def _ask_delete(store: str, memory_id: str) -> None:
    """Button callback: open the confirmation with the memory as it is now (the delete is checked against it)."""
    try:
        record = memories.get_memory(context.hub(), store, memory_id)
    except NotFoundError:
        findings.drop(memory_id)
        page.flash("That memory was deleted since the scan.", "warning")
        return
    dialogs.open_dialog(DIALOG, store=store, record=record)


@st.dialog("Delete memory", on_dismiss=lambda: dialogs.close_dialog(DIALOG))
def _confirm_delete(store: str, record: MemoryRecord) -> None:
    st.markdown(f"**Delete this memory of user {escape_markdown(record.user_id)}?** It goes to the trash: you can "
                "undo it right after, or restore it from the Trash page.")
    st.text(truncate(item_text(record.item), 400))
    st.caption(f"id {escape_markdown(record.id)} · version {record.version}")
    go, cancel = st.columns(2)
    with cancel:
        dialogs.close_button(DIALOG, key="review_delete_cancel")
    if go.button("Delete", key="review_delete_confirm", type="primary"):
        batch = uuid.uuid4().hex
        with page.reported():
            deleted = memories.delete_memories(context.hub(), context.actor(), store, [record.id], batch=batch,
                                               expected_versions={record.id: record.version})
            dialogs.close_dialog(DIALOG)
            findings.drop(record.id)
            page.flash(f"Deleted {_quoted(record)}." if deleted else "That memory was already deleted.")
            if deleted:
                undo.offer(store, batch)
            st.rerun()


def _finding(store: str, position: int, finding: Finding) -> None:
    with st.container(border=True, key=f"review_finding_{position}"):
        st.caption(f"{LABELS[finding.kind]} · user {escape_markdown(finding.user_id)}")
        st.text(finding.detail + (f": {finding.match}" if finding.match else ""))
        st.text(finding.excerpt)
        cols = st.columns(6)
        cols[0].button("Approve", key=f"review_approve_{position}", on_click=_approve, args=(store, finding))
        if finding.kind is Kind.PERSONAL_DATA:
            cols[1].button("Redact", key=f"review_redact_{position}", on_click=_redact, args=(store, finding))
        newer = "Delete…" if finding.other_id is None else "Delete the newer…"
        cols[2].button(newer, key=f"review_delete_{position}", on_click=_ask_delete, args=(store, finding.record_id))
        if finding.other_id:
            cols[3].button("Delete the older…", key=f"review_delete_other_{position}", on_click=_ask_delete,
                           args=(store, finding.other_id))
        with cols[4]:
            memory_link(store, finding.record_id, label="Edit" if finding.other_id is None else "Edit the newer")
        if finding.other_id:
            with cols[5]:
                memory_link(store, finding.other_id, label="Edit the older")


st.title("Review queue")
store = page.store_or_stop()
page.show_flash()
undo.banner()
with page.reported():
    _scan(store)
    found = findings.of(store)
    if found is None:
        st.caption("Scan to list the memories that need a person. See docs/insight.md for what each detector "
                   "finds and misses.")
    elif not found:
        st.success("Nothing to review.")
    else:
        st.caption(f"{count_of(len(found), 'finding')}; the first {min(SHOWN, len(found))} are shown. The "
                   "excerpt of a pair shows the newer memory first (⟷ the older).")
        for position, finding in enumerate(found[:SHOWN]):
            _finding(store, position, finding)
job = dialogs.payload(DIALOG)
if job and job["store"] == store:
    _confirm_delete(job["store"], job["record"])
