"""memdash's models and the toolkit's (1.9) are interchangeable: any instance of one dumps to data the other
validates into an instance with an equal dump, both ways, in Python and JSON mode."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tests.helpers.toolkit import require_toolkit

require_toolkit()

from nat.memory import models as toolkit  # noqa: E402
from nat.tool.memory_tools import common as toolkit_tools  # noqa: E402

from memory_core import models, tools  # noqa: E402
from memory_core.nat.adapters import to_memdash_item, to_toolkit_item  # noqa: E402

text = st.text(max_size=20)  # any Unicode (astral planes, combining marks, RTL) but surrogates
json_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(text, inner, max_size=3), max_leaves=12)
conversation = st.none() | st.lists(st.dictionaries(st.sampled_from(["role", "content", "name"]) | text, text,
                                                    min_size=1, max_size=3), max_size=3)
item = st.fixed_dictionaries({"user_id": text}, optional={
    "conversation": conversation, "tags": st.lists(text, max_size=4),
    "metadata": st.dictionaries(text, json_value, max_size=4), "memory": st.none() | text,
    "similarity_score": st.none() | st.floats(allow_nan=False, allow_infinity=False)})
search = st.fixed_dictionaries({"query": text, "top_k": st.integers(), "user_id": text})
delete = st.fixed_dictionaries({"user_id": text})
add_input = st.fixed_dictionaries({}, optional={"conversation": conversation, "tags": st.lists(text, max_size=3),
                                                "metadata": st.dictionaries(text, json_value, max_size=3),
                                                "memory": st.none() | text})
get_input = st.fixed_dictionaries({"query": text, "top_k": st.integers(min_value=1)})

PAIRS = [  # (memdash's model, the toolkit's, data)
    (models.MemoryItem, toolkit.MemoryItem, item),
    (models.SearchMemoryInput, toolkit.SearchMemoryInput, search),
    (models.DeleteMemoryInput, toolkit.DeleteMemoryInput, delete),
    (tools.AddMemoryInput, toolkit_tools.AddMemoryInput, add_input),
    (tools.GetMemoryInput, toolkit_tools.GetMemoryInput, get_input),
    (tools.DeleteMemoryInput, toolkit_tools.DeleteMemoryInput, st.just({})),
]
IDS = [f"{ours.__module__.removeprefix('memory_core.')}.{ours.__name__}" for ours, _, _ in PAIRS]


def _round_trip(source: BaseModel, target: type[BaseModel]) -> None:
    """``source`` dumped and validated as ``target`` (Python and JSON), with equal dumps, and back."""
    other = target.model_validate(source.model_dump())
    assert other.model_dump() == source.model_dump()
    assert other.model_dump_json() == source.model_dump_json()
    assert target.model_validate_json(source.model_dump_json()).model_dump() == source.model_dump()
    assert type(source).model_validate(other.model_dump()) == source


@pytest.mark.parametrize(("ours", "theirs", "strategy"), PAIRS, ids=IDS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_models_round_trip_both_ways(ours: type[BaseModel], theirs: type[BaseModel],
                                     strategy: st.SearchStrategy[dict[str, Any]], data: st.DataObject) -> None:
    values = data.draw(strategy)
    _round_trip(ours.model_validate(values), theirs)
    _round_trip(theirs.model_validate(values), ours)


@settings(max_examples=60, deadline=None)
@given(item)
def test_the_adapters_convert_items_without_sharing_metadata(values: dict[str, Any]) -> None:
    ours = models.MemoryItem.model_validate(values)
    theirs = to_toolkit_item(ours)
    assert isinstance(theirs, toolkit.MemoryItem) and theirs.model_dump() == ours.model_dump()
    assert to_memdash_item(theirs) == ours
    before = ours.model_dump()
    theirs.metadata.clear()  # the toolkit's mem0 editor pops run_id from the items it is given
    assert ours.model_dump() == before


@pytest.mark.parametrize(("ours", "theirs"), [(o, t) for o, t, _ in PAIRS], ids=IDS)
def test_same_fields_defaults_and_requirements(ours: type[BaseModel], theirs: type[BaseModel]) -> None:
    def shape(model: type[BaseModel]) -> dict[str, tuple[Any, ...]]:
        return {name: (f.annotation, f.is_required(), f.get_default(call_default_factory=True), f.alias)
                for name, f in model.model_fields.items()}

    assert shape(ours) == shape(theirs)
    assert ours.model_config.get("extra") == theirs.model_config.get("extra")


def test_conversation_none_and_nested_metadata() -> None:
    values = {"user_id": "ü𝔘", "conversation": None, "metadata": {"a": {"b": [1, {"c": None}], "ß": "字"}}}
    _round_trip(models.MemoryItem.model_validate(values), toolkit.MemoryItem)
    assert toolkit.MemoryItem.model_validate(models.MemoryItem(**values).model_dump()).conversation is None
