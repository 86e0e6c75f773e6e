"""The names under which :mod:`memory_core.nat.components` registers memdash's types in the toolkit, and the memdash
name each stands for. Prefixed, so they never clash with the toolkit's own; their full toolkit names are
``f"{PACKAGE}/<name>"``. Importable without the toolkit: memdash reads these names too (:mod:`.resolver`).
"""

from __future__ import annotations

PACKAGE = "memory_core.nat"

MEMORY_NAMES: dict[str, str] = {
    "memdash_in_memory": "in_memory",
    "memdash_sqlite": "sqlite",
    "memdash_postgres": "postgres",
    "memdash_redis": "redis_memory",
    "memdash_mem0": "mem0_memory",
    "memdash_zep": "zep_memory",
    "memdash_redis_agent_memory": "redis_agent_memory_backend",
}
EMBEDDER_NAMES: dict[str, str] = {
    "memdash_hashing": "hashing",
    "memdash_local_minilm": "local_minilm",
    "memdash_openai": "openai",
    "memdash_nim": "nim",
}
NAMES: dict[str, dict[str, str]] = {"memory": MEMORY_NAMES, "embedder": EMBEDDER_NAMES}
"""Toolkit name -> memdash name, by the registry's kind label."""


def memdash_name(kind: str, type_name: str) -> str | None:
    """memdash's name for one of its toolkit names (``memdash_sqlite`` or ``memory_core.nat/memdash_sqlite``)."""
    package, _, local = type_name.rpartition("/")
    return NAMES[kind].get(local) if package in ("", PACKAGE) else None
