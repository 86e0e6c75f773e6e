"""The shared rules of memory_core.items on their fast paths: ASCII text tokenised as the full analysis does,
and a batch that one JSON encoding clears judged as the field-by-field check judges it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory_core.errors import InvalidInputError
from memory_core.items import tokens, validate_items
from memory_core.models import MemoryItem


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_tokens_of_ascii_text_are_those_of_the_full_analysis(text: str) -> None:
    assert tokens(text + " é") == [*tokens(text), "é"]  # the é sends the text down the full analysis


def test_a_literal_backslash_u0000_is_kept_and_a_real_nul_is_refused_where_it_is() -> None:
    literal = MemoryItem(user_id="u", memory=r"path C:\u0000\x", metadata={r"key\u0000": r"\u0000"})
    assert validate_items([literal]) == [literal]
    nul_key = MemoryItem(user_id="u", memory="fine", metadata={"note": {"a\x00b": 1}})
    with pytest.raises(InvalidInputError, match=r"item 1: field 'metadata.note' holds a NUL character"):
        validate_items([literal, nul_key])
    surrogate = MemoryItem(user_id="u", memory="fine", tags=["ok", "bad\ud800"])
    with pytest.raises(InvalidInputError, match=r"item 0: field 'tags\[1\]' is not valid Unicode text"):
        validate_items([surrogate])
    with pytest.raises(InvalidInputError, match=r"item 0: metadata is not JSON"):
        validate_items([MemoryItem(user_id="u", memory="fine", metadata={"n": float("nan")})])
