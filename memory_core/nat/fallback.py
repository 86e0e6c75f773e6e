"""Types memdash does not implement, built by the toolkit (``docs/toolkit.md``).

A ``_type`` that is neither memdash's nor a ``memdash.plugins`` plugin's is looked up in the toolkit's registry,
after loading the toolkit's component plugins as ``nat`` does when it loads a config. The entry is validated by a
class that is the toolkit's config class (its fields and validators) and a memdash config. It is built in one
toolkit ``WorkflowBuilder`` per :class:`~memory_core.builder.MemoryBuilder`, kept open on that builder's exit
stack, after the embedders and LLMs it refers to (from the same file: a ``memdash_*`` or memdash embedder as the
toolkit's mirror of it, any other as the toolkit's own).

A toolkit store is a :class:`ToolkitStore` (add, search, remove; no browsing capabilities); a toolkit embedder is
a :class:`ToolkitEmbedder` over its LangChain client.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import AsyncIterator, Callable
from typing import Any

from nat.builder.framework_enum import LLMFrameworkEnum
from nat.builder.workflow_builder import WorkflowBuilder
from nat.cli.type_registry import GlobalTypeRegistry
from nat.data_models.component import ComponentGroup
from nat.data_models.component_ref import ComponentRef
from nat.data_models.config import Config
from nat.runtime.loader import PluginTypes, discover_and_register_plugins
from pydantic import BaseModel

from memory_core.builder import MemoryBuilder
from memory_core.errors import ConfigError
from memory_core.nat import components
from memory_core.nat.adapters import ToolkitEmbedder, ToolkitStore, toolkit_model_id
from memory_core.registry import Registered
from memory_core.typed import EmbedderBaseConfig, MemoryBaseConfig, TypedBaseModel


class FromToolkit:
    """Marks a memdash config class made from a toolkit config class (its first base)."""


def toolkit_registration(kind: str, type_name: str) -> Registered | None:
    """A memdash registration for the toolkit's ``type_name`` (``kind``: ``memory`` or ``embedder``), or None."""
    toolkit_type = toolkit_class(kind, type_name)
    if toolkit_type is None:
        return None
    base, build_fn = (MemoryBaseConfig, _build_store) if kind == "memory" else (EmbedderBaseConfig, _build_embedder)
    config_type = types.new_class(f"Toolkit{toolkit_type.__name__}", (toolkit_type, base, FromToolkit),
                                  {"name": type_name}, lambda ns: ns.update({"__module__": __name__}))
    return Registered(config_type=config_type, build_fn=build_fn)


def toolkit_class(kind: str, type_name: str) -> type[BaseModel] | None:
    """The toolkit's config class of a memory or embedder type, by full name or by a short name only one has."""
    discover_and_register_plugins(PluginTypes.COMPONENT)
    registry = GlobalTypeRegistry.get()
    infos = registry.get_registered_memorys() if kind == "memory" else registry.get_registered_embedder_providers()
    found = [i for i in infos if i.full_type == type_name] or [i for i in infos if i.local_name == type_name]
    if len(found) > 1:
        names = ", ".join(sorted(i.full_type for i in found))
        raise ConfigError(f"toolkit {kind} _type '{type_name}' is ambiguous; use one of: {names}")
    return found[0].config_type if found else None


def toolkit_config(config: TypedBaseModel) -> BaseModel:
    """The toolkit's config object for a memdash config: the toolkit's own class for a toolkit type, memdash's
    mirror class (``memdash_*``) for memdash's."""
    if isinstance(config, FromToolkit):
        target = type(config).__bases__[0]
    elif type(config) in components.MIRRORS:
        target = components.MIRRORS[type(config)]
    else:
        raise ConfigError(f"_type '{config.type}' has no toolkit equivalent")
    return target.model_construct(**{name: getattr(config, name) for name in target.model_fields if name != "type"})


async def _workflow_builder(builder: MemoryBuilder) -> WorkflowBuilder:
    return await builder.shared("toolkit", WorkflowBuilder)


def _name_of(config: TypedBaseModel, entries: dict[str, Any]) -> str:
    """The config's name in the builder's config (the toolkit's builder needs one)."""
    for name, entry in entries.items():
        if entry is config:
            return name
    raise ConfigError(f"a toolkit {config.type} is built only from a config's entry, by its name")


@contextlib.asynccontextmanager
async def _build_store(config: MemoryBaseConfig, builder: MemoryBuilder) -> AsyncIterator[ToolkitStore]:
    toolkit = await _workflow_builder(builder)
    target = toolkit_config(config)
    for ref in _references(target):
        await _add_dependency(toolkit, str(ref), ref.component_group, builder)
    client = await toolkit.add_memory_client(_name_of(config, builder.config.memory), target)
    yield ToolkitStore(client, config.type.rsplit("/", 1)[-1])


@contextlib.asynccontextmanager
async def _build_embedder(config: EmbedderBaseConfig, builder: MemoryBuilder) -> AsyncIterator[ToolkitEmbedder]:
    toolkit = await _workflow_builder(builder)
    name = _name_of(config, builder.config.embedders)
    await _add_dependency(toolkit, name, ComponentGroup.EMBEDDERS, builder)
    client = await toolkit.get_embedder(name, wrapper_type=LLMFrameworkEnum.LANGCHAIN)
    yield await ToolkitEmbedder.open(client, toolkit_model_id(toolkit.get_embedder_config(name)))


def _references(config: BaseModel) -> list[ComponentRef]:
    values = [getattr(config, name) for name in type(config).model_fields]
    flat = [v for value in values for v in (value if isinstance(value, list) else [value])]
    return [v for v in flat if isinstance(v, ComponentRef)]


async def _add_dependency(toolkit: WorkflowBuilder, name: str, group: ComponentGroup, builder: MemoryBuilder) -> None:
    """Add an embedder or LLM a toolkit component names to the toolkit's builder, once, from the same file."""
    if group == ComponentGroup.EMBEDDERS and not _has(toolkit.get_embedder_config, name):
        if name not in builder.config.embedders:
            raise ConfigError(f"no embedder named '{name}' under embedders:", field=f"embedders.{name}")
        await toolkit.add_embedder(name, toolkit_config(builder.config.embedders[name]))
    elif group == ComponentGroup.LLMS and not _has(toolkit.get_llm_config, name):
        if name not in builder.config.llms:
            raise ConfigError(f"no LLM named '{name}' under llms:", field=f"llms.{name}")
        await toolkit.add_llm(name, Config.model_validate({"llms": {name: builder.config.llms[name]}}).llms[name])
    elif group not in (ComponentGroup.EMBEDDERS, ComponentGroup.LLMS):
        raise ConfigError(f"a toolkit store needs {group.value} '{name}'; memdash gives toolkit components only "
                          "embedders and llms")


def _has(lookup: Callable[[str], object], name: str) -> bool:
    try:
        lookup(name)
    except ValueError:
        return False
    return True
