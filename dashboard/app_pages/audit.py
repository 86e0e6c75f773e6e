"""Audit log (``?store=&user=&id=&op=&actor=&batch=&from=&to=``, one entry: ``?entry=N``): every change made
through memdash, who made it, before and after, and reverting it (one change or a whole batch); with ``?reads=1``
who read whose memories instead."""


import streamlit as st

from dashboard import context
from dashboard.components import dialogs, nav, page, revert_flow
from dashboard.components.audit_view import diff_view, entries_table, entry_fields, entry_link, memory_preview
from dashboard.components.memory_table import memory_link
from dashboard.components.pager import PAGE_SIZES, Pager, page_size
from dashboard.components.url import day_value, param, set_params, sync_from_url
from dashboard.services import audit, memories, revert
from dashboard.text import count_of, escape_markdown
from memory_core.access import Role
from memory_core.audit import OPERATIONS, AuditEntry, AuditQuery, Change
from memory_core.errors import InvalidInputError

DIALOG = "audit_revert"
SHOWN_STEPS = 5
TEXT_FILTERS = {"user": "User id", "id": "Memory id", "actor": "Actor", "batch": "Batch"}


# --- the list ------------------------------------------------------------------------------------------


def _filters() -> None:
    """The filter form, bound to the URL: Apply writes every filter parameter in one update."""
    values = {f"audit_{k}": param(k) for k in TEXT_FILTERS}
    values |= {"audit_op": param("op") if param("op") in OPERATIONS else "", "audit_all": param("all_stores") == "1",
                "audit_reads": param("reads") == "1",
               "audit_from": day_value(param("from")), "audit_to": day_value(param("to"))}
    sync_from_url("audit", values)
    with st.form("audit_form", border=True):
        cols = st.columns(len(TEXT_FILTERS) + 1)
        for column, (key, label) in zip(cols, TEXT_FILTERS.items(), strict=False):
            column.text_input(label, key=f"audit_{key}")
        cols[-1].selectbox("Operation", ["", *OPERATIONS], key="audit_op", format_func=lambda op: op or "any")
        dates, boxes = st.columns([1, 1], vertical_alignment="bottom")  # "yyyy-mm-dd" fits at 1024 px
        start, end = dates.columns(2)
        start.date_input("From", key="audit_from", value=None, format="YYYY-MM-DD")
        end.date_input("To", key="audit_to", value=None, format="YYYY-MM-DD")
        boxes.checkbox("Every store", key="audit_all")
        boxes.checkbox("Reads instead of changes", key="audit_reads",
                       help="Who browsed, opened or searched whose memories (exports are changes)")
        with st.container(horizontal=True):  # buttons as wide as their labels, at any window width
            st.form_submit_button("Apply", type="primary", on_click=_apply, icon=":material/filter_alt:")
            st.form_submit_button("Clear", on_click=set_params, args=({},), kwargs={"clear": audit.QUERY_KEYS})


def _apply() -> None:
    s = st.session_state
    values: dict[str, str | None] = {key: s[f"audit_{key}"].strip() for key in TEXT_FILTERS}
    values |= {"op": s.audit_op or None, "all_stores": "1" if s.audit_all else None,
               "reads": "1" if s.audit_reads else None,
               "from": s.audit_from.isoformat() if s.audit_from else None,
               "to": s.audit_to.isoformat() if s.audit_to else None}
    set_params(values, clear=audit.QUERY_KEYS)



def _list(store: str) -> None:
    hub = context.hub()
    _filters()
    try:
        query = audit.query_from_params(st.query_params, store)
    except InvalidInputError as exc:
        raise InvalidInputError(f"This link's filter is not valid: {exc}") from None
    size = page_size(default=PAGE_SIZES[1])
    pager = Pager("audit_pager", {"query": repr(query), "size": size})
    result = audit.audit_page(hub, query, limit=size, cursor=pager.cursor)
    if not result.entries:
        none = "No reads recorded match." if query.reads else "No audit entries match."
        st.info(none if pager.number == 1 else "No more entries.")
    else:
        shown = entries_table(result.entries, key=f"audit_table_{pager.page_id}",
                              labels=memories.every_user_label(hub))
        for entry in shown[:5]:
            entry_link(entry.seq or 0, f"Open audit entry {entry.seq}")
    matching = count_of(audit.audit_count(hub, query), "matching entry", "matching entries")
    pager.controls(result.next_cursor, note=f" · {matching}")
    if query.batch:
        _batch_revert(query.batch, _may_revert(store))


# --- one entry -----------------------------------------------------------------------------------------


def _entry(seq_text: str) -> None:
    if not seq_text.isdigit():
        raise InvalidInputError(f"entry must be an audit entry number, not {seq_text!r}")
    hub = context.hub()
    entry = audit.audit_entry(hub, int(seq_text))
    st.button("All entries", key="audit_back", icon=":material/arrow_back:",
              on_click=lambda: set_params({}, clear=("entry",)))
    entry_fields(entry)
    _links(entry)
    st.subheader("Before (−) and after (+)", anchor=False)
    diff_view(entry.before, entry.after, "before", "after")
    st.subheader("Revert", anchor=False)
    allowed = _may_revert(entry.store)
    _single_revert(entry, allowed)
    if entry.batch:
        _batch_revert(entry.batch, allowed)


def _links(entry: AuditEntry) -> None:
    cols = st.columns(3)
    with cols[0]:
        if entry.memory_id and entry.change is not Change.REMOVED:
            memory_link(entry.store, entry.memory_id, text=memory_preview(entry))
    if entry.memory_id:
        cols[1].page_link(nav.AUDIT.link, label="Every change of this memory", icon=":material/history:",
                          query_params={"store": entry.store, "id": entry.memory_id})
    if entry.batch:
        cols[2].page_link(nav.AUDIT.link, label="Every change of this batch", icon=":material/history:",
                          query_params={"store": entry.store, "batch": entry.batch})
    reverted_by = audit.reverted_by(context.hub(), [entry.seq or 0]).get(entry.seq or 0)
    if entry.reverts:
        entry_link(entry.reverts, f"This reverted audit entry {entry.reverts}")
    if reverted_by:
        entry_link(reverted_by, f"Reverted by audit entry {reverted_by}")


def _may_revert(store: str) -> bool:
    if context.actor().role_for(store) >= Role.EDITOR:
        return True
    st.caption("Your role can read the audit log, not revert changes.")
    return False


def _single_revert(entry: AuditEntry, allowed: bool) -> None:
    step = revert.plan(context.hub(), [entry])[0]
    if step.problem and step.problem.startswith("already reverted"):
        st.info(f"This change was {escape_markdown(step.problem)}.", icon=":material/undo:")
        return
    if step.problem:
        st.warning(f"This change cannot be reverted: {escape_markdown(step.problem)}.", icon=":material/block:")
        if step.current is not None and entry.after is not None:
            st.caption("As this entry left the memory (−) and as it is now (+):")
            diff_view(entry.after, revert.current_dict(step.current), "audited", "now")
    else:
        st.caption(_what_revert_does(entry))
    st.button("Revert this change…", key="audit_revert", type="primary", icon=":material/undo:",
              disabled=bool(step.problem) or not allowed, on_click=dialogs.open_dialog, args=(DIALOG,),
              kwargs={"seqs": [entry.seq], "batch": None})


def _what_revert_does(entry: AuditEntry) -> str:
    return {Change.CHANGED: "Reverting updates the memory back to its state before this change.",
            Change.REMOVED: "Reverting puts the memory back as it was (same id where the store keeps ids).",
            Change.CREATED: "Reverting deletes the memory this change created."}.get(entry.change, "")


def _batch_revert(batch: str, allowed: bool) -> None:
    total = audit.audit_count(context.hub(), AuditQuery(batch=batch))
    if total < 2:
        return
    st.caption(f"This batch holds {count_of(total, 'change')}: revert them as one unit (nothing is reverted "
               "when one of them conflicts with a later change, unless you then choose to revert the rest).")
    st.button(f"Revert the whole batch ({total:,})…", key="audit_revert_batch", icon=":material/undo:",
              disabled=not allowed, on_click=dialogs.open_dialog, args=(DIALOG,), kwargs={"seqs": None, "batch": batch})


# --- the confirmation: what the revert will do, before it does it ----------------------------------------------
EFFECT = {Change.CHANGED: "edited back", Change.REMOVED: "put back", Change.CREATED: "deleted"}


def _job_entries(job: dict) -> list[AuditEntry]:
    """The entries to revert, read when the dialog opens (a batch can hold thousands)."""
    hub = context.hub()
    if job["batch"]:
        return revert.batch_entries(hub, job["batch"])
    return [audit.audit_entry(hub, seq) for seq in job["seqs"]]


@st.dialog("Revert", width="large", on_dismiss=lambda: dialogs.close_dialog(DIALOG))
def _confirm(job: dict) -> None:
    with page.reported():
        entries = _job_entries(job)
        steps = revert.plan(context.hub(), entries)
        ready = [step for step in steps if not step.problem]
        conflicts = len(steps) - len(ready)
        st.markdown(f"**Revert {count_of(len(ready), 'change')}?** Each memory below is {_effects(ready)}; "
                    "the revert is itself audited and can be reverted.")
        if conflicts:
            st.warning(f"{count_of(conflicts, 'change')} of {len(steps):,} cannot be reverted (changed later, or "
                       "already reverted) and will be left as they are.", icon=":material/block:")
        for step in ready[:SHOWN_STEPS]:
            st.caption(f"Entry {step.entry.seq} · user {escape_markdown(step.entry.user_id)}: "
                       f"{EFFECT[step.entry.change]} (now (−), after the revert (+))")
            now = revert.current_dict(step.current) if step.current else None
            diff_view(_content(now), _content(step.entry.before), "now", "after the revert")
        if len(ready) > SHOWN_STEPS:
            st.caption(f"and {len(ready) - SHOWN_STEPS:,} more")
        go, cancel = st.columns(2)
        with cancel:
            dialogs.close_button(DIALOG, key="audit_revert_cancel")
        label = f"Revert {count_of(len(ready), 'change')}" + (" and leave the rest" if conflicts else "")
        if ready and go.button(label, key="audit_revert_confirm", type="primary"):
            revert_flow.run(entries, skip_conflicts=bool(conflicts))
            dialogs.close_dialog(DIALOG)
            st.rerun()


def _content(state: dict | None) -> dict | None:
    """What a revert puts back: the memory's content (the store sets the new version and times)."""
    return None if state is None else {k: v for k, v in state.items() if k not in ("version", "updated_at")}


def _effects(steps: list[revert.Step]) -> str:
    kinds = dict.fromkeys(EFFECT[step.entry.change] for step in steps)
    return " or ".join(kinds) or "left as it is"


st.title("Audit log")
store = page.store_or_stop()
page.show_flash()
revert_flow.show_conflicts()
with page.reported():
    if param("entry"):
        _entry(param("entry"))
    else:
        _list(store)
job = dialogs.payload(DIALOG)
if job:
    _confirm(job)
