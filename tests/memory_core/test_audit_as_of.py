"""A user's memories as of a moment, reconstructed from the audit log: across adds, edits, deletes and a
restore, at each moment in between; memories written outside the log after the moment; other users untouched."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from memory_core.access import LOCAL_ADMIN
from memory_core.audit import AuditQuery, SqliteAuditLog
from memory_core.audit.as_of import as_of
from memory_core.audit.guard import audited
from memory_core.audit.writer import AuditedWriter
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord
from memory_core.transfer import iter_records

pytestmark = pytest.mark.asyncio


def tick() -> dt.datetime:
    """A moment strictly between two changes."""
    time.sleep(0.002)
    moment = dt.datetime.now(dt.UTC)
    time.sleep(0.002)
    return moment


async def texts_at(store: InMemoryEditor, log: SqliteAuditLog, user: str, when: dt.datetime) -> list[str]:
    current = [r async for r in iter_records(store, MemoryFilter(user_id=user))]
    return [r.item.memory or "" for r in as_of(log, "main", user, when, current).records]


async def test_as_of_each_moment_between_adds_edits_deletes_and_a_restore(tmp_path: Path) -> None:
    store, log = InMemoryEditor(), SqliteAuditLog(tmp_path / "audit.sqlite3")
    writer = AuditedWriter(store, log, LOCAL_ADMIN, "main")
    moments = [tick()]
    [tea] = await writer.add([MemoryItem(user_id="alice", memory="Alice likes tea.")])
    await writer.add([MemoryItem(user_id="bob", memory="Bob likes jazz.")])
    moments.append(tick())
    await writer.update(tea, MemoryPatch(memory="Alice likes coffee."), expected_version=1)
    [city] = await writer.add([MemoryItem(user_id="alice", memory="Alice lives in Lisbon.")])
    moments.append(tick())
    await writer.delete([city])
    moments.append(tick())
    [deleted] = log.entries(AuditQuery(operation="delete"))
    await writer.put_back([deleted.before_record()], reverts=[deleted.seq])
    moments.append(tick())

    expected = [[], ["Alice likes tea."], ["Alice likes coffee.", "Alice lives in Lisbon."], ["Alice likes coffee."],
                ["Alice likes coffee.", "Alice lives in Lisbon."]]
    assert [await texts_at(store, log, "alice", when) for when in moments] == expected
    assert await texts_at(store, log, "bob", moments[1]) == ["Bob likes jazz."]
    current = [r async for r in iter_records(store, MemoryFilter(user_id="alice"))]
    found = as_of(log, "main", "alice", moments[1], current)
    assert (found.undone, found.unknown) == (4, [])  # the edit, the add, the delete and the restore
    assert [r.version for r in found.records] == [1]


async def test_as_of_drops_memories_written_later_outside_the_log_and_names_those_changed(tmp_path: Path) -> None:
    store, log = InMemoryEditor(), SqliteAuditLog(tmp_path / "audit.sqlite3")
    old = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    with audited():  # the agent's own toolkit, writing straight to the store: nothing in the log
        await store.add_records([
            MemoryRecord(id="kept", created_at=old, updated_at=old, item=MemoryItem(user_id="a", memory="kept")),
            MemoryRecord(id="edited", created_at=old, updated_at=old + dt.timedelta(days=40),
                         item=MemoryItem(user_id="a", memory="edited later")),
            MemoryRecord(id="new", created_at=old + dt.timedelta(days=40), updated_at=old + dt.timedelta(days=40),
                         item=MemoryItem(user_id="a", memory="written later"))])
    current = [r async for r in iter_records(store, MemoryFilter(user_id="a"))]
    found = as_of(log, "main", "a", old + dt.timedelta(days=1), current)
    assert [r.id for r in found.records] == ["edited", "kept"]
    assert found.unknown == ["edited"]
    assert found.log_starts is None  # nothing audited yet: what was deleted meanwhile is not known


async def test_as_of_a_memory_written_before_the_log_started_and_edited_through_it(tmp_path: Path) -> None:
    store, log = InMemoryEditor(), SqliteAuditLog(tmp_path / "audit.sqlite3")
    old = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    with audited():
        await store.add_records([MemoryRecord(id="m", created_at=old, updated_at=old,
                                              item=MemoryItem(user_id="a", memory="Lives in Porto."))])
    before_log = tick()
    await AuditedWriter(store, log, LOCAL_ADMIN, "main").update("m", MemoryPatch(memory="Lives in Lisbon."),
                                                                 expected_version=1)
    after_edit = tick()
    current = [r async for r in iter_records(store, MemoryFilter(user_id="a"))]
    then, now = (as_of(log, "main", "a", when, current) for when in (before_log, after_edit))
    assert [r.item.memory for r in then.records] == ["Lives in Porto."] and then.unknown == []
    assert [r.item.memory for r in now.records] == ["Lives in Lisbon."]
    assert then.log_starts is not None and before_log < then.log_starts <= after_edit
    assert [r.item.memory for r in (as_of(log, "main", "a", old - dt.timedelta(days=1), current)).records] == []
