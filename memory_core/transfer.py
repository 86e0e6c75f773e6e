"""Lossless JSONL and CSV for memories: one record per line/row, ids and timestamps included.

Export → import into an empty store → export gives an identical file (keys sorted, UTC ISO timestamps).
Parsing validates everything first and reports bad rows by line number, so a caller can refuse to write
anything when a row is invalid.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from pydantic import ValidationError

from memory_core.errors import InvalidInputError
from memory_core.interfaces import MemoryBrowser
from memory_core.items import check_record, new_id
from memory_core.life import expires_at
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter, MemoryRecord, Sort, SortField, utcnow

CSV_COLUMNS = ("id", "user_id", "memory", "tags", "metadata", "conversation", "created_at", "updated_at", "version")


@dataclasses.dataclass
class ParseReport:
    """Valid records (``lines[i]`` is the line of ``records[i]``) and ``(line number, message)`` for every
    invalid row."""

    records: list[MemoryRecord]
    errors: list[tuple[int, str]]
    total: int = 0
    lines: list[int] = dataclasses.field(default_factory=list)

    def line_of(self) -> dict[str, int]:
        """The line of each valid record's id."""
        return {record.id: line for record, line in zip(self.records, self.lines, strict=True)}

    @property
    def ok(self) -> bool:
        return not self.errors


def record_to_dict(record: MemoryRecord) -> dict[str, Any]:
    """The flat, lossless form of a record."""
    item = record.item
    return {
        "id": record.id, "user_id": item.user_id, "memory": item.memory, "tags": item.tags,
        "metadata": item.metadata, "conversation": item.conversation,
        "created_at": _iso(record.created_at), "updated_at": _iso(record.updated_at), "version": record.version,
    }


def record_from_dict(data: Any) -> MemoryRecord:
    """Parse the flat form; missing id/timestamps/version get fresh values (rows written by hand). Checked with
    the rule every store applies (:func:`check_record`), so a row that parses is a row every store can write."""
    if not isinstance(data, dict):
        raise InvalidInputError("expected a JSON object")
    if data.get("id") is not None and not isinstance(data["id"], str):
        raise InvalidInputError(f"field 'id' must be a string, not {type(data['id']).__name__}")
    if isinstance(data.get("version"), bool):
        raise InvalidInputError("field 'version' must be a whole number, not true/false")
    now = utcnow()
    try:
        item = MemoryItem.model_validate({k: data[k] for k in ("user_id", "memory", "tags", "metadata",
                                                                "conversation") if k in data})
        record = MemoryRecord(id=data.get("id") or new_id(), item=item, created_at=data.get("created_at") or now,
                              updated_at=data.get("updated_at") or now, version=data.get("version") or 1)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"] if p != "item")
        raise InvalidInputError(f"field '{field}': {first['msg']}") from None
    check_record(record, "")
    return record


def dump_jsonl_line(record: MemoryRecord) -> str:
    return json.dumps(record_to_dict(record), ensure_ascii=False, sort_keys=True) + "\n"


def parse_jsonl(lines: Iterable[str]) -> ParseReport:
    """A whole file, validated, in memory (an upload: it is in memory anyway)."""
    report = ParseReport(records=[], errors=[])
    seen: set[str] = set()
    for number, row in jsonl_rows(lines):
        report.total += 1
        if isinstance(row, str):
            report.errors.append((number, row))
        else:
            _add_unique(report, row, number, seen)
    return report


def jsonl_rows(lines: Iterable[str]) -> Iterator[tuple[int, MemoryRecord | str]]:
    """Each non-blank line as ``(line number, record)``, or ``(line number, problem)`` when it is invalid, one at a
    time (a file of any size in constant memory). Ids are not compared across lines here."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, record_from_dict(_json(line))
        except InvalidInputError as exc:
            yield number, str(exc)


def _json(text: str) -> Any:
    """``json.loads``, every failure an ``InvalidInputError`` (also too deep nesting and too long numbers)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise InvalidInputError("not valid JSON here: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InvalidInputError(f"not valid JSON here: {exc}") from None


def dump_csv(records: Iterable[MemoryRecord]) -> Iterator[str]:
    """CSV rows (header first); list and dict columns are JSON inside the cell."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for record in records:
        row = record_to_dict(record)
        writer.writerow({k: json.dumps(row[k], ensure_ascii=False) if k in ("tags", "metadata", "conversation")
                         else row[k] for k in CSV_COLUMNS})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


def parse_csv(text: str) -> ParseReport:
    """Parse CSV written by :func:`dump_csv` or by hand (only ``user_id`` and ``memory`` are needed). Strict like
    JSONL: an unterminated quote is an error at the line where its row starts, and so are unknown columns and
    rows with more cells than the header."""
    report = ParseReport(records=[], errors=[])
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)  # the csv module handles line ends
    seen: set[str] = set()
    start = 1
    try:
        if not reader.fieldnames or "user_id" not in reader.fieldnames:
            return ParseReport(records=[], errors=[(1, "the header needs at least a 'user_id' column")])
        unknown = [name for name in reader.fieldnames if name not in CSV_COLUMNS]
        if unknown:
            report.errors.append((1, f"unknown column {unknown[0]!r}; the columns are {', '.join(CSV_COLUMNS)}"))
        start = reader.line_num + 1
        for row in reader:
            report.total += 1
            try:
                record = record_from_dict(_csv_row(row))
            except InvalidInputError as exc:
                report.errors.append((start, str(exc)))
            else:
                _add_unique(report, record, start, seen)
            start = reader.line_num + 1
    except csv.Error as exc:  # an unterminated quote, a field over csv.field_size_limit(): the rest is unreadable
        report.errors.append((start, f"not valid CSV: {exc} (a quote opened on this line is never closed?); the "
                                     "rest of the file was not read"))
    return report


def _csv_row(row: dict[str | None, Any]) -> dict[str, Any]:
    if row.get(None):  # DictReader puts the cells beyond the header under None
        raise InvalidInputError(f"{len(row[None])} more cells than the header has columns")
    data: dict[str, Any] = {k: v for k, v in row.items() if k in CSV_COLUMNS and v not in (None, "")}
    for key in ("tags", "metadata", "conversation"):
        if key in data:
            try:
                data[key] = _json(data[key])
            except InvalidInputError:
                raise InvalidInputError(f"column '{key}' is not JSON: {data[key][:40]!r}") from None
    if "version" in data:
        try:
            data["version"] = int(data["version"])
        except ValueError:
            raise InvalidInputError(f"column 'version' is not a number: {data['version']!r}") from None
    return data


def _add_unique(report: ParseReport, record: MemoryRecord, number: int, seen: set[str]) -> None:
    if record.id in seen:
        report.errors.append((number, f"duplicate id {record.id}"))
        return
    seen.add(record.id)
    report.records.append(record)
    report.lines.append(number)


async def iter_records(browser: MemoryBrowser, flt: MemoryFilter, page_size: int = 500
                       ) -> AsyncIterator[MemoryRecord]:
    """Every matching record, oldest first, one page at a time (never the whole store in memory)."""
    cursor = None
    sort = Sort(field=SortField.CREATED, descending=False)
    while True:
        page = await browser.list_records(flt, sort=sort, limit=page_size, cursor=cursor)
        for record in page.records:
            yield record
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def expired_ids(browser: MemoryBrowser, now: dt.datetime, *, user_id: str | None = None) -> list[str]:
    """The ids of the memories (of ``user_id``, or of everyone) whose expiry time (:mod:`memory_core.life`) is
    past: one read of them, for the sweep that moves them to the trash."""
    return [record.id async for record in iter_records(browser, MemoryFilter(user_id=user_id))
            if (when := expires_at(record.item)) is not None and when <= now]


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()
