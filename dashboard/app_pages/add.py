"""Add: one memory (text, conversation turns, tags, metadata), validated as the toolkit's ``MemoryItem``."""

from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from dashboard import context
from dashboard.components import page
from dashboard.components.editors import parse_metadata, tag_editor
from dashboard.components.memory_table import memory_link
from dashboard.components.url import param
from dashboard.services import memories
from dashboard.text import escape_markdown, truncate
from memory_core.access import Role
from memory_core.errors import InvalidInputError, MemdashError
from memory_core.items import item_text
from memory_core.models import MemoryItem


def _turns(frame: pd.DataFrame) -> tuple[list[dict[str, str]] | None, list[str]]:
    """Conversation messages from the editor's rows (blank rows dropped) and the problems found."""
    turns, problems = [], []
    for number, row in enumerate(frame.to_dict("records"), start=1):
        role, content = _cell(row.get("role")).strip(), _cell(row.get("content"))
        if not role and not content.strip():
            continue
        if not role or not content.strip():
            problems.append(f"turn {number} needs both a role and content")
        turns.append({"role": role, "content": content})
    return turns or None, problems


def _cell(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _validate(frame: pd.DataFrame, gen: int) -> tuple[MemoryItem | None, dict[str, list[str]]]:
    """The item built from form ``gen``, or the errors by field."""
    s, errors = st.session_state, {}
    conversation, errors["conversation"] = _turns(frame)
    try:
        metadata = parse_metadata(s[f"add_metadata_{gen}"])
    except InvalidInputError as exc:
        errors["metadata"], metadata = [str(exc)], {}
    data = {"user_id": s[f"add_user_{gen}"].strip(), "memory": s[f"add_memory_{gen}"].strip() or None,
            "tags": list(s[f"add_tags_{gen}"]), "metadata": metadata, "conversation": conversation}
    if not data["user_id"]:
        errors.setdefault("user_id", []).append("a user id is needed")
    if not data["memory"] and not conversation:
        errors.setdefault("memory", []).append("write a memory text or at least one conversation turn")
    try:
        item = MemoryItem.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            errors.setdefault(str(error["loc"][0]), []).append(error["msg"])
        item = None
    errors = {field: problems for field, problems in errors.items() if problems}
    return (None if errors else item), errors


def _added(store: str) -> None:
    """The last add's outcome, above the new, empty form, until the next add: a run that a second click causes
    (a double click) must not wipe it."""
    added = st.session_state.get("add_done")
    if added:
        memory_id, item = added
        text = escape_markdown(truncate(item_text(item), 120))
        st.success(f"Added “{text}” for {escape_markdown(item.user_id)}. The form below is empty: Add memory "
                   "adds another one.")
        if memory_id:
            memory_link(store, memory_id, label="Open the new memory")
        else:
            st.caption("This store does not return ids, so the new memory cannot be linked.")


def _form(store: str, gen: int, reader: bool) -> None:
    """Form number ``gen``: its widgets are new after every add, so the browser shows them empty and a second
    click on the old form's button (a double click) submits nothing."""
    with st.form(f"add_form_{gen}"):
        st.text_input("User id", key=f"add_user_{gen}")
        st.text_area("Memory text", key=f"add_memory_{gen}", height=120)
        st.caption("Conversation (optional): one row per turn; roles are usually user and assistant.")
        frame = st.data_editor(pd.DataFrame({"role": pd.Series(dtype=str), "content": pd.Series(dtype=str)}),
                               num_rows="dynamic", key=f"add_conversation_{gen}", hide_index=True,
                               column_config={"role": st.column_config.TextColumn("role", width="small"),
                                              "content": st.column_config.TextColumn("content", width="large")})
        tag_editor("Tags", key=f"add_tags_{gen}")
        st.text_area("Metadata (optional JSON object)", key=f"add_metadata_{gen}", height=100,
                     placeholder='for example {"source": "support call"}')
        submitted = st.form_submit_button("Add memory", type="primary", icon=":material/add:", disabled=reader)
    if not submitted:
        return
    item, errors = _validate(frame, gen)
    for field, problems in errors.items():
        for problem in problems:
            said = "" if problem.startswith(field) else f"**{field}**: "  # metadata errors name their field
            st.error(said + escape_markdown(problem))
    if item is None:
        return
    st.session_state.add_gen = gen + 1  # before the write: nothing can submit form ``gen`` again
    try:
        new_id = memories.add_memory(context.hub(), context.actor(), store, item)
    except (MemdashError, OSError, TimeoutError) as exc:
        st.session_state.add_gen = gen  # nothing was added: keep this form and what was typed in it
        page.show_error(exc)
        return
    st.session_state.add_done = (new_id, item)
    st.rerun()


st.title("Add a memory")
store = page.store_or_stop()
_added(store)
gen = st.session_state.setdefault("add_gen", 0)
st.session_state.setdefault(f"add_user_{gen}", st.session_state.get(f"add_user_{gen - 1}") or param("user"))
reader = context.actor().role_for(store) < Role.EDITOR
if reader:
    st.info("Your role can read memories, not add them.")
_form(store, gen, reader)
