"""The view's state as URL query parameters, so every view is a link and the back button works.

Parsing is strict: a bad parameter raises ``InvalidInputError`` naming it, never another exception.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from memory_core.errors import InvalidInputError
from memory_core.records import MemoryFilter, Sort, SortField

SORTS = {
    "updated_desc": Sort(field=SortField.UPDATED, descending=True),
    "updated_asc": Sort(field=SortField.UPDATED, descending=False),
    "created_desc": Sort(field=SortField.CREATED, descending=True),
    "created_asc": Sort(field=SortField.CREATED, descending=False),
    "most_used": Sort(field=SortField.RETRIEVALS, descending=True),
    "least_used": Sort(field=SortField.RETRIEVALS, descending=False),
}
BY_USE_SORTS = ("most_used", "least_used")
USED = {"yes": True, "never": False}  # ?used=: returned by the agent's search at least once, or never
FILTER_KEYS = ("user", "tags", "tags_mode", "meta", "text", "created_from", "created_to", "updated_from",
               "updated_to", "used")


def filter_from_params(params: Mapping[str, str | Sequence[str]]) -> MemoryFilter:
    """A MemoryFilter from query parameters: ``user``, ``tags=a,b``, ``tags_mode=any|all``,
    ``meta=key:value`` (repeatable; the value is JSON when it parses as a JSON scalar), ``text``,
    ``created_from``/``created_to``/``updated_from``/``updated_to`` as ISO dates or datetimes, ``used=yes|never``
    (the agent's search returned the memory at least once, or never)."""
    tags = [t.strip() for t in _one(params, "tags").split(",") if t.strip()]
    mode = _one(params, "tags_mode") or "any"
    if mode not in ("any", "all"):
        raise InvalidInputError(f"tags_mode must be 'any' or 'all', not {mode!r}")
    values: dict[str, Any] = {
        "user_id": _one(params, "user") or None,
        "tags_any" if mode == "any" else "tags_all": tuple(tags),
        "metadata": dict(_meta(m) for m in _all(params, "meta")),
        "text_contains": _one(params, "text") or None,
        "retrieved": _used(_one(params, "used")),
    }
    for key in ("created_from", "created_to", "updated_from", "updated_to"):
        values[key] = when_param(key, _one(params, key), end_of_day=key.endswith("_to"))
    try:
        return MemoryFilter(**values)
    except ValidationError as exc:
        raise InvalidInputError(f"filter: {exc.errors()[0]['msg']}") from None


def filter_to_params(flt: MemoryFilter) -> dict[str, str | list[str]]:
    """The inverse of :func:`filter_from_params` (only non-empty parameters)."""
    params: dict[str, str | list[str]] = {}
    if flt.user_id:
        params["user"] = flt.user_id
    if flt.tags_all:
        params["tags"], params["tags_mode"] = ",".join(flt.tags_all), "all"
    elif flt.tags_any:
        params["tags"] = ",".join(flt.tags_any)
    if flt.metadata:
        params["meta"] = [f"{k}:{v if isinstance(v, str) else json.dumps(v)}" for k, v in flt.metadata.items()]
    if flt.text_contains:
        params["text"] = flt.text_contains
    for key in ("created_from", "created_to", "updated_from", "updated_to"):
        value = getattr(flt, key)
        if value is not None:
            params[key] = value.isoformat()
    if flt.retrieved is not None:
        params["used"] = "yes" if flt.retrieved else "never"
    return params


def _used(raw: str) -> bool | None:
    if raw and raw not in USED:
        raise InvalidInputError(f"used must be 'yes' or 'never', not {raw!r}")
    return USED.get(raw)


def sort_from_params(params: Mapping[str, str | Sequence[str]]) -> Sort:
    name = _one(params, "sort") or "updated_desc"
    if name not in SORTS:
        raise InvalidInputError(f"sort must be one of {', '.join(SORTS)}, not {name!r}")
    return SORTS[name]


def _one(params: Mapping[str, str | Sequence[str]], key: str) -> str:
    value = params.get(key, "")
    if not isinstance(value, str):
        value = value[-1] if value else ""
    return value


def _all(params: Mapping[str, str | Sequence[str]], key: str) -> list[str]:
    getter = getattr(params, "get_all", None)
    value = getter(key) if getter else params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def _meta(raw: str) -> tuple[str, Any]:
    key, sep, value = raw.partition(":")
    if not sep or not key.strip():
        raise InvalidInputError(f"metadata filter must look like key:value, not {raw!r}")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value
    if isinstance(parsed, dict | list):
        parsed = value
    return key.strip(), parsed


def when_param(key: str, raw: str, *, end_of_day: bool = False) -> dt.datetime | None:
    """A date or datetime from the URL (UTC when no zone is given); ``end_of_day``: a bare date means its last
    microsecond (a range's end includes the whole day)."""
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInputError(f"{key} must be a date like 2024-05-31, not {raw!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    if end_of_day and len(raw) <= 10:
        value += dt.timedelta(days=1, microseconds=-1)
    return value
