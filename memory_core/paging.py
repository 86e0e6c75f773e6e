"""Paging done here rather than by the store: for services that cannot sort or page the way memdash browses."""

from __future__ import annotations

import datetime as dt

from memory_core.errors import InvalidInputError
from memory_core.records import MemoryRecord, RecordPage, Sort, decode_cursor, encode_cursor, require_time_sort


def page_locally(records: list[MemoryRecord], sort: Sort, limit: int, cursor: str | None) -> RecordPage:
    """Sort ``records`` and page on ``(timestamp, id)`` keys, so pages stay stable while memories are added."""
    require_time_sort(sort)
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
