"""Erase a person (the Users page; the dashboard's admins only), in two steps: "Erase this person…" opens a dialog
with the count of everything the erasure removes, and "Erase" runs it once the user id is typed again. The
receipt (counts per place, who, when; the user only as a key) is shown after. docs/security.md "Erasure"."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import context
from dashboard.components import dialogs, undo
from dashboard.components.page import flash, reported
from dashboard.services import erasure
from dashboard.text import escape_markdown
from memory_core.access import Role

DIALOG = "erase"


def erase_panel(store: str, user_id: str | None) -> None:
    """The panel under the users table (``user_id``: the selected user, prefilled); nothing for non-admins."""
    if context.actor().role < Role.ADMIN:
        return
    key = f"erase_user_{user_id or ''}"
    with st.expander("Erase a person", icon=":material/person_remove:"):
        st.caption("Removes the user's memories from this store, the content of every audit entry about them "
                   "(changes, the trash, labels, review approvals, read records; the entries stay as who, when "
                   "and what kind) and their lines in this store's snapshots. Nothing is removed before you "
                   "confirm.")
        st.text_input("User id", value=user_id or "", key=key)
        st.button("Erase this person…", key="erase_open", on_click=_open, args=(store, key),
                  icon=":material/person_remove:")
    job = dialogs.payload(DIALOG)
    if job and job["store"] == store:
        _confirm(job)


def _open(store: str, key: str) -> None:
    """Button callback: the user id as typed at the click."""
    user_id = str(st.session_state.get(key) or "")
    if not user_id:
        flash("Type the user id of the person to erase.", "error")
        return
    dialogs.open_dialog(DIALOG, store=store, user_id=user_id)


@st.dialog("Erase a person", on_dismiss=lambda: dialogs.close_dialog(DIALOG))
def _confirm(job: dict[str, Any]) -> None:
    store, user_id = job["store"], job["user_id"]
    with reported():
        plan = erasure.erasure_plan(context.hub(), context.actor(), store, user_id)
        if plan.empty:
            message = plan.nothing_message()
            st.info(escape_markdown(message[0].upper() + message[1:] + "."))
            dialogs.close_button(DIALOG, "Close", key="erase_close")
            return
        st.markdown(f"**Erase user {escape_markdown(user_id)} from store {escape_markdown(store)}?** This removes:")
        st.text("\n".join(plan.lines()))
        st.warning("This cannot be undone: nothing goes to the trash. Copies already downloaded, backups of the "
                   "files and what a hosted service keeps on its side are not reached.", icon=":material/warning:")
        typed = st.text_input("Type the user id to confirm", key="erase_typed")
        go, cancel = st.columns(2)
        with cancel:
            dialogs.close_button(DIALOG, key="erase_cancel")
        if go.button("Erase", key="erase_go", type="primary", disabled=typed != user_id):
            _run(store, user_id, typed)


def _run(store: str, user_id: str, typed: str) -> None:
    """Erase, then close the dialog and show the receipt; a failure stays in the dialog (running it again
    resumes the erasure)."""
    with st.spinner("Erasing…"):
        receipt = erasure.erase_person(context.hub(), context.actor(), store, user_id, typed)
    dialogs.close_dialog(DIALOG)
    undo.withdraw(store)
    for key in [k for k in st.session_state if str(k).startswith(("users_table_", "erase_typed"))]:
        del st.session_state[key]  # the erased user's row is gone: no selection may land on another
    flash(escape_markdown("\n".join(receipt.lines())))
    st.rerun()
