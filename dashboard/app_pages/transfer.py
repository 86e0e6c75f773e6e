"""Import / export: lossless JSONL and CSV. Exports are written a page of records at a time when the
download is clicked; imports are validated whole before anything is written."""

import secrets

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from dashboard import context
from dashboard.components import page
from dashboard.components.filter_form import filter_form
from dashboard.services import downloads, filters, memories
from dashboard.text import count_of, escape_markdown, truncate
from memory_core.access import Role
from memory_core.audit.imports import ImportPlan, ImportResult, OnExisting
from memory_core.errors import InvalidInputError, MemdashError
from memory_core.interfaces import Capability
from memory_core.records import MemoryRecord
from memory_core.transfer import ParseReport

CONTENT = ("memory", "tags", "metadata", "conversation")


def _export(store: str) -> None:
    hub = context.hub()
    st.subheader("Export", anchor=False)
    filter_form(key="export")
    with page.reported():
        try:
            flt = filters.filter_from_params(st.query_params)
        except InvalidInputError as exc:
            raise InvalidInputError(f"This link's filter is not valid: {exc}") from None
        memories.lister(hub, store, flt)
        if hub.can(store, Capability.COUNT):
            st.caption(f"{count_of(memories.count_memories(hub, store, flt), 'memory', 'memories')} to export.")
        fmt = st.radio("Format", list(downloads.MIME), key="export_format", horizontal=True,
                       format_func=lambda f: {"jsonl": "JSONL (lossless)", "csv": "CSV"}[f])
        _download_button(downloads.Ticket(hub, context.actor(), store, flt, fmt, owner=_session_key()))


def _download_button(ticket: downloads.Ticket) -> None:
    """A link the browser streams the export from, or (without :mod:`dashboard.server`) Streamlit's in-memory
    download button."""
    label = f"Download {ticket.fmt.upper()}"
    if downloads.TICKETS.served:
        st.link_button(label, downloads.link(ticket), key="export_download", icon=":material/download:")
    else:
        st.download_button(label, data=lambda: memories.export_file(ticket.hub, ticket.actor, ticket.store,
                                                                    ticket.flt, ticket.fmt),
                           file_name=ticket.file_name, mime=downloads.MIME[ticket.fmt], key="export_download",
                           icon=":material/download:", on_click="ignore")


def _session_key() -> str:
    """A random name for this browser session, so its newest download link replaces its older ones."""
    return st.session_state.setdefault("download_owner", secrets.token_hex(16))


def _report(upload: UploadedFile) -> ParseReport:
    """Parse the uploaded file once per upload."""
    cached = st.session_state.get("import_report")
    if not cached or cached[0] != upload.file_id:
        st.session_state.import_report = (upload.file_id, memories.parse_upload(upload.name, upload.getvalue()))
    return st.session_state.import_report[1]


def _show_report(report: ParseReport) -> None:
    st.caption(f"{count_of(report.total, 'row')}: {len(report.records):,} valid, {len(report.errors):,} invalid.")
    if report.errors:
        st.error(f"{count_of(len(report.errors), 'invalid row')}, listed by line number. Nothing is imported "
                 "unless you choose to skip them.")
        st.dataframe(pd.DataFrame(report.errors[:1000], columns=["line", "problem"]), hide_index=True)


def _done_message(upload: UploadedFile, store: str) -> str | None:
    """The outcome of importing this upload into this store, once it has been (the same file may still go
    into another store)."""
    done = st.session_state.get("import_done")
    return done[2] if done and done[:2] == (upload.file_id, store) else None


def _plan(upload: UploadedFile, store: str, report: ParseReport) -> ImportPlan | None:
    """Which of the file's ids the store holds, read once per upload and store."""
    cached = st.session_state.get("import_plan")
    if not cached or cached[0] != (upload.file_id, store):
        st.session_state.import_plan = ((upload.file_id, store), memories.import_plan(context.hub(), store,
                                                                                      report.records))
    return st.session_state.import_plan[1]


def _collisions(plan: ImportPlan, report: ParseReport, store: str) -> tuple[bool, OnExisting | None]:
    """Show the ids that exist already and ask what to do with them: ``(ready, choice)``, not ready while a
    choice is needed."""
    if plan.identical:
        st.caption(f"{count_of(len(plan.identical), 'row')} of this file already in the store exactly as they are: "
                   "left alone.")
    colliding = plan.colliding
    if not colliding:
        return True, None
    lines = report.line_of()
    uses = "uses an id that already exists" if len(colliding) == 1 else "use ids that already exist"
    st.warning(f"{count_of(len(colliding), 'row')} of this file {uses} in store '{escape_markdown(store)}' with "
               "other content. Choose what to do with them; nothing is imported until you do.",
               icon=":material/content_copy:")
    st.dataframe(pd.DataFrame([{"line": lines[r.id], "id": r.id, "user": r.user_id,
                                "in the store": truncate(plan.existing[r.id].item.memory or "", 80),
                                "in the file": truncate(r.item.memory or "", 80),
                                "differs in": ", ".join(_differing(plan.existing[r.id], r))} for r in colliding[:1000]],
                              columns=["line", "id", "user", "in the store", "in the file", "differs in"]),
                 hide_index=True)
    choice = st.radio("Rows whose id exists", list(OnExisting), format_func=lambda o: o.label, index=None,
                      key="import_on_existing")
    moved = plan.moved_users()
    if choice is OnExisting.OVERWRITE and moved:
        st.error(f"{count_of(len(moved), 'row')} name another user than the stored memory (line "
                 f"{lines[moved[0].id]}, id {escape_markdown(moved[0].id)}): overwriting cannot move a memory to "
                 "another user. Skip them or import them under new ids.")
        return False, choice
    return choice is not None, choice


def _differing(stored: MemoryRecord, row: MemoryRecord) -> list[str]:
    """The content fields an overwrite would change (a row written by hand without tags clears them)."""
    return [field for field in CONTENT if getattr(stored.item, field) != getattr(row.item, field)]


def _run_import(store: str, report: ParseReport, on_existing: OnExisting | None) -> ImportResult:
    """Import with a progress bar; a failure midway says which rows are in and how to finish."""
    bar, written = st.progress(0.0, text="Importing…"), [0]

    def progress(done: int, total: int) -> None:
        written[0] = done
        bar.progress(done / total, text=f"{done:,} of {total:,}")

    try:
        return memories.import_records(context.hub(), context.actor(), store, report.records,
                                       on_existing=on_existing, progress=progress)
    except (MemdashError, OSError, TimeoutError) as exc:
        done = (f"rows up to line {report.lines[written[0] - 1]} ({written[0]:,} of {len(report.records):,}) were "
                "written and audited" if written[0] else "nothing was written")
        raise MemdashError(f"Import stopped: {exc}; {done}. Import the same file again to finish: the rows "
                           "already in the store as the file has them are left alone.") from exc


def _import(store: str) -> None:
    st.subheader("Import", anchor=False)
    reader = context.actor().role_for(store) < Role.EDITOR
    if reader:
        st.info("Your role can export memories, not import them.")
    upload = st.file_uploader("JSONL or CSV file", type=["jsonl", "json", "ndjson", "csv"], key="import_file")
    if upload is None:
        return
    with page.reported():
        report = _report(upload)
        _show_report(report)
        done = _done_message(upload, store)
        if done:
            st.success(done)
        plan = None if done else _plan(upload, store, report)
        if plan is None and not done:
            st.warning("This store does not keep ids and timestamps: imported memories get new ones.")
        ready, on_existing = _collisions(plan, report, store) if plan else (True, None)
        skip = bool(report.errors) and st.checkbox("Skip invalid rows", key="import_skip")
        blocked = reader or done or not report.records or (report.errors and not skip) or not ready
        label = f"Import {count_of(len(report.records), 'row')} into '{escape_markdown(store)}'"
        if st.button(label, key="import_go", type="primary", disabled=bool(blocked)):
            result = _run_import(store, report, on_existing)
            message = f"Imported into store '{escape_markdown(store)}': {result.summary()}."
            st.session_state.import_done = (upload.file_id, store, message)
            st.session_state.pop("import_plan", None)
            st.rerun()  # the export count above and this button must show the store as it is now


st.title("Import / export")
store = page.store_or_stop()
_export(store)
st.divider()
_import(store)
