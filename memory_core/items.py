"""What every memory must be, whatever store keeps it: text every store can hold, valid ids and versions,
whole batches checked before anything is written, new ids, and the one text analysis search uses. Stores,
imports, the audited writer and the dashboard all apply these rules from here."""

from __future__ import annotations

import json
import re
import secrets
import time
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import ValidationError

from memory_core.errors import InvalidInputError
from memory_core.models import MemoryItem
from memory_core.records import MemoryRecord

# Scripts written without spaces between words (Han, kana, Hangul): indexed as overlapping pairs of characters
_CJK = ("\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
        "\U00020000-\U0003134f")
_TOKEN = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>[^\W{_CJK}]+)|(?P<symbol>[^\w\s])")
_ASCII_WORD = re.compile(r"\w+")  # _TOKEN on ASCII text: no CJK, and no ASCII character is a symbol (So)
MAX_ID_CHARS = 256
MAX_VERSION = 2**63 - 1  # what every store's integer column holds


def new_id() -> str:
    """A new record id: 32 hex digits, time-ordered enough for humans, unique for machines: the first 12 are
    the time in milliseconds (ids written together sort together, so a store's id index grows at one end
    instead of on every page: bench.latency's ingest), the other 20 random (80 bits)."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def validate_items(items: Sequence[Any]) -> list[MemoryItem]:
    """Validate a whole batch before anything is written: each must be a toolkit ``MemoryItem`` whose
    metadata is JSON. Errors name the item's position and the field."""
    if isinstance(items, MemoryItem | dict) or not isinstance(items, Sequence):
        raise InvalidInputError("add_items expects a list of MemoryItem")
    valid = []
    for index, item in enumerate(items):
        try:
            valid.append(item if isinstance(item, MemoryItem) else MemoryItem.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise InvalidInputError(f"item {index}: field '{field}': {first['msg']}") from None
        check_item(valid[-1], f"item {index}")
    return valid


def check_item(item: MemoryItem, where: str) -> None:
    """Reject what a store could not persist faithfully: the same rule for every store, so an item one store
    keeps is never refused by another (lone surrogates, NUL characters, metadata that is not JSON)."""
    if not item.user_id.strip():
        raise InvalidInputError(_at(where, "user_id must not be empty"))
    for message in item.conversation or []:
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise InvalidInputError(_at(where, "each conversation message needs 'role' and 'content'"))
    if _plainly_valid(item):
        return
    try:
        json.dumps(item.metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(_at(where, f"metadata is not JSON: {exc}")) from None
    for field, text in _texts_of(item):
        check_text(text, _at(where, f"field '{field}'"))


def _plainly_valid(item: MemoryItem) -> bool:
    """The common case in one encoding: every text valid UTF-8 without NUL, the metadata JSON. ``False`` only
    means "look field by field" (a literal backslash-u0000 in a text reads like an escaped NUL here)."""
    try:
        encoded = json.dumps((item.user_id, item.memory, item.tags, item.conversation, item.metadata),
                             ensure_ascii=False, allow_nan=False)
        encoded.encode("utf-8")
    except (TypeError, ValueError):  # UnicodeEncodeError (a lone surrogate) is a ValueError
        return False
    return "\\u0000" not in encoded


def check_text(text: str, what: str) -> None:
    """A string every store can keep: valid Unicode (no lone surrogate) without NUL characters."""
    if "\x00" in text:
        raise InvalidInputError(f"{what} holds a NUL character (\\x00) at position {text.index(chr(0))}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{what} is not valid Unicode text: a lone surrogate at position {exc.start}"
                                ) from None


def _at(where: str, message: str) -> str:
    """``message`` about ``where`` (none for an empty ``where``: a file's line number says it already)."""
    return f"{where}: {message}" if where else message


def _texts_of(item: MemoryItem) -> Iterator[tuple[str, str]]:
    yield "user_id", item.user_id
    if item.memory is not None:
        yield "memory", item.memory
    for i, tag in enumerate(item.tags):
        yield f"tags[{i}]", tag
    for i, message in enumerate(item.conversation or []):
        yield from _json_texts(message, f"conversation[{i}]")
    yield from _json_texts(item.metadata, "metadata")


def _json_texts(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield path, str(key)
            yield from _json_texts(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _json_texts(inner, f"{path}[{i}]")


def check_record(record: MemoryRecord, where: str) -> None:
    """A record to import: a usable id, a positive version, timestamps with a time zone, a valid item."""
    check_text(record.id, _at(where, "field 'id'"))
    if not record.id.strip() or len(record.id) > MAX_ID_CHARS:
        raise InvalidInputError(_at(where, f"field 'id' must be 1 to {MAX_ID_CHARS} characters, not blank"))
    if not 1 <= record.version <= MAX_VERSION:
        raise InvalidInputError(_at(where, f"field 'version' must be a whole number from 1, not {record.version}"))
    if record.created_at.tzinfo is None or record.updated_at.tzinfo is None:
        raise InvalidInputError(_at(where, "timestamps need a timezone (e.g. 2024-01-31T12:00:00+00:00)"))
    check_item(record.item, where)


def tokens(text: str) -> list[str]:
    """Search tokens, case-folded, after Unicode NFKC normalisation, the same for every store: ``café`` typed
    composed or as ``e`` plus a combining accent, or a full-width ``ＴＥＡ``, is one word; a run of Han, kana or
    Hangul gives its overlapping character pairs (``東京都`` → ``東京``, ``京都``), so a word inside a sentence
    written without spaces is found; an emoji or other symbol is a token of its own, spelled ``u1f680``, which
    every full-text engine keeps."""
    normal = unicodedata.normalize("NFKC", text).casefold()
    if normal.isascii():  # no Han, kana, Hangul or emoji: the words alone (most text, several times faster)
        return _ASCII_WORD.findall(normal)
    found: list[str] = []
    for match in _TOKEN.finditer(normal):
        run = match.group()
        if match.lastgroup == "word":
            found.append(run)
        elif match.lastgroup == "cjk":
            found.extend([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
        elif unicodedata.category(run) == "So":
            found.append(f"u{ord(run):x}")
    return found


def item_text(item: MemoryItem) -> str:
    """The text a store indexes for an item: its memory, else its conversation."""
    if item.memory:
        return item.memory
    return "\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in item.conversation or [])


def validate_records(records: Sequence[Any]) -> list[MemoryRecord]:
    """Validate a whole batch of records to import (``add_records``) before anything is written: each one a
    record every store can keep (:func:`check_record`), no id twice. Errors name the record's position."""
    if isinstance(records, MemoryRecord | dict) or not isinstance(records, Sequence):
        raise InvalidInputError("add_records expects a list of MemoryRecord")
    checked = [as_record(record, position) for position, record in enumerate(records)]
    seen: dict[str, int] = {}
    for position, record in enumerate(checked):
        if record.id in seen:
            raise InvalidInputError(f"record {position}: id {record.id} is also record {seen[record.id]}'s")
        seen[record.id] = position
    return checked


def as_record(record: object, position: int) -> MemoryRecord:
    """A record to import, validated (:func:`check_record`); errors name its position in the batch and the field."""
    if not isinstance(record, MemoryRecord):
        try:
            record = MemoryRecord.model_validate(record)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidInputError(f"record {position}: field '{'.'.join(map(str, first['loc']))}': "
                                    f"{first['msg']}") from None
    check_record(record, f"record {position}")
    return record
