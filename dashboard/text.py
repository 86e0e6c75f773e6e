"""Showing untrusted text: escape it for markdown, shorten it for tables."""

from __future__ import annotations

import string
from collections.abc import Mapping

_PUNCTUATION = frozenset(string.punctuation)


def escape_markdown(text: object) -> str:
    """``text`` as markdown that renders literally: every ASCII punctuation character is backslash-escaped,
    so no emphasis, link, HTML tag, ``:color[...]`` directive or ``$math$`` can come out of it."""
    escaped = "".join(f"\\{ch}" if ch in _PUNCTUATION else ch for ch in str(text))
    return escaped.replace("\n", "  \n")


def truncate(text: str | None, limit: int = 200) -> str:
    """At most ``limit`` characters, on one line, with an ellipsis when cut."""
    raw = text or ""
    flat = " ".join(raw[:limit * 4].split())  # never split a megabyte just to cut it
    if len(flat) <= limit and len(raw) <= limit * 4:
        return flat
    return flat[:limit - 1] + "…"


def count_of(n: int, singular: str, plural: str | None = None) -> str:
    """``1 memory``, ``2 memories``, ``1,000 rows``."""
    return f"{n:,} {singular if n == 1 else plural or singular + 's'}"


def user_shown(user_id: str, labels: Mapping[str, str] | None) -> str:
    """A user as operators named them: the label beside the id (``Jane Doe · 4f1c…``), else the id."""
    label = (labels or {}).get(user_id)
    return f"{label} · {user_id}" if label else user_id

