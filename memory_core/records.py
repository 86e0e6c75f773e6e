"""Browsing models: what the toolkit's interface lacks (ids, versions, paging, filters, patches).

They wrap :class:`MemoryItem` instead of changing it, so the toolkit-facing model stays exact.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
import typing

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from memory_core.errors import InvalidInputError, UnsupportedError
from memory_core.models import MemoryItem


def utcnow() -> dt.datetime:
    """Timezone-aware now, the only clock stores use."""
    return dt.datetime.now(dt.UTC)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_micros(value: dt.datetime) -> int:
    """Microseconds since the epoch, how stores keep times as integers; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - EPOCH) // dt.timedelta(microseconds=1)


def from_micros(micros: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=micros)


class MemoryRecord(BaseModel):
    """A stored memory: its id, the toolkit item, timestamps and an optimistic-concurrency version."""

    id: str
    item: MemoryItem
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = 1

    @property
    def user_id(self) -> str:
        return self.item.user_id


class ScoredRecord(BaseModel):
    """A search hit with its record and how the score was made (``parts``: e.g. ``{"text": .., "vector": ..}``)."""

    record: MemoryRecord
    score: float
    parts: dict[str, float] = Field(default_factory=dict)


class SortField(enum.StrEnum):
    CREATED = "created_at"
    UPDATED = "updated_at"
    RETRIEVALS = "retrievals"  # how often the agent's search returned the memory (``Capability.BROWSE_BY_USE``)


TIME_FIELDS = (SortField.CREATED, SortField.UPDATED)
BY_USE = ("the agent's use of memories (how often its search returned each) is not recorded by this store, "
          "so it cannot filter or sort by it")


class Sort(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: SortField = SortField.UPDATED
    descending: bool = True


class MemoryFilter(BaseModel):
    """Which records to list, count or bulk-edit. Empty filter = every record the caller may see."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str | None = None
    tags_any: tuple[str, ...] = ()
    tags_all: tuple[str, ...] = ()
    metadata: dict[str, typing.Any] = Field(default_factory=dict)
    text_contains: str | None = None
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    updated_from: dt.datetime | None = None
    updated_to: dt.datetime | None = None
    #: ``True``: the agent's search returned it at least once; ``False``: never (``Capability.BROWSE_BY_USE``).
    retrieved: bool | None = None

    @field_validator("metadata")
    @classmethod
    def _scalar_metadata(cls, value: dict[str, typing.Any]) -> dict[str, typing.Any]:
        for key, val in value.items():
            if not isinstance(val, str | int | float | bool) and val is not None:
                raise ValueError(f"metadata filter '{key}' must be a scalar (str, number, bool, null)")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> MemoryFilter:
        for lo, hi, name in ((self.created_from, self.created_to, "created"),
                             (self.updated_from, self.updated_to, "updated")):
            if lo and hi and lo > hi:
                raise ValueError(f"{name} range is empty: from {lo.isoformat()} is after to {hi.isoformat()}")
        return self

    def matches(self, record: MemoryRecord, retrievals: int | None = None) -> bool:
        """Reference semantics of every filter field; stores translate the same rules to their query language.

        ``retrievals`` is how often the agent's search returned the record; a filter on it (``retrieved``) is
        refused with ``UnsupportedError`` when the caller cannot say, never ignored.
        """
        if self.retrieved is not None:
            if retrievals is None:
                raise UnsupportedError(BY_USE)
            if (retrievals > 0) != self.retrieved:
                return False
        item = record.item
        checks = (
            self.user_id is None or item.user_id == self.user_id,
            not self.tags_any or bool(set(self.tags_any) & set(item.tags)),
            set(self.tags_all) <= set(item.tags),
            all(key in item.metadata and item.metadata[key] == val for key, val in self.metadata.items()),
            not self.text_contains or self.text_contains.casefold() in (item.memory or "").casefold(),
            _in_range(record.created_at, self.created_from, self.created_to),
            _in_range(record.updated_at, self.updated_from, self.updated_to),
        )
        return all(checks)


def by_use(flt: MemoryFilter, sort: Sort) -> bool:
    """Whether a listing filters or sorts by the agent's use of memories."""
    return flt.retrieved is not None or sort.field is SortField.RETRIEVALS


def require_time_sort(sort: Sort) -> Sort:
    """``sort`` when it is by a timestamp; ``UnsupportedError`` for a sort only stores that count uses have."""
    if sort.field not in TIME_FIELDS:
        raise UnsupportedError(BY_USE)
    return sort


def _in_range(value: dt.datetime, lo: dt.datetime | None, hi: dt.datetime | None) -> bool:
    return (lo is None or value >= lo) and (hi is None or value <= hi)


class RecordPage(BaseModel):
    """One page of records; ``next_cursor`` is ``None`` on the last page."""

    records: list[MemoryRecord]
    next_cursor: str | None = None


class UserSummary(BaseModel):
    user_id: str
    memory_count: int
    last_activity: dt.datetime | None = None


class UserPage(BaseModel):
    users: list[UserSummary]
    next_cursor: str | None = None


class MemoryPatch(BaseModel):
    """Fields to change on a record; a field left unset stays as it is."""

    model_config = ConfigDict(extra="forbid")

    memory: str | None = None
    tags: list[str] | None = None
    metadata: dict[str, typing.Any] | None = None
    conversation: list[dict[str, str]] | None = None

    def apply(self, item: MemoryItem) -> MemoryItem:
        """The item after the patch, validated as a toolkit ``MemoryItem``."""
        changes = self.model_dump(exclude_unset=True)
        return MemoryItem.model_validate({**item.model_dump(), **changes, "similarity_score": None})


def encode_cursor(*values: typing.Any) -> str:
    """Opaque keyset cursor from the sort key of the last row of a page."""
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode()


def decode_cursor(cursor: str) -> list[typing.Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as exc:
        raise InvalidInputError(f"invalid page cursor {cursor!r}") from exc
    if not isinstance(values, list):
        raise InvalidInputError(f"invalid page cursor {cursor!r}")
    return values
