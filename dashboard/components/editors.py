"""Editors for a memory's tags and metadata, and the check that turns metadata text into a dict."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import streamlit as st

from memory_core.errors import InvalidInputError


def tag_editor(label: str, *, key: str, options: Sequence[str] = (), disabled: bool = False) -> list[str]:
    """A multiselect that also takes new tags typed by the operator."""
    return st.multiselect(label, options=list(dict.fromkeys(options)), key=key, accept_new_options=True,
                          placeholder="type a tag and press Enter", disabled=disabled)


def metadata_text(metadata: dict[str, Any]) -> str:
    """Metadata as the editor shows it: indented JSON, non-ASCII kept readable."""
    return json.dumps(metadata, indent=2, ensure_ascii=False)


def parse_metadata(text: str) -> dict[str, Any]:
    """The metadata dict from editor text; ``InvalidInputError`` names the line and column of bad JSON."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"metadata is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
                                ) from None
    if not isinstance(value, dict):
        raise InvalidInputError(f"metadata must be a JSON object ({{...}}), not {type(value).__name__}")
    return value


def metadata_editor(label: str = "Metadata (JSON object)", *, key: str, disabled: bool = False) -> str:
    """A JSON text area; check its value with :func:`parse_metadata` before saving."""
    return st.text_area(label, key=key, height=160, disabled=disabled)
