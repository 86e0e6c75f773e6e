"""Revert (or restore) audited changes from a button, as one unit.

A button's callback runs :func:`dashboard.revert.revert`. When some changes conflict with later ones, nothing
is reverted: the page then shows the conflicts with diffs and offers to revert the rest (:func:`show_conflicts`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from dashboard import context
from dashboard.components.audit_view import diff_view, memory_preview
from dashboard.components.page import flash
from dashboard.services import revert
from dashboard.text import count_of, escape_markdown
from memory_core.audit import AuditEntry
from memory_core.errors import MemdashError

_PENDING = "_revert_conflicts"
SHOWN_DIFFS = 5
VERBS = {"revert": ("Revert", "Reverted", "change"), "restore": ("Restore", "Restored", "memory"),
         "undo": ("Undo", "Undone", "change")}


def run(entries: Sequence[AuditEntry], *, skip_conflicts: bool = False, action: str = "revert") -> bool:
    """``on_click`` callback: revert ``entries``; the outcome is a flash message or the pending conflicts.
    True when something was reverted."""
    st.session_state.pop(_PENDING, None)
    try:
        result = revert.revert(context.hub(), context.actor(), entries, skip_conflicts=skip_conflicts)
    except (MemdashError, OSError, TimeoutError) as exc:
        flash(f"Nothing was {VERBS[action][1].lower()}: {escape_markdown(exc)}", "error")
        return False
    verb, done, noun = VERBS[action]
    if result.conflicts and not result.reverted and _all_done_before(result.conflicts, len(entries)):
        total = len(entries)
        flash(f"Nothing to {verb.lower()}: {'it was' if total == 1 else f'all {total:,} were'} already "
              f"{done.lower()} ({escape_markdown(result.conflicts[0].problem)}).", "info")
        return False
    if result.conflicts and not result.reverted:
        st.session_state[_PENDING] = {"entries": list(entries), "conflicts": result.conflicts, "action": action}
        return False
    message = f"{done} {count_of(len(result.reverted), noun, _plural(noun))}."
    if result.conflicts:
        message += f" Left {count_of(len(result.conflicts), 'conflicting change')} as they are."
    notes = " ".join(escape_markdown(note) for note in result.notes)
    flash(f"{message} {notes}".strip())
    return True


def show_conflicts() -> None:
    """The conflicts of the last revert that was refused, with diffs and the choice to revert the rest."""
    pending = st.session_state.get(_PENDING)
    if not pending:
        return
    conflicts: list[revert.Step] = pending["conflicts"]
    total, others = len(pending["entries"]), len(pending["entries"]) - len(pending["conflicts"])
    verb, done, noun = VERBS[pending["action"]]
    st.error(f"Nothing was {done.lower()}: {count_of(len(conflicts), noun, _plural(noun))} of {total:,} cannot be "
             f"{done.lower()} (changed later, or already {done.lower()}). Nothing was overwritten.",
             icon=":material/block:")
    st.dataframe(pd.DataFrame([{"entry": s.entry.seq, "user": s.entry.user_id, "memory": memory_preview(s.entry),
                                "problem": s.problem} for s in conflicts],
                              columns=["entry", "user", "memory", "problem"]), hide_index=True)
    for step in conflicts[:SHOWN_DIFFS]:
        if step.current is not None:
            st.caption(f"Entry {step.entry.seq}: as the entry left the memory (−) and as it is now (+)")
            diff_view(step.entry.after, revert.current_dict(step.current), "audited", "now")
    left, right, _ = st.columns([2, 1, 3])
    if others:
        left.button(f"{verb} the other {others:,}", key="revert_rest", on_click=run, args=(pending["entries"],),
                    kwargs={"skip_conflicts": True, "action": pending["action"]})
    right.button("Dismiss", key="revert_dismiss", on_click=lambda: st.session_state.pop(_PENDING, None))


def _all_done_before(conflicts: list[revert.Step], total: int) -> bool:
    """Every entry was reverted already (another operator, the Trash page): nothing conflicts, nothing to do."""
    return len(conflicts) == total and all((s.problem or "").startswith("already") for s in conflicts)


def _plural(noun: str) -> str | None:
    return "memories" if noun == "memory" else None
