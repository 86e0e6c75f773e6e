"""Which ``_type`` builds which store or embedder.

Stores register with ``@register_memory(ConfigClass)`` on an async generator factory ``(config, builder)``
that yields one editor, as in the toolkit; embedders with ``@register_embedder``. The registry imports no store,
embedder or toolkit module: everything reaches it through entry points, memdash's own types as anyone else's.

* ``memdash.memory`` and ``memdash.embedders``: one entry point per type, **named for the type** and pointing at
  the module that registers it, with the extra its packages come from (``postgres =
  "memory_core.providers.postgres [postgres]"``, in ``pyproject.toml``). Resolving a ``_type`` loads only the entry
  point of that name (fsspec-style: nothing else is imported), and a missing package there says which extra to
  install. The type's name is declared on its config class (``name="postgres"``); the entry point's name must agree,
  and ``tests/memory_core/test_registry_builder.py`` checks that each of memdash's entry points registers the type
  it is named for and each of memdash's types has its entry point, so the name is declared once in effect.
* ``memdash.plugins``: modules that register types under any names, or a :class:`Resolver`. They are all imported
  the first time a name is not found otherwise.
* A :class:`Resolver` (``register_resolver``) is asked last: it may answer another name for the type or a
  registration it builds on demand. memdash's bridge to the NeMo Agent Toolkit is one (``memory_core.nat.resolver``,
  a ``memdash.plugins`` entry point, ``docs/toolkit.md``): the ``memdash_*`` names under which memdash's types are
  registered in the toolkit resolve to memdash's (one YAML file works in both), and with the toolkit installed a
  ``_type`` only a toolkit plugin has is built through the toolkit. Being last, memdash's own types come first, so
  a short name both implement (``redis_memory``, ``mem0_memory``, ``zep_memory``, ``redis_agent_memory_backend``)
  is memdash's; the toolkit's full name (``nat.plugins.redis/redis_memory``) picks the toolkit's.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from memory_core.errors import ConfigError
from memory_core.typed import EmbedderBaseConfig, MemoryBaseConfig, TypedBaseModel

log = logging.getLogger(__name__)

PLUGINS_GROUP = "memdash.plugins"
"""Modules imported all at once when a name is not found: third-party types under any names, resolvers."""

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


class Resolver:
    """Finds a type that no entry point is named for, when asked (after every other way)."""

    def resolve(self, kind: str, type_name: str) -> str | Registered | None:
        """For ``type_name`` of ``kind`` (``memory`` or ``embedder``): another name of the type, which the registry
        resolves instead; or a registration made for it; or None if this resolver does not know it."""
        raise NotImplementedError

    def unknown_hint(self, kind: str, type_name: str) -> str:
        """Appended to the error for a type nothing knows, e.g. what to install."""
        return ""


@dataclasses.dataclass
class _Kind:
    """The registered types of one component kind (memory or embedder) and its entry-point group."""

    label: str
    base: type[TypedBaseModel]
    group: str
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

    def entry_points_of(self, type_name: str) -> list[EntryPoint]:
        """The entry points named for a short name, or for a full name's if their module is in its package (a full
        name elsewhere, ``nat.plugins.redis/redis_memory``, is someone else's type)."""
        package, _, local = type_name.rpartition("/")
        return [ep for ep in entry_points(group=self.group, name=local)
                if not package or f"{ep.module}.".startswith(f"{package}.")]

    def known(self) -> list[str]:
        return sorted({r.local_name for r in self.entries.values()} | set(entry_points(group=self.group).names))


class TypeRegistry:
    """Every memory and embedder type this process knows."""

    def __init__(self) -> None:
        self.memory = _Kind("memory", MemoryBaseConfig, "memdash.memory")
        self.embedders = _Kind("embedder", EmbedderBaseConfig, "memdash.embedders")
        self.resolvers: list[Resolver] = []
        self._plugins_loaded = False

    def resolve(self, kind: _Kind, type_name: str, *, aliases: tuple[str, ...] = ()) -> Registered:
        """The registration for ``type_name`` (short or full name): a registered type; else the one the entry
        point named for it registers; else after importing the ``memdash.plugins`` entry points; else what a
        resolver answers."""
        found = kind.lookup(type_name)
        if found is None:
            for ep in kind.entry_points_of(type_name):
                _load(ep, type_name)
            found = kind.lookup(type_name)
        if found is None and not self._plugins_loaded:
            self.load_plugins()
            found = kind.lookup(type_name)
        if found is None:
            found = self._from_resolvers(kind, type_name, aliases)
        if found is None:
            hints = "".join(resolver.unknown_hint(kind.label, type_name) for resolver in self.resolvers)
            if not entry_points(group=kind.group):  # metadata from before the entry points, or not installed
                hints += f" (no {kind.group} entry points: reinstall memdash, in a checkout pip install -e .)"
            raise ConfigError(f"unknown {kind.label} _type '{type_name}'; known types: {', '.join(kind.known())}"
                              f"{hints}")
        return found

    def _from_resolvers(self, kind: _Kind, type_name: str, aliases: tuple[str, ...]) -> Registered | None:
        """The first resolver's answer: another name, resolved in turn (``aliases``: the names that led here, so
        two names that stand for each other end), or a registration, registered."""
        for resolver in self.resolvers:
            answer = resolver.resolve(kind.label, type_name)
            if isinstance(answer, str) and answer not in (type_name, *aliases):
                return self.resolve(kind, answer, aliases=(*aliases, type_name))
            if isinstance(answer, Registered):
                kind.add(answer)
                return answer
        return None

    def load_plugins(self) -> None:
        """Import every ``memdash.plugins`` entry point; a broken plugin is logged, not fatal."""
        self._plugins_loaded = True
        for ep in entry_points(group=PLUGINS_GROUP):
            try:
                ep.load()
            except Exception:  # a third-party plugin may fail in any way
                log.exception("memdash plugin %s failed to load", ep.name)


def _load(ep: EntryPoint, type_name: str) -> None:
    """Import the module a type's entry point names. A package it needs that is not installed is a ConfigError
    that names the extra providing it; a module of the plugin's own that fails to import is a bug, raised."""
    try:
        ep.load()
    except ImportError as exc:
        own = ep.module.partition(".")[0]
        if not exc.name or exc.name.partition(".")[0] == own:
            raise
        project = ep.dist.name if ep.dist is not None else own
        hint = f"; install it with: pip install '{project}[{','.join(ep.extras)}]'" if ep.extras else ""
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


def register_resolver(resolver: Resolver) -> Resolver:
    """Ask ``resolver`` for the types nothing else knows (after the resolvers registered before it)."""
    GLOBAL_REGISTRY.resolvers.append(resolver)
    return resolver
