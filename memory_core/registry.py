"""Which ``_type`` builds which store or embedder.

Stores register with ``@register_memory(ConfigClass)`` on an async generator factory ``(config, builder)``
that yields one editor, as in the toolkit. Built-in backends are imported only when a config names them
(fsspec-style), so a missing optional package gives an "install memdash[extra]" message; third-party
stores arrive through the ``memdash.plugins`` entry-point group.

Two bridges to the NeMo Agent Toolkit (``docs/toolkit.md``): the ``memdash_*`` names under which
:mod:`memory_core.nat` registers memdash's types in the toolkit resolve here too (one YAML file works in both), and
with the toolkit installed a ``_type`` memdash does not know is looked up in the toolkit's own registry
(:mod:`memory_core.nat.fallback`). memdash's own types come first, so a short name both implement
(``redis_memory``, ``mem0_memory``, ``zep_memory``, ``redis_agent_memory_backend``) is memdash's; the toolkit's
full name (``nat.plugins.redis/redis_memory``) picks the toolkit's.
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
from memory_core.nat import available as toolkit_available
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
    "redis_agent_memory_backend": ("memory_core.providers.agent_memory", None),
}
BUILTIN_EMBEDDERS: dict[str, tuple[str, str | None]] = {
    "local_minilm": ("memory_core.embedders.local", "embed"),
    "openai": ("memory_core.embedders.openai", None),
    "nim": ("memory_core.embedders.openai", None),
    "hashing": ("memory_core.embedders.hashing", None),
}

# Toolkit name -> memdash name, for the types memory_core.nat registers in the toolkit. Prefixed, so they never
# clash with the toolkit's own; their full toolkit names are f"{TOOLKIT_PACKAGE}/<name>".
TOOLKIT_PACKAGE = "memory_core.nat"
TOOLKIT_MEMORY_NAMES: dict[str, str] = {
    "memdash_in_memory": "in_memory",
    "memdash_sqlite": "sqlite",
    "memdash_postgres": "postgres",
    "memdash_redis": "redis_memory",
    "memdash_mem0": "mem0_memory",
    "memdash_zep": "zep_memory",
    "memdash_redis_agent_memory": "redis_agent_memory_backend",
}
TOOLKIT_EMBEDDER_NAMES: dict[str, str] = {
    "memdash_hashing": "hashing",
    "memdash_local_minilm": "local_minilm",
    "memdash_openai": "openai",
    "memdash_nim": "nim",
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
    aliases: dict[str, str]
    entries: dict[type, Registered] = dataclasses.field(default_factory=dict)

    def canonical(self, type_name: str) -> str:
        """memdash's name for one of its toolkit names (``memdash_sqlite`` or ``memory_core.nat/memdash_sqlite``)."""
        package, _, local = type_name.rpartition("/")
        return self.aliases.get(local, type_name) if package in ("", TOOLKIT_PACKAGE) else type_name

    def builtin_of(self, type_name: str) -> tuple[str, str | None] | None:
        """The built-in module (and extra) of a short name, or of a full name in memdash's own packages (a
        full name elsewhere, ``nat.plugins.redis/redis_memory``, is someone else's type)."""
        package, _, local = type_name.rpartition("/")
        module, extra = self.builtins.get(local, ("", None))
        if module and (not package or f"{module}.".startswith(f"{package}.")):
            return module, extra
        return None

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
        self.memory = _Kind("memory", MemoryBaseConfig, BUILTIN_MEMORY, TOOLKIT_MEMORY_NAMES)
        self.embedders = _Kind("embedder", EmbedderBaseConfig, BUILTIN_EMBEDDERS, TOOLKIT_EMBEDDER_NAMES)
        self._plugins_loaded = False

    def resolve(self, kind: _Kind, type_name: str) -> Registered:
        """The registration for ``type_name`` (short or full name), importing its module on demand; then the
        ``memdash.plugins`` entry points; then the toolkit's plugins."""
        type_name = kind.canonical(type_name)
        found = kind.lookup(type_name)
        builtin = kind.builtin_of(type_name)
        if found is None and builtin is not None:
            _import_builtin(*builtin, type_name)
            found = kind.lookup(type_name)
        if found is None and not self._plugins_loaded:
            self.load_plugins()
            found = kind.lookup(type_name)
        if found is None:
            found = _from_toolkit(kind, type_name)
        if found is None:
            hint = "" if toolkit_available() else " (a toolkit plugin's type needs: pip install 'memdash[nat]')"
            raise ConfigError(f"unknown {kind.label} _type '{type_name}'; known types: {', '.join(kind.known())}"
                              f"{hint}")
        return found

    def load_plugins(self) -> None:
        """Import every ``memdash.plugins`` entry point; a broken plugin is logged, not fatal."""
        self._plugins_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                ep.load()
            except Exception:  # a third-party plugin may fail in any way
                log.exception("memdash plugin %s failed to load", ep.name)


def _from_toolkit(kind: _Kind, type_name: str) -> Registered | None:
    """The toolkit's implementation of ``type_name``, when the toolkit is installed and a plugin of it has one."""
    if not toolkit_available():
        return None
    from memory_core.nat.fallback import toolkit_registration

    found = toolkit_registration(kind.label, type_name)
    if found is not None:
        kind.add(found)
    return found


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
