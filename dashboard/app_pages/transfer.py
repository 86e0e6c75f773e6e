"""Import / export: lossless JSONL and CSV. Exports are written a page of records at a time when the
download is clicked; imports are validated whole before anything is written."""

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from dashboard import context, services, state
from dashboard.access import Role
from dashboard.components import page
from dashboard.components.filter_form import filter_form
from dashboard.components.text import count_of, escape_markdown
from memory_core.errors import InvalidInputError
from memory_core.interfaces import Capability
from memory_core.transfer import ParseReport

MIME = {"jsonl": "application/jsonl", "csv": "text/csv"}


def _export(store: str) -> None:
    hub = context.hub()
    st.subheader("Export", anchor=False)
    filter_form(key="export")
    with page.reported():
        try:
            flt = state.filter_from_params(st.query_params)
        except InvalidInputError as exc:
            raise InvalidInputError(f"This link's filter is not valid: {exc}") from None
        services.lister(hub, store, flt)
        if hub.can(store, Capability.COUNT):
            st.caption(f"{count_of(services.count_memories(hub, store, flt), 'memory', 'memories')} to export.")
        fmt = st.radio("Format", list(MIME), key="export_format", horizontal=True,
                       format_func=lambda f: {"jsonl": "JSONL (lossless)", "csv": "CSV"}[f])
        st.download_button(f"Download {fmt.upper()}", data=lambda: services.export_file(hub, store, flt, fmt),
                           file_name=f"{store}-memories.{fmt}", mime=MIME[fmt], key="export_download",
                           icon=":material/download:", on_click="ignore")


def _report(upload: UploadedFile) -> ParseReport:
    """Parse the uploaded file once per upload."""
    cached = st.session_state.get("import_report")
    if not cached or cached[0] != upload.file_id:
        st.session_state.import_report = (upload.file_id, services.parse_upload(upload.name, upload.getvalue()))
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


def _import(store: str) -> None:
    hub = context.hub()
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
        if not hub.can(store, Capability.IMPORT):
            st.warning("This store does not keep ids and timestamps: imported memories get new ones.")
        skip = bool(report.errors) and st.checkbox("Skip invalid rows", key="import_skip")
        done = _done_message(upload, store)
        blocked = reader or not report.records or (report.errors and not skip) or done
        if done:
            st.success(done)
        label = f"Import {count_of(len(report.records), 'memory', 'memories')} into '{escape_markdown(store)}'"
        if st.button(label, key="import_go", type="primary", disabled=bool(blocked)):
            bar = st.progress(0.0, text="Importing…")
            n = services.import_records(hub, context.actor(), store, report.records,
                                        progress=lambda d, t: bar.progress(d / t, text=f"{d:,} of {t:,}"))
            message = f"Imported {count_of(n, 'memory', 'memories')} into store '{escape_markdown(store)}'."
            st.session_state.import_done = (upload.file_id, store, message)
            st.rerun()  # the export count above and this button must show the store as it is now


st.title("Import / export")
store = page.store_or_stop()
_export(store)
st.divider()
_import(store)
