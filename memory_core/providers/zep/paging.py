"""Local sorting and cursors over what Zep returned, and batch-error helpers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from memory_core.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from memory_core.records import MemoryRecord, RecordPage, Sort, decode_cursor, encode_cursor


def page(records: list[MemoryRecord], sort: Sort, limit: int, cursor: str | None) -> RecordPage:
    """Sort here and page on ``(timestamp, id)`` keys, so pages stay stable while facts are added."""
    def key(record: MemoryRecord) -> tuple[str, str]:
        return getattr(record, sort.field.value).astimezone(dt.UTC).isoformat(timespec="microseconds"), record.id

    rows = sorted(records, key=key, reverse=sort.descending)
    if cursor:
        last = tuple(decode_cursor(cursor))
        if len(last) != 2 or not all(isinstance(v, str) for v in last):
            raise InvalidInputError(f"invalid page cursor {cursor!r}")
        rows = [r for r in rows if (key(r) < last if sort.descending else key(r) > last)]
    chosen = rows[:limit]
    return RecordPage(records=chosen, next_cursor=encode_cursor(*key(chosen[-1])) if len(rows) > limit else None)


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
