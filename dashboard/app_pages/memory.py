"""Memory (``?store=&id=``): one memory in full, its conversation, and editing with a version check."""

import difflib
import json
import uuid
from typing import Any

import streamlit as st

from dashboard import context
from dashboard.components import dialogs, nav, page, undo
from dashboard.components.conversation import conversation_view
from dashboard.components.editors import metadata_editor, metadata_text, parse_metadata, tag_editor
from dashboard.components.history_view import history_panel, life_panel, origin, usage
from dashboard.components.memory_table import memory_link
from dashboard.components.times import local_time
from dashboard.components.url import param, set_params
from dashboard.services import catalog, memories
from dashboard.services.hub import cannot_message
from dashboard.text import escape_markdown, truncate, user_shown
from memory_core.access import Role
from memory_core.conversations import conversation_of
from memory_core.errors import MemdashError, NotFoundError, VersionConflictError
from memory_core.interfaces import Capability
from memory_core.items import item_text
from memory_core.records import MemoryPatch, MemoryRecord

FIELDS = ("detail_memory", "detail_tags", "detail_metadata")


def _load(record: MemoryRecord) -> None:
    """Put ``record`` in the editors; it becomes the version a save is checked against."""
    s = st.session_state
    s.detail_base = record
    s.detail_memory = record.item.memory or ""
    s.detail_tags = list(record.item.tags)
    s.detail_metadata = metadata_text(record.item.metadata)
    s.pop("detail_conflict", None)


def _yours() -> dict[str, Any]:
    """The editors' values; metadata must parse (``InvalidInputError`` otherwise)."""
    s = st.session_state
    return {"memory": s.detail_memory or None, "tags": list(s.detail_tags),
            "metadata": parse_metadata(s.detail_metadata)}


def _save(store: str) -> None:
    """Save callback: only changed fields, against the loaded version; the outcome is shown by the page."""
    s, base = st.session_state, st.session_state.detail_base
    try:
        yours = _yours()
        changes = {k: v for k, v in yours.items() if v != getattr(base.item, k)}
        if not changes:
            s.detail_outcome = ("info", "Nothing changed.")
            return
        after = memories.update_memory(context.hub(), context.actor(), store, base.id, MemoryPatch(**changes),
                                       expected_version=base.version)
    except VersionConflictError as exc:
        s.detail_conflict = {"current": exc.current, "yours": yours}
        return
    except (MemdashError, OSError, TimeoutError) as exc:
        s.detail_outcome = ("error", f"Not saved: {escape_markdown(exc)}")
        return
    _load(after)
    s.detail_outcome = ("success", f"Saved: this memory is now version {after.version}.")
    s.detail_agent = after.id


def _as_text(memory: str | None, tags: list[str], metadata: dict[str, Any]) -> list[str]:
    lines = ["memory:", *(memory or "").splitlines(), f"tags: {', '.join(tags)}", "metadata:"]
    return lines + json.dumps(metadata, indent=2, ensure_ascii=False, sort_keys=True).splitlines()


def _show_conflict(conflict: dict[str, Any]) -> None:
    current: MemoryRecord | None = conflict["current"]
    base: MemoryRecord = st.session_state.detail_base
    if current is None:
        st.error("Not saved: this memory was deleted since you loaded it. Your edits are still in the form.")
        return
    st.error(f"Not saved: someone changed this memory since you loaded it (you edited version {base.version}, "
             f"the store has version {current.version}). Nothing was overwritten. Stored (−) vs yours (+):")
    yours = conflict["yours"]
    diff = difflib.unified_diff(_as_text(current.item.memory, current.item.tags, current.item.metadata),
                                _as_text(yours["memory"], yours["tags"], yours["metadata"]),
                                f"stored version {current.version}", "yours", lineterm="")
    st.code("\n".join(diff), language="diff")
    st.button(f"Load version {current.version} (discard my edits)", key="detail_take_current",
              on_click=_load, args=(current,))


def _what_the_agent_finds(store: str, record: MemoryRecord) -> None:
    """After a save: does the agent's own get_memory tool still find this memory when asked for its text?"""
    query = record.item.memory or " ".join(m.get("content", "") for m in record.item.conversation or [])
    with page.reported():
        output = memories.agent_view(context.hub(), store, user_id=record.user_id, query=query)
        found = json.loads(output.split("\n", 1)[1])
        texts = [m.get("memory") for m in found]
        if record.item.memory in texts:
            st.caption(f"The agent's get_memory tool, asked for this text, returns it as hit "
                       f"{texts.index(record.item.memory) + 1} of {len(found)}.")
        else:
            st.warning("The agent's get_memory tool, asked for this very text, does not return this memory: "
                       "the agent may not find it (for example, the store's vectors come from an embedder "
                       "memdash does not have).", icon=":material/visibility_off:")
        with st.expander("What the agent receives for that query"):
            st.code(output, language=None, wrap_lines=True)


def _open_form() -> None:
    st.text_input("Memory id", key="detail_open_id")
    st.button("Open", key="detail_open", on_click=lambda: set_params({"id": st.session_state.detail_open_id.strip()}))
    st.caption("Or pick a memory on the Browse or Search page.")


def _header(store: str, record: MemoryRecord) -> None:
    st.text(f"id: {record.id}")
    cols = st.columns(4)
    cols[0].text(f"user: {user_shown(record.user_id, memories.user_labels(context.hub(), store))}")
    cols[1].text(f"version: {record.version}")
    cols[2].text(f"created: {local_time(record.created_at)}")
    cols[3].text(f"updated: {local_time(record.updated_at)}")


def _editors(store: str, record: MemoryRecord, editable: bool) -> None:
    if editable:
        st.text_area("Memory text", key="detail_memory", height=200)
    else:
        st.caption("Memory text")
        st.text(record.item.memory or "(no memory text)")
    tag_editor("Tags", key="detail_tags", options=[*record.item.tags, *st.session_state.detail_tags],
               disabled=not editable)
    metadata_editor(key="detail_metadata", disabled=not editable)
    with st.container(horizontal=True):  # buttons as wide as their labels, at any window width
        st.button("Save", key="detail_save", type="primary", on_click=_save, args=(store,), disabled=not editable,
                  icon=":material/save:")
        st.button("Delete…", key="detail_delete", on_click=dialogs.open_dialog, args=("delete_memory",),
                  kwargs={"store": store, "record": record}, icon=":material/delete:",
                  disabled=not context.hub().can(store, Capability.DELETE_BY_IDS)
                  or context.actor().role_for(store) < Role.EDITOR)


def _close_delete() -> None:
    dialogs.close_dialog("delete_memory")


@st.dialog("Delete memory", on_dismiss=_close_delete)
def _confirm_delete(store: str, record: MemoryRecord) -> None:
    st.markdown("**Delete this memory?** It goes to the trash: you can undo it right after, or restore it from "
                "the Trash page.")
    st.text(truncate(item_text(record.item), 300))
    go, cancel = st.columns(2)
    with cancel:
        dialogs.close_button("delete_memory", key="detail_delete_cancel")
    if go.button("Delete", key="detail_delete_confirm", type="primary"):
        with page.reported():
            batch = uuid.uuid4().hex
            deleted = memories.delete_memories(context.hub(), context.actor(), store, [record.id], batch=batch,
                                               expected_versions={record.id: record.version})
            _close_delete()
            text = escape_markdown(truncate(item_text(record.item), 80))
            page.flash(f"Deleted “{text}” (user {escape_markdown(record.user_id)})." if deleted
                       else f"“{text}” was already deleted.")
            if deleted:
                undo.offer(store, batch)
            st.switch_page(nav.BROWSE.link, query_params={"store": store, "user": record.user_id})


def _whole_conversation(store: str, record: MemoryRecord) -> None:
    """The other memories of this memory's conversation, in order (the toolkit's auto-memory keeps one message
    per memory), this one marked."""
    named = conversation_of(record.item)
    records = memories.conversation_records(context.hub(), store, record) if named else []
    if len(records) < 2:
        return
    with st.expander(f"The whole conversation: {len(records)} memories ({named[0]} {named[1]})"):
        for other in records:
            this = " (this memory)" if other.id == record.id else ""
            st.caption(f"{local_time(other.created_at)}{this}")
            conversation_view(other.item.conversation or [{"role": "memory", "content": other.item.memory or ""}])
            if not this:
                memory_link(store, other.id, text=item_text(other.item))


def _fetch(store: str, memory_id: str) -> MemoryRecord:
    try:
        return memories.get_memory(context.hub(), store, memory_id)
    except NotFoundError:
        st.warning(f"Memory {escape_markdown(memory_id)} does not exist in store '{escape_markdown(store)}': "
                   "it may have been deleted.", icon=":material/delete_forever:")
        st.page_link(nav.BROWSE.link, label="Browse memories", query_params={"store": store})
        st.stop()


def _show(store: str, record: MemoryRecord) -> None:
    s = st.session_state
    base = s.get("detail_base")
    if base is None or base.id != record.id or any(key not in s for key in FIELDS):
        _load(record)
        base = record
    _header(store, base)
    origin(store, base)
    usage(store, base)
    kind, message = s.pop("detail_outcome", (None, None))
    if kind:
        getattr(st, kind)(message)
    if s.pop("detail_agent", None) == record.id:
        _what_the_agent_finds(store, base)
    if why := catalog.unfindable_reason(context.hub(), store, record.id):
        st.warning(f"The agent's search cannot find this memory: {escape_markdown(why)}. An admin can give it a "
                   "vector on the Stores page (“What the agent's search can find”).", icon=":material/visibility_off:")
    if "detail_conflict" in s:
        _show_conflict(s.detail_conflict)
    elif record.version != base.version:
        st.warning(f"This memory changed since you loaded it (now version {record.version}): saving will show "
                   "both versions, nothing is overwritten.")
        st.button(f"Load version {record.version}", key="detail_reload", on_click=_load, args=(record,))
    can_update = context.hub().can(store, Capability.UPDATE)
    editable = can_update and context.actor().role_for(store) >= Role.EDITOR
    if not can_update:
        st.info(escape_markdown(cannot_message(store, Capability.UPDATE)), icon=":material/block:")
    elif not editable:
        st.info("Your role can read memories, not edit them.")
    life_panel(store, record, editable=editable)
    _editors(store, base, editable)
    st.subheader("Conversation", anchor=False)
    conversation_view(base.item.conversation)
    _whole_conversation(store, base)
    history_panel(store, record, editable=editable)
    job = dialogs.payload("delete_memory")
    if job and job["record"].id == record.id:
        _confirm_delete(job["store"], job["record"])


st.title("Memory")
store = page.store_or_stop()
page.show_flash()
memory_id = param("id")
if not memory_id:
    _open_form()
    st.stop()
with page.reported():
    _show(store, _fetch(store, memory_id))
