"""Stores whose mutating methods refuse every call made outside memdash's audited write path.

The dashboard's hub and the command line guard each store they build (:func:`guard`); only
:class:`memory_core.audit.writer.AuditedWriter` opens the door (:func:`audited`), around the one store call of
each change it records. Forgetting the audit log is then an error at the first click, not a silent gap.
Agents build their own stores and are not guarded: their writes are the agent's, not an operator's.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from memory_core.errors import MemdashError

MUTATING = ("add_items", "remove_items", "add_records", "update_record", "delete_records", "give_vectors")
_GUARDED = "_memdash_guarded"
_inside = contextvars.ContextVar("memdash_audited_write", default=False)
E = TypeVar("E")


class UnauditedWriteError(MemdashError):
    """A store's mutating method was called outside an :class:`~memory_core.audit.writer.AuditedWriter`."""


def guard(editor: E) -> E:
    """Make ``editor``'s mutating methods refuse calls made outside an audited write; returns ``editor``."""
    if getattr(editor, _GUARDED, False):
        return editor
    for name in MUTATING:
        method = getattr(editor, name, None)
        if callable(method):
            setattr(editor, name, _refusing(name, method))
    setattr(editor, _GUARDED, True)
    return editor


def is_guarded(editor: object) -> bool:
    return bool(getattr(editor, _GUARDED, False))


@contextlib.contextmanager
def audited() -> Iterator[None]:
    """The writer's door: guarded methods called in this block (this task and those it starts) run."""
    token = _inside.set(True)
    try:
        yield
    finally:
        _inside.reset(token)


def _refusing(name: str, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        if not _inside.get():
            raise UnauditedWriteError(f"{name}() was called outside memdash's audited write path: changes go "
                                      "through memory_core.audit.writer.AuditedWriter")
        return await method(*args, **kwargs)

    return call
