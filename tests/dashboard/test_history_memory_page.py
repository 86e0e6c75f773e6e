"""The Memory page's history (AppTest): every version the audit log recorded with who and when, restoring an
earlier one as one audited edit, a restore refused when the memory changed meanwhile, and a memory written
before the audit log said so."""

from __future__ import annotations

import asyncio
import datetime as dt

from dashboard.services import memories
from memory_core.access import LOCAL_ADMIN
from memory_core.audit import AuditQuery
from memory_core.models import MemoryItem
from memory_core.providers.sqlite import SqliteMemory
from memory_core.records import MemoryPatch, MemoryRecord
from tests.helpers.dashboard import messages, ok


def edited_twice(dash) -> str:
    memory_id = dash.add(memory="Alice likes tea.", tags=["drink"])
    memories.update_memory(dash.hub, LOCAL_ADMIN, "main", memory_id, MemoryPatch(memory="Alice likes coffee."),
                           expected_version=1)
    memories.update_memory(dash.hub, LOCAL_ADMIN, "main", memory_id, MemoryPatch(tags=["drink", "morning"]),
                           expected_version=2)
    return memory_id


def versions(at) -> list[str]:
    return [e.label for e in at.expander if e.label.startswith("Version ")]


def restore_button(at, number: int):
    [button] = [b for b in at.button if b.label == f"Restore version {number}"]
    return button


def test_history_lists_every_version_newest_first_with_who_and_what(dash):
    memory_id = edited_twice(dash)
    at = ok(dash.app("memory", id=memory_id).run())
    labels = versions(at)
    assert [label.split(":")[0] for label in labels] == ["Version 3 (now)", "Version 2", "Version 1"]
    assert all("by local \\(auth off\\)" in label for label in labels)  # markdown-escaped in the label
    assert "edited" in labels[0] and "added" in labels[2]
    assert not any("written before the audit log" in c.value for c in at.caption)
    assert "Restore version 3" not in [b.label for b in at.button]  # the current one


def test_history_restores_an_earlier_version_as_one_audited_edit(dash):
    memory_id = edited_twice(dash)
    at = ok(dash.app("memory", id=memory_id).run())
    restore_button(at, 1).click().run()
    assert "Restored version 1: the memory is now version 4." in messages(ok(at), "success")
    record = dash.get(memory_id)
    assert (record.item.memory, record.item.tags, record.version) == ("Alice likes tea.", ["drink"], 4)
    entries = list(dash.hub.audit.entries(AuditQuery(memory_id=memory_id)))
    assert len(entries) == 4
    [last] = [e for e in entries if e.after and e.after["version"] == 4]
    assert last.operation == "update" and last.before["memory"] == "Alice likes coffee."
    assert at.text_area(key="detail_memory").value == "Alice likes tea."  # the editors show the restored text


def test_history_restore_is_undone_from_the_audit_log(dash):
    memory_id = edited_twice(dash)
    at = ok(dash.app("memory", id=memory_id).run())
    restore_button(at, 1).click().run()
    restore = max(dash.hub.audit.entries(AuditQuery(memory_id=memory_id)), key=lambda e: e.seq)
    links = [link.proto for link in ok(at).get("page_link") if link.proto.label.startswith("This change in the")]
    assert len(links) == 4 and any(f"entry={restore.seq}" in str(link) for link in links)
    audit_page = ok(dash.app("audit", entry=str(restore.seq)).run())
    audit_page.button(key="audit_revert").click().run()
    ok(audit_page).button(key="audit_revert_confirm").click().run()
    record = dash.get(memory_id)
    assert (record.item.memory, record.item.tags, record.version) == ("Alice likes coffee.", ["drink", "morning"], 5)
    entries = list(dash.hub.audit.entries(AuditQuery(memory_id=memory_id)))
    assert len(entries) == 5 and max(entries, key=lambda e: e.seq).reverts == restore.seq


def test_history_restore_is_refused_when_the_memory_changed_meanwhile(dash):
    memory_id = edited_twice(dash)
    at = ok(dash.app("memory", id=memory_id).run())
    memories.update_memory(dash.hub, LOCAL_ADMIN, "main", memory_id, MemoryPatch(memory="Alice drinks water."),
                           expected_version=3)
    restore_button(at, 1).click().run()
    assert messages(ok(at), "error") == ["Not restored: this memory changed since you opened it (now version 4). "
                                         "Nothing was overwritten; look at the history again."]
    assert dash.get(memory_id).item.memory == "Alice drinks water."
    assert len(list(dash.hub.audit.entries(AuditQuery(memory_id=memory_id)))) == 4


def test_history_of_a_memory_written_before_the_audit_log_says_so_and_restores(make_dash, tmp_path):
    path = tmp_path / "old.sqlite3"
    when = dt.datetime(2023, 5, 1, 9, 30, tzinfo=dt.UTC)
    record = MemoryRecord(id="old-1", created_at=when, updated_at=when, version=2,
                          item=MemoryItem(user_id="alice", memory="Alice lives in Porto."))

    async def write() -> None:  # straight into the file, as the agent's own toolkit would have
        async with await SqliteMemory.open(path) as store:
            await store.add_records([record])

    asyncio.run(write())
    dash = make_dash({"main": {"_type": "sqlite", "path": str(path)}})
    at = ok(dash.app("memory", id="old-1").run())
    assert any("written before the audit log recorded it: created 2023-05-01 09:30:00 UTC" in c.value
               for c in at.caption)
    assert versions(at) == []
    memories.update_memory(dash.hub, LOCAL_ADMIN, "main", "old-1", MemoryPatch(memory="Alice lives in Lisbon."),
                           expected_version=2)
    at = ok(dash.app("memory", id="old-1").run())
    assert [label.split(":")[0] for label in versions(at)] == ["Version 3 (now)", "Version 2"]
    assert versions(at)[1] == "Version 2: written before the audit log"  # as the first audited edit found it
    restore_button(at, 2).click().run()
    assert "Restored version 2: the memory is now version 4." in messages(ok(at), "success")
    assert dash.get("old-1").item.memory == "Alice lives in Porto."
