"""The toolkit's memory tools (``add_memory``, ``get_memory``, ``delete_memory``) without the toolkit.

Two shapes, as in NeMo Agent Toolkit:

* **1.8**: the model passes ``user_id`` (``add_memory`` takes a whole ``MemoryItem``, ``get_memory`` a
  ``SearchMemoryInput``, ``delete_memory`` a ``DeleteMemoryInput``).
* **1.9**: the identity comes from trusted config (``user_id`` or ``user_id_resolver``, exactly one) and the
  model's inputs (:class:`AddMemoryInput`, :class:`GetMemoryInput`, :class:`DeleteMemoryInput`) reject a
  ``user_id`` (``extra="forbid"``).

Return strings and error texts are the toolkit's. The toolkit raises langchain's ``ToolException``; memdash
raises :class:`ToolError` so it needs no langchain. Call the plain functions with an editor, or bind a config
to an editor with :func:`bind_tool` / :func:`build_tool` and ``await tool.ainvoke({...})``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import typing
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ImportString, ValidationError, field_validator, model_validator

from memory_core import models
from memory_core.errors import ConfigError, MemdashError
from memory_core.interfaces import MemoryEditor
from memory_core.models import MemoryItem, SearchMemoryInput
from memory_core.provenance import stamped
from memory_core.typed import TypedBaseModel

ADDED = "Memory added successfully. You can continue. Please respond to the user."
DELETED = "Memories deleted!"
NO_IDENTITY = "No user identity is available. Configure user_id or user_id_resolver."

UserIdResolver = Callable[[], str | Awaitable[str]]


class ToolError(MemdashError):
    """A memory tool failed; the message is meant for the model (the toolkit's ``ToolException``)."""


# --- 1.9 LLM-facing inputs ---------------------------------------------------------------------------------
class AddMemoryInput(BaseModel):
    """LLM-controlled input for adding a memory."""

    model_config = ConfigDict(extra="forbid")

    conversation: list[dict[str, str]] | None = Field(
        default=None,
        description="List of conversation messages. Each message must have a role key (user or assistant) "
        "and a content key.",
    )
    tags: list[str] = Field(default_factory=list, description="List of tags applied to the item.")
    metadata: dict[str, typing.Any] = Field(default_factory=dict, description="Metadata about the memory item.")
    memory: str | None = Field(default=None, description="A memory to store.")


class GetMemoryInput(BaseModel):
    """LLM-controlled input for retrieving memories."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(description="Search query for which to retrieve memory.")
    top_k: int = Field(description="Maximum number of memories to return.", gt=0)


class DeleteMemoryInput(BaseModel):
    """LLM-controlled input for deleting a user's memories (no fields: the identity is never the model's)."""

    model_config = ConfigDict(extra="forbid")


# --- configs -------------------------------------------------------------------------------------------------
class ToolConfigBase(TypedBaseModel):
    """What every memory tool config has: the store to use and the description shown to the model."""

    memory: str = Field(default="saas_memory", description="Name of the memory store in the config.")
    description: str = ""


class MemoryToolConfigBase(ToolConfigBase):
    """1.9 tools: a fixed ``user_id`` or a ``user_id_resolver`` import string, never both.

    With neither, the tool still builds but every call fails with "No user identity is available".
    """

    user_id: str | None = Field(default=None, description="Fixed user identity for every call.")
    user_id_resolver: ImportString[UserIdResolver] | None = Field(
        default=None, description="Import path of a zero-argument sync or async callable returning the user id.")

    @field_validator("user_id")
    @classmethod
    def _strip_user_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("user_id must not be empty")
        return value.strip()

    @model_validator(mode="after")
    def _one_identity_source(self) -> MemoryToolConfigBase:
        if self.user_id is not None and self.user_id_resolver is not None:
            raise ValueError("Configure only one of user_id or user_id_resolver")
        return self


_ADD_DESCRIPTION = "Tool to add a memory about a user's interactions to a system for retrieval later."
_GET_DESCRIPTION = ("Tool to retrieve a memory about a user's interactions to help answer questions "
                    "in a personalized way.")
_DELETE_DESCRIPTION = "Tool to delete a memory from a hosted memory platform."


class AddToolConfig(MemoryToolConfigBase, name="add_memory"):
    description: str = _ADD_DESCRIPTION


class GetToolConfig(MemoryToolConfigBase, name="get_memory"):
    description: str = _GET_DESCRIPTION


class DeleteToolConfig(MemoryToolConfigBase, name="delete_memory"):
    description: str = _DELETE_DESCRIPTION


class LegacyAddToolConfig(ToolConfigBase, name="add_memory"):
    """1.8 ``add_memory``: the model passes the whole ``MemoryItem``, ``user_id`` included."""

    description: str = _ADD_DESCRIPTION


class LegacyGetToolConfig(ToolConfigBase, name="get_memory"):
    """1.8 ``get_memory``: the model passes ``SearchMemoryInput`` (``query``, ``top_k``, ``user_id``)."""

    description: str = _GET_DESCRIPTION


class LegacyDeleteToolConfig(ToolConfigBase, name="delete_memory"):
    """1.8 ``delete_memory``: the model passes ``DeleteMemoryInput`` (``user_id``)."""

    description: str = _DELETE_DESCRIPTION


ToolShape = Literal["1.9", "1.8"]
_CONFIGS: dict[ToolShape, tuple[type[ToolConfigBase], ...]] = {
    "1.9": (AddToolConfig, GetToolConfig, DeleteToolConfig),
    "1.8": (LegacyAddToolConfig, LegacyGetToolConfig, LegacyDeleteToolConfig),
}


def parse_tool_config(raw: dict[str, Any], *, shape: ToolShape = "1.9") -> ToolConfigBase:
    """A tool config from a ``functions:`` entry (``{_type: add_memory, memory: ..., user_id: ...}``)."""
    type_name = str(raw.get("_type", raw.get("type", ""))).split("/")[-1]
    by_name = {cls.static_type(): cls for cls in _CONFIGS[shape]}
    if type_name not in by_name:
        raise ConfigError(f"'{type_name}' is not a memory tool; memory tools: {', '.join(sorted(by_name))}")
    try:
        return by_name[type_name].model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc), field=_first_field(exc)) from None


async def resolve_user_id(config: MemoryToolConfigBase) -> str:
    """The identity of a 1.9 tool call: the configured ``user_id`` or what the resolver returns."""
    if config.user_id is not None:
        return config.user_id
    if config.user_id_resolver is None:
        raise ToolError(NO_IDENTITY)
    resolved = config.user_id_resolver()
    if inspect.isawaitable(resolved):
        resolved = await resolved
    if not isinstance(resolved, str) or not resolved.strip():
        raise ToolError("The configured user_id_resolver must return a non-empty string.")
    return resolved.strip()


# --- the tools as plain functions ------------------------------------------------------------------------
async def add_memory(editor: MemoryEditor, config: MemoryToolConfigBase,
                     memory_input: AddMemoryInput | dict[str, Any]) -> str:
    """1.9 ``add_memory``: store the model's memory for the configured user."""
    memory_input = _parse(AddMemoryInput, memory_input, "add_memory")
    with _wrapped("Error adding memory"):
        item = MemoryItem(user_id=await resolve_user_id(config), **memory_input.model_dump())
        return await _add(editor, item)


async def get_memory(editor: MemoryEditor, config: MemoryToolConfigBase,
                     search_input: GetMemoryInput | dict[str, Any]) -> str:
    """1.9 ``get_memory``: search the configured user's memories."""
    search_input = _parse(GetMemoryInput, search_input, "get_memory")
    with _wrapped("Error retrieving memory"):
        return await _get(editor, search_input.query, search_input.top_k, await resolve_user_id(config))


async def delete_memory(editor: MemoryEditor, config: MemoryToolConfigBase,
                        delete_input: DeleteMemoryInput | dict[str, Any] | None = None) -> str:
    """1.9 ``delete_memory``: remove every memory of the configured user."""
    _parse(DeleteMemoryInput, {} if delete_input is None else delete_input, "delete_memory")
    with _wrapped("Error deleting memory"):
        return await _delete(editor, await resolve_user_id(config))


async def add_memory_v18(editor: MemoryEditor, item: MemoryItem | dict[str, Any]) -> str:
    """1.8 ``add_memory``: the model's ``MemoryItem``, with the ``user_id`` it chose."""
    item = _parse(MemoryItem, item, "add_memory")
    with _wrapped("Error adding memory"):
        return await _add(editor, item.model_copy(deep=True))


async def get_memory_v18(editor: MemoryEditor, search_input: SearchMemoryInput | dict[str, Any]) -> str:
    """1.8 ``get_memory``: search for the ``user_id`` the model passed."""
    search_input = _parse(SearchMemoryInput, search_input, "get_memory")
    with _wrapped("Error retrieving memory"):
        return await _get(editor, search_input.query, search_input.top_k, search_input.user_id)


async def delete_memory_v18(editor: MemoryEditor, delete_input: models.DeleteMemoryInput | dict[str, Any]) -> str:
    """1.8 ``delete_memory``: remove every memory of the ``user_id`` the model passed."""
    delete_input = _parse(models.DeleteMemoryInput, delete_input, "delete_memory")
    with _wrapped("Error deleting memory"):
        return await _delete(editor, delete_input.user_id)


async def _add(editor: MemoryEditor, item: MemoryItem) -> str:
    if not item.conversation and item.memory:
        item.conversation = [{"role": "user", "content": item.memory}]
    elif not item.conversation:
        raise ToolError("Either conversation or memory must be provided")
    await editor.add_items([stamped(item, function="add_memory")])
    return ADDED


async def _get(editor: MemoryEditor, query: str, top_k: int, user_id: str) -> str:
    memories = await editor.search(query=query, top_k=top_k, user_id=user_id)
    return f"Memories as a JSON: \n{json.dumps([m.model_dump(mode='json') for m in memories])}"


async def _delete(editor: MemoryEditor, user_id: str) -> str:
    await editor.remove_items(user_id=user_id)
    return DELETED


@contextlib.contextmanager
def _wrapped(prefix: str) -> Iterator[None]:
    """Turn any failure into ``ToolError("<prefix>: <error>")``, as the toolkit's tools do."""
    try:
        yield
    except Exception as exc:
        raise ToolError(f"{prefix}: {exc}") from exc


_M = typing.TypeVar("_M", bound=BaseModel)


def _parse(model: type[_M], value: _M | dict[str, Any], tool: str) -> _M:
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise ToolError(f"Invalid input for {tool}: {_first_error(exc)}") from None


def _first_field(exc: ValidationError) -> str:
    return ".".join(str(p) for p in exc.errors()[0]["loc"])


def _first_error(exc: ValidationError) -> str:
    field = _first_field(exc)
    message = exc.errors()[0]["msg"]
    return f"field '{field}': {message}" if field else message


# --- tools bound to an editor ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class MemoryTool:
    """One memory tool bound to an editor and a config: what an agent loop or the playground calls."""

    name: str
    description: str
    input_schema: type[BaseModel]
    _run: Callable[[Any], Awaitable[str]] = dataclasses.field(repr=False)

    async def ainvoke(self, tool_input: BaseModel | dict[str, Any] | None = None) -> str:
        """Run the tool on the model's arguments; failures raise :class:`ToolError`."""
        return await self._run({} if tool_input is None else tool_input)


_BINDINGS: dict[type[ToolConfigBase], tuple[Callable[..., Awaitable[str]], type[BaseModel], bool]] = {
    AddToolConfig: (add_memory, AddMemoryInput, True),
    GetToolConfig: (get_memory, GetMemoryInput, True),
    DeleteToolConfig: (delete_memory, DeleteMemoryInput, True),
    LegacyAddToolConfig: (add_memory_v18, MemoryItem, False),
    LegacyGetToolConfig: (get_memory_v18, SearchMemoryInput, False),
    LegacyDeleteToolConfig: (delete_memory_v18, models.DeleteMemoryInput, False),
}


def bind_tool(editor: MemoryEditor, config: ToolConfigBase, *, name: str | None = None) -> MemoryTool:
    """A callable tool for ``config`` over ``editor``; ``name`` is the function's key in the YAML."""
    fn, schema, with_config = _BINDINGS[type(config)]

    async def run(tool_input: Any) -> str:
        return await (fn(editor, config, tool_input) if with_config else fn(editor, tool_input))

    return MemoryTool(name=name or config.static_type(), description=config.description, input_schema=schema,
                      _run=run)


async def build_tool(builder: Any, config: ToolConfigBase, *, name: str | None = None) -> MemoryTool:
    """Like :func:`bind_tool`, with the store taken from a ``MemoryBuilder`` by ``config.memory``."""
    return bind_tool(await builder.get_memory_client(config.memory), config, name=name)
