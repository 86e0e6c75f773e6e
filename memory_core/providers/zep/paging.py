"""Local sorting and cursors over what Zep returned, and batch-error helpers."""

from __future__ import annotations

from typing import Any

from memory_core.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from memory_core.records import decode_cursor


def last_user(cursor: str | None) -> str | None:
    """The last user id of the previous ``list_users`` page."""
    return _single(cursor, str) if cursor else None


def page_number(cursor: str | None) -> int:
    """The page a ``thread_messages`` cursor points to (Zep numbers message pages from 1)."""
    number = _single(cursor, int) if cursor else 1
    if number < 1:
        raise InvalidInputError(f"invalid page cursor {cursor!r}")
    return number


def _single(cursor: str, kind: type) -> Any:
    values = decode_cursor(cursor)
    if len(values) != 1 or not isinstance(values[0], kind) or isinstance(values[0], bool):
        raise InvalidInputError(f"invalid page cursor {cursor!r}")
    return values[0]


def raise_first(results: list[Any]) -> list[Any]:
    """``results`` of a gather with ``return_exceptions=True``, or the first exception among them, raised."""
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def partial(exc: BaseException, done: int, total: int, what: str) -> BaseException:
    """The error of a failed batch, saying how much of it Zep did apply."""
    if total == 1 or not isinstance(exc, InvalidInputError | NotFoundError | StoreUnavailableError):
        return exc
    return type(exc)(f"{exc} ({done} of {total} {what})")
