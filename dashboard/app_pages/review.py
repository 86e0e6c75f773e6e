"""Review queue: memories flagged by the detectors (personal data, near-duplicates, contradictions), each
approved, edited, redacted or deleted through the editor (so into the audit log)."""

import streamlit as st

from dashboard import context, insights, services
from dashboard.components import page
from dashboard.components.memory_table import memory_link
from dashboard.components.text import count_of, escape_markdown
from memory_core.review import Finding, Kind

_FINDINGS = "review_findings"
SHOWN = 25
LABELS = {Kind.PERSONAL_DATA: "Personal data", Kind.NEAR_DUPLICATE: "Near-duplicate",
          Kind.CONTRADICTION: "Contradiction"}


def _scan(store: str) -> None:
    kinds = st.multiselect("Detectors", list(Kind), default=list(Kind), format_func=LABELS.get, key="review_kinds")
    if st.button("Scan the store", type="primary", key="review_scan", disabled=not kinds):
        found = insights.review_scan(context.hub(), store, frozenset(kinds))
        st.session_state[_FINDINGS] = (store, found)


def _act(store: str, position: int, finding: Finding, action: str) -> None:
    hub, actor = context.hub(), context.actor()
    if action == "approve":
        insights.approve(hub, actor, store, finding.record_id)
        message = "approved"
    elif action == "redact":
        insights.redact(hub, actor, store, finding.record_id, finding.match or "")
        message = "redacted"
    else:
        services.delete_memories(hub, actor, store, [finding.record_id])
        message = "deleted"
    stored, found = st.session_state[_FINDINGS]
    st.session_state[_FINDINGS] = (stored, [f for f in found if f.record_id != finding.record_id])
    page.flash(f"Memory {escape_markdown(finding.record_id)} {message}.")
    st.rerun()


def _finding(store: str, position: int, finding: Finding) -> None:
    with st.container(border=True):
        st.caption(f"{LABELS[finding.kind]} · user {escape_markdown(finding.user_id)}")
        st.text(finding.detail + (f": {finding.match}" if finding.match else ""))
        st.text(finding.excerpt)
        cols = st.columns(5)
        actions = [("approve", "Approve"), ("delete", "Delete")]
        if finding.kind is Kind.PERSONAL_DATA:
            actions.insert(1, ("redact", "Redact"))
        for col, (action, label) in zip(cols, actions, strict=False):
            if col.button(label, key=f"review_{action}_{position}"):
                with page.reported():
                    _act(store, position, finding, action)
        with cols[4]:
            memory_link(store, finding.record_id, label="Edit")
        if finding.other_id:
            with cols[3]:
                memory_link(store, finding.other_id, label="Other memory")


st.title("Review queue")
store = page.store_or_stop()
page.show_flash()
with page.reported():
    _scan(store)
    scanned, findings = st.session_state.get(_FINDINGS, (None, []))
    if scanned != store:
        st.caption("Scan to list the memories that need a person. See docs/insight.md for what each detector "
                   "finds and misses.")
    elif not findings:
        st.success("Nothing to review.")
    else:
        st.caption(f"{count_of(len(findings), 'finding')}; the first {min(SHOWN, len(findings))} are shown.")
        for position, finding in enumerate(findings[:SHOWN]):
            _finding(store, position, finding)
