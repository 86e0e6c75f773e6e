"""Add: one memory (text, conversation turns, tags, metadata), validated as the toolkit's ``MemoryItem``."""

from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from dashboard import context, services
from dashboard.access import Role
from dashboard.components import page
from dashboard.components.editors import parse_metadata, tag_editor
from dashboard.components.memory_table import memory_link
from dashboard.components.text import escape_markdown
from dashboard.components.url import param
from memory_core.errors import InvalidInputError
from memory_core.models import MemoryItem

KEYS = ("add_user", "add_memory", "add_conversation", "add_tags", "add_metadata")


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


def _validate(frame: pd.DataFrame) -> tuple[MemoryItem | None, dict[str, list[str]]]:
    """The item built from the form, or the errors by field."""
    s, errors = st.session_state, {}
    conversation, errors["conversation"] = _turns(frame)
    try:
        metadata = parse_metadata(s.add_metadata)
    except InvalidInputError as exc:
        errors["metadata"], metadata = [str(exc)], {}
    data = {"user_id": s.add_user.strip(), "memory": s.add_memory.strip() or None, "tags": list(s.add_tags),
            "metadata": metadata, "conversation": conversation}
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


def _reset_after_add() -> None:
    """Empty the form on the run after a successful add (widget state can only change before widgets exist)."""
    if st.session_state.pop("add_reset", False):
        for key in KEYS:
            st.session_state.pop(key, None)


def _added(store: str) -> None:
    added = st.session_state.pop("add_done", None)
    if added:
        memory_id, user_id = added
        st.success(f"Added a memory for {escape_markdown(user_id)}.")
        if memory_id:
            memory_link(store, memory_id, label="Open the new memory")
        else:
            st.caption("This store does not return ids, so the new memory cannot be linked.")


st.title("Add a memory")
store = page.store_or_stop()
_reset_after_add()
_added(store)
st.session_state.setdefault("add_user", param("user"))
st.session_state.setdefault("add_metadata", "{}")
reader = context.actor().role_for(store) < Role.EDITOR
if reader:
    st.info("Your role can read memories, not add them.")
with st.form("add_form"):
    st.text_input("User id", key="add_user")
    st.text_area("Memory text", key="add_memory", height=120)
    st.caption("Conversation (optional): one row per turn; roles are usually user and assistant.")
    frame = st.data_editor(pd.DataFrame({"role": pd.Series(dtype=str), "content": pd.Series(dtype=str)}),
                           num_rows="dynamic", key="add_conversation", hide_index=True,
                           column_config={"role": st.column_config.TextColumn("role", width="small"),
                                          "content": st.column_config.TextColumn("content", width="large")})
    tag_editor("Tags", key="add_tags")
    st.text_area("Metadata (JSON object)", key="add_metadata", height=100)
    submitted = st.form_submit_button("Add memory", type="primary", icon=":material/add:", disabled=reader)
if submitted:
    item, errors = _validate(frame)
    for field, problems in errors.items():
        for problem in problems:
            said = "" if problem.startswith(field) else f"**{field}**: "  # metadata errors name their field
            st.error(said + escape_markdown(problem))
    if item is not None:
        with page.reported():
            new_id = services.add_memory(context.hub(), context.actor(), store, item)
            st.session_state.add_done, st.session_state.add_reset = (new_id, item.user_id), True
            st.rerun()
