"""Where a memory came from, as keys of its metadata, set when an agent writes it through the toolkit's memory
tools (into a memdash store) or memdash's own (docs/toolkit.md, "Where a memory came from").

``source_conversation`` (the toolkit's ``Context.conversation_id``), ``source_function`` (the function that
wrote it: ``Context.active_function``, else the tool's name), ``source_workflow_run``
(``Context.workflow_run_id``) and ``written_at`` (UTC, ISO 8601). Flat scalar keys, so a metadata filter finds
the other memories of a conversation; keys the agent set itself are kept; outside a toolkit workflow only what
is known is set. Plain metadata, so every store that keeps metadata keeps them.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

from memory_core.models import MemoryItem

CONVERSATION, FUNCTION, WORKFLOW_RUN, WRITTEN_AT = ("source_conversation", "source_function",
                                                    "source_workflow_run", "written_at")
KEYS = (CONVERSATION, FUNCTION, WORKFLOW_RUN, WRITTEN_AT)
_ROOT = "root"  # the toolkit's name for "no function is running"


def toolkit_context() -> dict[str, Any]:
    """What the toolkit's ``Context`` says about the running workflow; empty without the toolkit."""
    try:
        context = importlib.import_module("nat.builder.context").Context.get()
    except ImportError:
        return {}
    function = getattr(getattr(context, "active_function", None), "function_name", None)
    return {CONVERSATION: context.conversation_id, WORKFLOW_RUN: context.workflow_run_id,
            FUNCTION: function if function != _ROOT else None}


def stamped(item: MemoryItem, *, function: str | None = None) -> MemoryItem:
    """``item`` with its provenance added to its metadata (the item's own keys win)."""
    found = {WRITTEN_AT: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **toolkit_context()}
    if function and not found.get(FUNCTION):
        found[FUNCTION] = function
    known = {key: value for key, value in found.items() if value}
    return item.model_copy(update={"metadata": {**known, **item.metadata}})
