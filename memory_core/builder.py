"""Builds and owns the live stores and embedders named in a config, like the toolkit's ``WorkflowBuilder``.

Stores are built on first use, so one store that cannot start never stops the others; leaving the
``async with`` block closes every client that was opened.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from memory_core.config import MemdashConfig
from memory_core.embedders.base import Embedder
from memory_core.errors import MemdashError, NotFoundError, StoreUnavailableError
from memory_core.interfaces import MemoryEditor
from memory_core.registry import GLOBAL_REGISTRY, TypeRegistry
from memory_core.typed import EmbedderBaseConfig, MemoryBaseConfig

T = TypeVar("T")


class MemoryBuilder(contextlib.AbstractAsyncContextManager):
    """``async with MemoryBuilder(config) as builder: editor = await builder.get_memory_client("name")``."""

    def __init__(self, config: MemdashConfig | None = None, *, registry: TypeRegistry = GLOBAL_REGISTRY) -> None:
        self.config = config or MemdashConfig(memory={}, embedders={}, sections={})
        self._registry = registry
        self._stack = contextlib.AsyncExitStack()
        self._clients: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> MemoryBuilder:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._clients.clear()
        await self._stack.aclose()

    @property
    def memory_names(self) -> list[str]:
        return list(self.config.memory)

    def resolve_path(self, path: str | Path) -> Path:
        """A path from the config, relative to the config file's folder."""
        path = Path(path).expanduser()
        return path if path.is_absolute() else self.config.base_dir / path

    def get_memory_client_config(self, name: str) -> MemoryBaseConfig:
        return self._config_of(self.config.memory, name, "memory store")

    async def add_memory_client(self, name: str, config: MemoryBaseConfig) -> MemoryEditor:
        """Register and build a store in code (toolkit-compatible); a duplicate name is an error."""
        if name in self.config.memory:
            raise ValueError(f"memory store '{name}' already exists")
        self.config.memory[name] = config
        return await self.get_memory_client(name)

    async def get_memory_client(self, name: str) -> MemoryEditor:
        config = self.get_memory_client_config(name)
        return await self._get(f"memory:{name}", config, self._registry.memory, "memory store", name)

    async def get_memory_clients(self, names: list[str]) -> list[MemoryEditor]:
        return [await self.get_memory_client(n) for n in names]

    async def shared(self, name: str, open_: Callable[[], contextlib.AbstractAsyncContextManager[T]]) -> T:
        """A resource several components share (the toolkit's ``WorkflowBuilder`` for toolkit stores), opened by
        ``open_()`` on first use and closed with the builder."""
        key = f"shared:{name}"
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._clients:
                self._clients[key] = await self._stack.enter_async_context(open_())
            return self._clients[key]

    async def get_embedder(self, name: str) -> Embedder:
        config = self._config_of(self.config.embedders, name, "embedder")
        return await self._get(f"embedder:{name}", config, self._registry.embedders, "embedder", name)

    def _config_of(self, configs: dict[str, Any], name: str, label: str) -> Any:
        if name not in configs:
            known = ", ".join(sorted(configs)) or "none configured"
            raise NotFoundError(f"no {label} named '{name}'; configured: {known}")
        return configs[name]

    async def _get(self, key: str, config: MemoryBaseConfig | EmbedderBaseConfig, kind: Any, label: str,
                   name: str) -> Any:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._clients:
                build_fn = self._registry.resolve(kind, config.type).build_fn
                try:
                    self._clients[key] = await self._stack.enter_async_context(build_fn(config, self))
                except MemdashError:
                    raise
                except Exception as exc:
                    raise StoreUnavailableError(f"{label} '{name}' ({config.type}) failed to start: {exc}") from exc
            return self._clients[key]
