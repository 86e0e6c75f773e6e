"""Which ``_type`` builds which store or embedder.

Stores register with ``@register_memory(ConfigClass)`` on an async generator factory ``(config, builder)``
that yields one editor, as in the toolkit. Built-in backends are imported only when a config names them
(fsspec-style), so a missing optional package gives an "install memdash[extra]" message; third-party
stores arrive through the ``memdash.plugins`` entry-point group.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import entry_points
from typing import Any

from memory_core.errors import ConfigError
from memory_core.typed import EmbedderBaseConfig, MemoryBaseConfig, TypedBaseModel

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "memdash.plugins"

# _type -> (module that registers it, extra that provides its dependencies or None)
BUILTIN_MEMORY: dict[str, tuple[str, str | None]] = {
    "in_memory": ("memory_core.providers.in_memory", None),
    "sqlite": ("memory_core.providers.sqlite", None),
    "redis_memory": ("memory_core.providers.redis", "redis"),
    "postgres": ("memory_core.providers.postgres", "postgres"),
    "mem0_memory": ("memory_core.providers.mem0", "mem0"),
    "zep_memory": ("memory_core.providers.zep", "zep"),
}
BUILTIN_EMBEDDERS: dict[str, tuple[str, str | None]] = {
    "local_minilm": ("memory_core.embedders.local", "embed"),
    "openai": ("memory_core.embedders.openai", None),
    "nim": ("memory_core.embedders.openai", None),
    "hashing": ("memory_core.embedders.hashing", None),
}

BuildFn = Callable[..., AbstractAsyncContextManager[Any]]


@dataclasses.dataclass(frozen=True)
class Registered:
    config_type: type[TypedBaseModel]
    build_fn: BuildFn

    @property
    def local_name(self) -> str:
        return self.config_type.static_type()

    @property
    def full_type(self) -> str:
        return self.config_type.full_type


@dataclasses.dataclass
class _Kind:
    """The registered types of one component kind (memory or embedder)."""

    label: str
    base: type[TypedBaseModel]
    builtins: dict[str, tuple[str, str | None]]
    entries: dict[type, Registered] = dataclasses.field(default_factory=dict)

    def add(self, info: Registered) -> None:
        if not issubclass(info.config_type, self.base):
            raise TypeError(f"{info.config_type.__name__} must subclass {self.base.__name__}")
        if info.config_type._typed_model_name is None:
            raise TypeError(f"{info.config_type.__name__} needs a name: class X({self.base.__name__}, name='...')")
        if info.config_type in self.entries:
            raise ValueError(f"{self.label} type '{info.full_type}' is already registered")
        self.entries[info.config_type] = info

    def lookup(self, type_name: str) -> Registered | None:
        full = [r for r in self.entries.values() if r.full_type == type_name]
        if full:
            return full[0]
        short = [r for r in self.entries.values() if r.local_name == type_name]
        if len(short) > 1:
            names = ", ".join(sorted(r.full_type for r in short))
            raise ConfigError(f"_type '{type_name}' is ambiguous; use one of: {names}")
        return short[0] if short else None

    def known(self) -> list[str]:
        return sorted({r.local_name for r in self.entries.values()} | set(self.builtins))


class TypeRegistry:
    """Every memory and embedder type this process knows."""

    def __init__(self) -> None:
        self.memory = _Kind("memory", MemoryBaseConfig, BUILTIN_MEMORY)
        self.embedders = _Kind("embedder", EmbedderBaseConfig, BUILTIN_EMBEDDERS)
        self._plugins_loaded = False

    def resolve(self, kind: _Kind, type_name: str) -> Registered:
        """The registration for ``type_name`` (short or full name), importing its module on demand."""
        found = kind.lookup(type_name)
        if found is None and type_name.split("/")[-1] in kind.builtins:
            _import_builtin(*kind.builtins[type_name.split("/")[-1]], type_name)
            found = kind.lookup(type_name)
        if found is None and not self._plugins_loaded:
            self.load_plugins()
            found = kind.lookup(type_name)
        if found is None:
            raise ConfigError(f"unknown {kind.label} _type '{type_name}'; known types: {', '.join(kind.known())}")
        return found

    def load_plugins(self) -> None:
        """Import every ``memdash.plugins`` entry point; a broken plugin is logged, not fatal."""
        self._plugins_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                ep.load()
            except Exception:  # a third-party plugin may fail in any way
                log.exception("memdash plugin %s failed to load", ep.name)


def _import_builtin(module: str, extra: str | None, type_name: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        if (exc.name or "").startswith("memory_core"):
            raise
        hint = f"; install it with: pip install 'memdash[{extra}]'" if extra else ""
        raise ConfigError(f"_type '{type_name}' needs a package that is not installed ({exc.name}){hint}") from exc


GLOBAL_REGISTRY = TypeRegistry()


def _registrar(kind: _Kind) -> Callable:
    def register(config_type: type) -> Callable:
        def inner(fn: Callable[..., AsyncIterator[Any]]) -> BuildFn:
            build_fn = asynccontextmanager(fn)
            kind.add(Registered(config_type=config_type, build_fn=build_fn))
            return build_fn
        return inner
    return register


register_memory = _registrar(GLOBAL_REGISTRY.memory)
register_memory.__doc__ = "Register an async generator ``(config, builder)`` yielding a MemoryEditor."
register_embedder = _registrar(GLOBAL_REGISTRY.embedders)
register_embedder.__doc__ = "Register an async generator ``(config, builder)`` yielding an Embedder."
