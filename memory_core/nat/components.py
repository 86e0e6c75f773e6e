"""memdash's stores and embedders in the toolkit's type registry, under the ``memdash_*`` names of
:data:`memory_core.nat.names.MEMORY_NAMES` and ``EMBEDDER_NAMES``.

Each toolkit config class is generated from memdash's: it subclasses the toolkit's base and memdash's config, so
fields, defaults and validators are memdash's (``embedder`` becomes an ``EmbedderRef``, so the toolkit builds that
embedder first). Each factory builds the store with memdash's own factory and yields it as the toolkit's
``MemoryEditor``. A type whose optional package is missing (``memdash_postgres`` without ``memdash[postgres]``) is
left out, with a log line.

A store's ``embedder:`` names an entry under the toolkit's ``embedders:``: memdash builds a ``memdash_*`` one; any
other (the toolkit's ``nim``, ``openai``, ...) is the toolkit's LangChain client behind a memdash ``Embedder``.
memdash's embedders also serve the toolkit's own components as LangChain ``Embeddings``. Relative paths (sqlite's
``path``) are relative to the current directory here: the toolkit does not tell a plugin where its config file is.
"""

from __future__ import annotations

import contextlib
import logging
import types
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from nat.builder.builder import Builder
from nat.builder.embedder import EmbedderProviderInfo
from nat.builder.framework_enum import LLMFrameworkEnum
from nat.cli.register_workflow import register_embedder_client, register_embedder_provider, register_memory
from nat.data_models.component_ref import EmbedderRef
from nat.data_models.embedder import EmbedderBaseConfig as ToolkitEmbedderConfig
from nat.data_models.memory import MemoryBaseConfig as ToolkitMemoryConfig
from pydantic import BaseModel, Field

from memory_core.embedders.base import Embedder
from memory_core.nat.adapters import ToolkitEmbedder, ToolkitFacade, toolkit_model_id
from memory_core.nat.names import EMBEDDER_NAMES, MEMORY_NAMES
from memory_core.registry import GLOBAL_REGISTRY, Registered
from memory_core.typed import EmbedderBaseConfig, TypedBaseModel

log = logging.getLogger(__name__)

MIRRORS: dict[type[TypedBaseModel], type[BaseModel]] = {}
"""memdash config class -> the toolkit config class generated from it."""


def mirror_config(ours: type[TypedBaseModel], name: str, base: type[BaseModel]) -> type[BaseModel]:
    """A toolkit config class ``name`` that is also ``ours``."""
    namespace: dict[str, Any] = {"__module__": __name__, "__doc__": ours.__doc__}
    if "embedder" in ours.model_fields:
        namespace["__annotations__"] = {"embedder": EmbedderRef | None}
        namespace["embedder"] = Field(default=None, description=ours.model_fields["embedder"].description)
    cls = types.new_class(f"Memdash{ours.__name__}", (base, ours), {"name": name}, lambda ns: ns.update(namespace))
    MIRRORS[ours] = cls
    return cls


class BuilderView(contextlib.AbstractAsyncContextManager):
    """What memdash's factories ask of their builder (``get_embedder``, ``resolve_path``), answered from the
    toolkit's builder; embedders it opened close with it."""

    def __init__(self, builder: Builder) -> None:
        self._builder = builder
        self._stack = contextlib.AsyncExitStack()
        self._embedders: dict[str, Embedder] = {}

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    def resolve_path(self, path: str | Path) -> Path:
        return Path(path).expanduser().absolute()

    async def get_embedder(self, name: str) -> Embedder:
        if name not in self._embedders:
            self._embedders[name] = await self._stack.enter_async_context(self._open_embedder(name))
        return self._embedders[name]

    def _open_embedder(self, name: str) -> contextlib.AbstractAsyncContextManager[Embedder]:
        config = self._builder.get_embedder_config(name)
        if isinstance(config, EmbedderBaseConfig):  # a memdash_* embedder
            return GLOBAL_REGISTRY.resolve(GLOBAL_REGISTRY.embedders, config.type).build_fn(config, self)
        return _langchain_embedder(self._builder, name, config)


@contextlib.asynccontextmanager
async def _langchain_embedder(builder: Builder, name: str, config: BaseModel) -> AsyncIterator[Embedder]:
    client = await builder.get_embedder(name, wrapper_type=LLMFrameworkEnum.LANGCHAIN)
    yield await ToolkitEmbedder.open(client, toolkit_model_id(config))


def _store_factory(registration: Registered) -> Callable[..., AsyncIterator[ToolkitFacade]]:
    async def build(config: Any, builder: Builder) -> AsyncIterator[ToolkitFacade]:
        async with BuilderView(builder) as view, registration.build_fn(config, view) as store:
            yield ToolkitFacade(store)
    return build


def _register_embedder(registration: Registered, name: str) -> None:
    config_type = mirror_config(registration.config_type, name, ToolkitEmbedderConfig)

    @register_embedder_provider(config_type=config_type)
    async def provider(config: Any, builder: Builder) -> AsyncIterator[EmbedderProviderInfo]:
        yield EmbedderProviderInfo(config=config, description=f"memdash's {registration.local_name} embedder")

    @register_embedder_client(config_type=config_type, wrapper_type=LLMFrameworkEnum.LANGCHAIN)
    async def langchain_client(config: Any, builder: Builder) -> AsyncIterator[Any]:
        from memory_core.nat.langchain import MemdashEmbeddings

        async with registration.build_fn(config, builder) as embedder:
            yield MemdashEmbeddings(embedder)


def _memdash(kind: Any, name: str) -> Registered | None:
    try:
        return GLOBAL_REGISTRY.resolve(kind, name)
    except Exception as exc:  # a missing optional package, or a store that fails to import: keep the others
        log.info("memdash's %s %s is not registered in the toolkit: %s", kind.label, name, exc)
        return None


def register_all() -> None:
    """Register every memdash store and embedder whose packages are installed."""
    for name, ours in MEMORY_NAMES.items():
        if registration := _memdash(GLOBAL_REGISTRY.memory, ours):
            config_type = mirror_config(registration.config_type, name, ToolkitMemoryConfig)
            register_memory(config_type=config_type)(_store_factory(registration))
    for name, ours in EMBEDDER_NAMES.items():
        if registration := _memdash(GLOBAL_REGISTRY.embedders, ours):
            _register_embedder(registration, name)


register_all()
