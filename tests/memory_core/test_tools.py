"""The toolkit's memory tools in both shapes (1.8: the model passes user_id; 1.9: identity from config)."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from pydantic import ValidationError

from memory_core.builder import MemoryBuilder
from memory_core.errors import ConfigError, MemdashError
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryConfig, InMemoryEditor
from memory_core.records import MemoryFilter
from memory_core.tools import (
    ADDED,
    DELETED,
    AddToolConfig,
    DeleteToolConfig,
    GetToolConfig,
    LegacyAddToolConfig,
    ToolError,
    add_memory,
    add_memory_v18,
    bind_tool,
    build_tool,
    delete_memory,
    delete_memory_v18,
    get_memory,
    get_memory_v18,
    parse_tool_config,
)

PREFIX = "Memories as a JSON: \n"


@pytest.fixture
def editor() -> InMemoryEditor:
    return InMemoryEditor()


async def stored(editor: InMemoryEditor, user_id: str | None = None) -> list[MemoryItem]:
    page = await editor.list_records(MemoryFilter(user_id=user_id), limit=100)
    return [r.item for r in page.records]


def memories_of(result: str) -> list[dict]:
    assert result.startswith(PREFIX)
    return json.loads(result[len(PREFIX):])


# --- 1.9 shape -----------------------------------------------------------------------------------------
async def test_add_with_only_memory_builds_the_conversation(editor: InMemoryEditor) -> None:
    config = AddToolConfig(memory="mem", user_id="alice")
    result = await add_memory(editor, config, {"memory": "Alice likes green tea", "tags": ["drinks"]})
    assert result == "Memory added successfully. You can continue. Please respond to the user."
    [item] = await stored(editor)
    assert item.user_id == "alice"
    assert item.conversation == [{"role": "user", "content": "Alice likes green tea"}]
    assert item.tags == ["drinks"]


async def test_add_keeps_a_given_conversation(editor: InMemoryEditor) -> None:
    conversation = [{"role": "user", "content": "I moved to Oslo"}, {"role": "assistant", "content": "Noted"}]
    await add_memory(editor, AddToolConfig(user_id="alice"), {"conversation": conversation})
    [item] = await stored(editor)
    assert item.conversation == conversation and item.memory is None


async def test_add_without_conversation_or_memory_fails(editor: InMemoryEditor) -> None:
    with pytest.raises(ToolError) as info:
        await add_memory(editor, AddToolConfig(user_id="alice"), {"tags": ["x"]})
    assert str(info.value) == "Error adding memory: Either conversation or memory must be provided"
    assert isinstance(info.value, MemdashError)
    assert await stored(editor) == []


@pytest.mark.parametrize(("config", "tool_input"), [
    (AddToolConfig(user_id="alice"), {"memory": "x", "user_id": "mallory"}),
    (GetToolConfig(user_id="alice"), {"query": "x", "top_k": 1, "user_id": "mallory"}),
    (DeleteToolConfig(user_id="alice"), {"user_id": "mallory"}),
])
async def test_a_user_id_from_the_model_is_rejected(editor: InMemoryEditor, config, tool_input) -> None:
    await editor.add_items([MemoryItem(user_id="mallory", memory="x marks the spot")])
    with pytest.raises(ToolError, match=r"user_id.*Extra inputs are not permitted"):
        await bind_tool(editor, config).ainvoke(tool_input)
    assert [i.user_id for i in await stored(editor)] == ["mallory"]


async def test_get_returns_the_toolkit_string(editor: InMemoryEditor) -> None:
    await editor.add_items([MemoryItem(user_id="alice", memory="Alice likes green tea"),
                            MemoryItem(user_id="bob", memory="Bob likes green tea")])
    result = await get_memory(editor, GetToolConfig(user_id="alice"), {"query": "green tea", "top_k": 5})
    expected = await editor.search("green tea", top_k=5, user_id="alice")
    assert result == f"Memories as a JSON: \n{json.dumps([m.model_dump(mode='json') for m in expected])}"
    [found] = memories_of(result)
    assert found["user_id"] == "alice" and found["similarity_score"] > 0


async def test_get_rejects_a_non_positive_top_k(editor: InMemoryEditor) -> None:
    with pytest.raises(ToolError, match="top_k"):
        await get_memory(editor, GetToolConfig(user_id="alice"), {"query": "tea", "top_k": 0})


async def test_delete_removes_only_the_configured_user(editor: InMemoryEditor) -> None:
    await editor.add_items([MemoryItem(user_id="alice", memory="a"), MemoryItem(user_id="bob", memory="b")])
    assert await delete_memory(editor, DeleteToolConfig(user_id="alice")) == "Memories deleted!"
    assert [i.user_id for i in await stored(editor)] == ["bob"]
    assert await delete_memory(editor, DeleteToolConfig(user_id="bob"), {}) == DELETED


async def test_store_errors_are_wrapped_like_the_toolkit(editor: InMemoryEditor) -> None:
    with pytest.raises(ToolError, match=r"^Error adding memory: item 0: metadata is not JSON"):
        await add_memory(editor, AddToolConfig(user_id="alice"), {"memory": "x", "metadata": {"bad": {1, 2}}})


# --- identity ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda e: add_memory(e, AddToolConfig(), {"memory": "x"}),
    lambda e: get_memory(e, GetToolConfig(), {"query": "x", "top_k": 1}),
    lambda e: delete_memory(e, DeleteToolConfig()),
])
async def test_without_identity_every_call_fails(editor: InMemoryEditor, call) -> None:
    with pytest.raises(ToolError, match="No user identity is available"):
        await call(editor)
    assert await stored(editor) == []


def test_identity_config_rules() -> None:
    assert AddToolConfig(user_id="  alice ").user_id == "alice"
    with pytest.raises(ValidationError, match="user_id must not be empty"):
        AddToolConfig(user_id="   ")
    with pytest.raises(ValidationError, match="only one of user_id or user_id_resolver"):
        AddToolConfig(user_id="alice", user_id_resolver="getpass.getuser")
    with pytest.raises(ValidationError):
        AddToolConfig(user_id_resolver="no_such_module_xyz.resolve")


async def test_sync_resolver_is_called_for_every_call(editor: InMemoryEditor) -> None:
    calls = []

    def resolve() -> str:
        calls.append(1)
        return f" user{len(calls)} "

    tool = bind_tool(editor, AddToolConfig(user_id_resolver=resolve))
    await tool.ainvoke({"memory": "first"})
    await tool.ainvoke({"memory": "second"})
    assert sorted(i.user_id for i in await stored(editor)) == ["user1", "user2"]


async def test_async_resolver_from_an_import_string(editor: InMemoryEditor, tmp_path, monkeypatch) -> None:
    (tmp_path / "memdash_test_identity.py").write_text(textwrap.dedent("""
        async def current_user():
            return "carol"

        async def nobody():
            return "  "
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "memdash_test_identity", raising=False)
    config = parse_tool_config({"_type": "add_memory", "memory": "mem",
                                "user_id_resolver": "memdash_test_identity.current_user"})
    await add_memory(editor, config, {"memory": "Carol plays chess"})
    assert [i.user_id for i in await stored(editor)] == ["carol"]
    empty = GetToolConfig(user_id_resolver="memdash_test_identity:nobody")
    with pytest.raises(ToolError, match="must return a non-empty string"):
        await get_memory(editor, empty, {"query": "chess", "top_k": 1})


# --- 1.8 shape ---------------------------------------------------------------------------------------------
async def test_v18_tools_take_the_user_from_the_model(editor: InMemoryEditor) -> None:
    assert await add_memory_v18(editor, {"memory": "Dan is allergic to nuts", "user_id": "dan"}) == ADDED
    await add_memory_v18(editor, MemoryItem(user_id="erin", memory="Erin is allergic to cats"))
    [item] = await stored(editor, "dan")
    assert item.conversation == [{"role": "user", "content": "Dan is allergic to nuts"}]
    found = memories_of(await get_memory_v18(editor, {"query": "allergic", "top_k": 3, "user_id": "dan"}))
    assert [m["memory"] for m in found] == ["Dan is allergic to nuts"]
    assert await delete_memory_v18(editor, {"user_id": "dan"}) == DELETED
    assert [i.user_id for i in await stored(editor)] == ["erin"]


async def test_v18_inputs_need_a_user_id(editor: InMemoryEditor) -> None:
    with pytest.raises(ToolError, match="user_id"):
        await get_memory_v18(editor, {"query": "x", "top_k": 1})
    with pytest.raises(ToolError, match="Either conversation or memory must be provided"):
        await add_memory_v18(editor, {"user_id": "dan"})


# --- configs and bound tools ---------------------------------------------------------------------------------
def test_parse_tool_config_by_shape() -> None:
    assert isinstance(parse_tool_config({"_type": "add_memory", "user_id": "a"}), AddToolConfig)
    legacy = parse_tool_config({"_type": "nat.tool/add_memory", "memory": "m"}, shape="1.8")
    assert isinstance(legacy, LegacyAddToolConfig) and legacy.memory == "m"
    assert parse_tool_config({"_type": "get_memory", "user_id": "a"}).memory == "saas_memory"
    with pytest.raises(ConfigError, match="not a memory tool"):
        parse_tool_config({"_type": "react_agent"})
    with pytest.raises(ConfigError, match="only one of"):
        parse_tool_config({"_type": "delete_memory", "user_id": "a", "user_id_resolver": "getpass.getuser"})


def test_input_schemas_expose_user_id_only_in_18(editor: InMemoryEditor) -> None:
    new = bind_tool(editor, GetToolConfig(user_id="a"), name="recall")
    old = bind_tool(editor, parse_tool_config({"_type": "get_memory"}, shape="1.8"))
    assert new.name == "recall" and old.name == "get_memory"
    assert "user_id" not in new.input_schema.model_json_schema()["properties"]
    assert "user_id" in old.input_schema.model_json_schema()["properties"]
    assert new.description.startswith("Tool to retrieve a memory")


async def test_build_tool_from_a_builder() -> None:
    async with MemoryBuilder() as builder:
        await builder.add_memory_client("mem", InMemoryConfig())
        add = await build_tool(builder, AddToolConfig(memory="mem", user_id="frank"))
        get = await build_tool(builder, GetToolConfig(memory="mem", user_id="frank"))
        assert await add.ainvoke({"memory": "Frank's favourite colour is teal"}) == ADDED
        [found] = memories_of(await get.ainvoke({"query": "favourite colour", "top_k": 2}))
        assert found["memory"] == "Frank's favourite colour is teal"
