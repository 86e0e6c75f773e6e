"""The toolkit-facing models stay field-for-field identical to ``nat.memory.models``."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from memory_core import DeleteMemoryInput, MemoryItem, SearchMemoryInput


def test_memory_item_dump_matches_the_toolkit() -> None:
    assert MemoryItem(user_id="u").model_dump(mode="json") == {
        "conversation": None, "tags": [], "metadata": {}, "user_id": "u", "memory": None, "similarity_score": None,
    }


def test_memory_item_field_order_and_types_match_the_toolkit() -> None:
    fields = MemoryItem.model_fields
    assert list(fields) == ["conversation", "tags", "metadata", "user_id", "memory", "similarity_score"]
    assert str(fields["conversation"].annotation) == "list[dict[str, str]] | None"
    assert fields["similarity_score"].annotation == float | None


def test_only_user_id_is_required() -> None:
    assert [name for name, field in MemoryItem.model_fields.items() if field.is_required()] == ["user_id"]
    with pytest.raises(ValidationError) as missing:
        MemoryItem()  # type: ignore[call-arg]
    assert [e["loc"] for e in missing.value.errors()] == [("user_id",)]


def test_unknown_keys_are_ignored() -> None:
    item = MemoryItem.model_validate({"user_id": "u", "memory": "m", "id": "abc", "score": 3})
    assert item.model_dump() == MemoryItem(user_id="u", memory="m").model_dump()
    assert not hasattr(item, "id")


def test_defaults_are_not_shared_between_items() -> None:
    first, second = MemoryItem(user_id="a"), MemoryItem(user_id="b")
    first.tags.append("t")
    first.metadata["k"] = "v"
    assert (second.tags, second.metadata) == ([], {})


def test_conversation_messages_must_be_string_dicts() -> None:
    ok = MemoryItem(user_id="u", conversation=[{"role": "user", "content": "hi"}])
    assert ok.conversation == [{"role": "user", "content": "hi"}]
    with pytest.raises(ValidationError):
        MemoryItem(user_id="u", conversation=[{"role": "user", "content": {"nested": "no"}}])


def test_json_round_trip() -> None:
    item = MemoryItem(user_id="u", memory="m", tags=["a"], metadata={"k": [1, {"x": None}]},
                      conversation=[{"role": "user", "content": "c"}], similarity_score=0.25)
    assert MemoryItem.model_validate_json(item.model_dump_json()) == item


def test_search_memory_input_fields() -> None:
    assert list(SearchMemoryInput.model_fields) == ["query", "top_k", "user_id"]
    assert all(f.is_required() for f in SearchMemoryInput.model_fields.values())
    parsed = SearchMemoryInput.model_validate({"query": "food?", "top_k": "1", "user_id": "user_abc"})
    assert (parsed.query, parsed.top_k, parsed.user_id) == ("food?", 1, "user_abc")
    with pytest.raises(ValidationError):
        SearchMemoryInput(query="q", top_k=1)  # type: ignore[call-arg]


def test_delete_memory_input_fields() -> None:
    assert list(DeleteMemoryInput.model_fields) == ["user_id"]
    assert DeleteMemoryInput(user_id="user_abc").model_dump() == {"user_id": "user_abc"}
    with pytest.raises(ValidationError):
        DeleteMemoryInput()  # type: ignore[call-arg]
