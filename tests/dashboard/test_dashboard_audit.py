"""Audit log and Trash pages, and Undo after a delete (AppTest): filters in the URL, deep links, revert, restore."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard.services import memories, revert
from memory_core.access import LOCAL_ADMIN, Actor, Role
from memory_core.audit import AuditQuery
from memory_core.records import MemoryFilter, MemoryPatch
from tests.helpers.dashboard import HOSTILE, assert_shown_as_text, messages, ok, texts


def edit(dash, memory_id: str, text: str) -> None:
    current = dash.get(memory_id)
    memories.update_memory(dash.hub, LOCAL_ADMIN, "main", memory_id, MemoryPatch(memory=text),
                           expected_version=current.version)


def entry_seqs(at) -> list[int]:
    return at.dataframe[0].value["entry"].tolist()


def select(at, rows: list[int]):
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return ok(at.run())


def links(at) -> list[tuple[str, str]]:
    return [(link.proto.page, link.proto.query_string) for link in at.page_link]


@pytest.fixture
def history(make_dash):
    """Store ``main``: alice's memory added then edited, bob's added; store ``other``: one memory."""
    dash = make_dash({"main": {"_type": "in_memory"}, "other": {"_type": "in_memory"}})
    dash.add(memory="tea", id="m-alice")  # entry 1
    edit(dash, "m-alice", "green tea")  # entry 2
    dash.add(user="bob", memory="chess", id="m-bob", minutes=1)  # entry 3
    dash.add("other", memory="elsewhere", id="m-other")  # entry 4
    return dash


# --- the list --------------------------------------------------------------------------------------------


def test_lists_the_stores_changes_newest_first(history) -> None:
    at = ok(history.app("audit").run())
    assert entry_seqs(at) == [3, 2, 1]
    frame = at.dataframe[0].value
    assert frame["operation"].tolist() == ["add", "update", "add"] and frame["version"].tolist()[:2] == ["– → 1",
                                                                                                        "1 → 2"]
    assert any("3 matching entries" in c.value for c in at.caption)


def test_filters_are_written_to_the_url_and_read_back(history) -> None:
    at = ok(history.app("audit").run())
    at.text_input(key="audit_user").input("alice")
    at.selectbox(key="audit_op").select("update")
    at.button(key="FormSubmitter:audit_form-Apply").click().run()
    assert ok(at).query_params["user"] == "alice" and at.query_params["op"] == "update"
    assert entry_seqs(at) == [2]
    linked = ok(history.app("audit", actor="local (auth off)", id="m-alice", all_stores="1").run())
    assert entry_seqs(linked) == [2, 1] and linked.text_input(key="audit_id").value == "m-alice"
    assert linked.checkbox(key="audit_all").value is True
    everywhere = ok(history.app("audit", all_stores="1").run())
    assert entry_seqs(everywhere) == [4, 3, 2, 1]
    today = dt.datetime.now(dt.UTC).date()
    tomorrow = ok(history.app("audit", **{"from": str(today + dt.timedelta(days=1))}).run())
    assert messages(tomorrow, "info") == ["No audit entries match."] and not tomorrow.dataframe
    assert entry_seqs(ok(history.app("audit", **{"from": str(today), "to": str(today)}).run())) == [3, 2, 1]


def test_clear_removes_every_filter(history) -> None:
    at = ok(history.app("audit", user="bob", op="add").run())
    assert entry_seqs(at) == [3]
    at.button(key="FormSubmitter:audit_form-Clear").click().run()
    assert "user" not in ok(at).query_params and entry_seqs(at) == [3, 2, 1]


@pytest.mark.parametrize(("params", "message"), [({"op": "drop"}, "op must be one of"),
                                                 ({"from": "yesterday"}, "from must be a date"),
                                                 ({"from": "2024-02-01", "to": "2024-01-01"}, "range is empty"),
                                                 ({"entry": "x1"}, "audit entry number"),
                                                 ({"entry": "999"}, "no audit entry number 999")])
def test_a_bad_link_is_a_message(history, params: dict, message: str) -> None:
    errors = messages(ok(history.app("audit", **params).run()), "error")
    assert len(errors) == 1 and message in errors[0]


def test_selected_rows_link_to_their_entries(history) -> None:
    at = select(ok(history.app("audit").run()), [0, 2])
    assert [q for page, q in links(at) if page == "audit"] == ["entry=3", "entry=1"]


def test_pages_of_entries(history) -> None:
    for n in range(60):
        edit(history, "m-bob", f"move {n}")
    at = ok(history.app("audit").run())
    assert len(entry_seqs(at)) == 50 and entry_seqs(at)[0] == 64
    at.button(key="audit_pager_next").click().run()
    assert entry_seqs(ok(at)) == [14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 3, 2, 1]


# --- one entry -------------------------------------------------------------------------------------------


def test_an_entry_shows_its_fields_diff_and_links(history) -> None:
    at = ok(history.app("audit", entry="2").run())
    shown = texts(at)
    assert shown[0].startswith("entry 2 · ") and shown[0].endswith(" · update by local (auth off)")
    assert {"store: main", "user: alice", "memory: m-alice", "version: 1 → 2"} <= set(shown)
    diff = at.code[0].value
    assert "-tea" in diff and "+green tea" in diff and '-  "version": 1' in diff
    assert ("memory", "store=main&id=m-alice") in links(at)
    assert ("audit", "store=main&id=m-alice") in links(at)
    at.button(key="audit_back").click().run()
    assert "entry" not in ok(at).query_params and entry_seqs(at) == [3, 2, 1]


def test_revert_one_change_from_its_entry(history) -> None:
    at = ok(history.app("audit", entry="2").run())
    assert not at.button(key="audit_revert").disabled
    at.button(key="audit_revert").click().run()
    assert history.get("m-alice").item.memory == "green tea"  # nothing yet: the change is shown first
    assert any("Revert 1 change?" in m for m in messages(ok(at), "markdown"))
    assert "-green tea" in at.code[-1].value and "+tea" in at.code[-1].value  # now (−), after the revert (+)
    at.button(key="audit_revert_confirm").click().run()
    assert messages(ok(at), "success") == ["Reverted 1 change."]
    assert history.get("m-alice").item.memory == "tea"
    assert ("audit", "entry=5") in links(at)  # "Reverted by audit entry 5"
    assert messages(at, "info") == ["This change was already reverted by audit entry 5."]
    assert messages(at, "warning") == [] and "audit_revert" not in [b.key for b in at.button]
    revert_entry = ok(history.app("audit", entry="5").run())
    assert "reverts entry: 2" in texts(revert_entry) and ("audit", "entry=2") in links(revert_entry)


def test_a_conflicting_change_is_shown_with_a_diff_and_cannot_be_reverted(history) -> None:
    edit(history, "m-alice", "black tea")
    at = ok(history.app("audit", entry="2").run())
    assert messages(at, "warning") == ["This change cannot be reverted: changed since: now version 3, the entry left "
                                       "version 2."]
    assert "-green tea" in at.code[1].value and "+black tea" in at.code[1].value
    assert at.button(key="audit_revert").disabled
    assert history.get("m-alice").item.memory == "black tea"


def test_a_batch_with_a_conflict_reverts_nothing_until_asked_to_revert_the_rest(make_dash) -> None:
    dash = make_dash()
    ids = [dash.add(memory=f"note {i}", minutes=i) for i in range(3)]
    memories.retag_memories(dash.hub, LOCAL_ADMIN, "main", ids, add=["vip"], batch="bulk1")
    edit(dash, ids[1], "changed later")
    at = ok(dash.app("audit", batch="bulk1").run())
    assert len(entry_seqs(at)) == 3
    at.button(key="audit_revert_batch").click().run()
    assert "1 change of 3 cannot be reverted (changed later, or already reverted) and will be left as they are." \
        in messages(ok(at), "warning")
    assert all("vip" in dash.get(i).item.tags for i in ids)  # nothing until confirmed
    at.button(key="audit_revert_confirm").click().run()
    assert messages(ok(at), "success") == ["Reverted 2 changes. Left 1 conflicting change as they are."]
    assert [dash.get(i).item.tags for i in ids] == [[], ["vip"], []]


def test_hostile_text_in_entries_is_shown_as_text(make_dash) -> None:
    dash = make_dash()
    memory_id = dash.add(user="<b>eve</b>", memory=HOSTILE, id="<i>x</i>")
    memories.delete_memories(dash.hub, LOCAL_ADMIN, "main", [memory_id])
    for at in (dash.app("audit"), dash.app("audit", entry="2"), dash.app("trash")):
        ok(at.run())
        for payload in (HOSTILE, "<b>eve</b>", "<i>x</i>"):
            assert_shown_as_text(at, payload)
    assert at.dataframe[0].value["memory"].iloc[0].startswith("<img src=x")  # the trash table holds it as data


def test_a_viewer_reads_the_log_but_cannot_revert_or_restore(history, monkeypatch) -> None:
    from dashboard import context

    memories.delete_memories(history.hub, LOCAL_ADMIN, "main", ["m-bob"])
    monkeypatch.setattr(context, "actor", lambda: Actor("viv", Role.VIEWER))
    at = ok(history.app("audit", entry="2").run())
    assert at.button(key="audit_revert").disabled
    assert "Your role can read the audit log, not revert changes." in [c.value for c in at.caption]
    trash = select(ok(history.app("trash").run()), [0])
    assert trash.button(key="trash_restore").disabled


# --- trash and undo --------------------------------------------------------------------------------------


def test_trash_lists_deleted_memories_and_restores_them(history) -> None:
    memories.delete_memories(history.hub, LOCAL_ADMIN, "main", ["m-alice", "m-bob"])
    at = ok(history.app("trash").run())
    frame = at.dataframe[0].value
    assert sorted(frame["memory_id"]) == ["m-alice", "m-bob"] and set(frame["memory"]) == {"green tea", "chess"}
    at.text_input(key="trash_user").input("bob").run()
    assert ok(at).query_params["user"] == "bob" and at.dataframe[0].value["memory_id"].tolist() == ["m-bob"]
    at = select(at, [0])
    assert at.button(key="trash_restore").label == "Restore 1 memory"
    at.button(key="trash_restore").click().run()
    assert messages(ok(at), "success") == ["Restored 1 memory."]
    assert history.get("m-bob").item.memory == "chess" and messages(at, "info") == ["The trash is empty."]
    assert [r.id for r in history.records()] == ["m-bob"]


def test_trash_forgets_deletes_older_than_the_retention(make_dash) -> None:
    dash = make_dash()
    dash.config.write_text(dash.config.read_text() + "memdash:\n  trash:\n    retention_days: 2\n")
    memory_id = dash.add(memory="old news")
    memories.delete_memories(dash.hub, LOCAL_ADMIN, "main", [memory_id])
    at = ok(dash.app("trash").run())
    assert any("in the last 2 days" in c.value for c in at.caption) and len(at.dataframe[0].value) == 1
    assert dash.hub.audit.trash("main", since=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).entries == []


def test_undo_right_after_deleting_from_the_memory_page(history) -> None:
    at = ok(history.app("memory", id="m-alice").run())
    at.button(key="detail_delete").click().run()
    assert any("goes to the trash" in m.value for m in ok(at).markdown)
    at.button(key="detail_delete_confirm").click().run()
    assert messages(ok(at), "success") == ["Deleted “green tea” (user alice)."]
    assert at.title[0].value == "Browse memories"
    assert [r.id for r in history.records()] == ["m-bob"]
    at.button(key="undo_banner").click().run()
    assert messages(ok(at), "success") == ["Restored 1 memory."]
    assert history.get("m-alice").item.memory == "green tea" and history.get("m-alice").version == 2
    assert "undo_banner" not in [b.key for b in at.button] and "undo_sidebar" not in [b.key for b in at.sidebar.button]
    last = history.hub.audit.page(AuditQuery(), limit=1).entries[0]
    assert (last.operation, last.memory_id) == ("revert", "m-alice")


def test_undo_a_bulk_delete_from_the_sidebar_later(history) -> None:
    at = ok(history.app("browse").run())
    at.radio(key="bulk_scope").set_value("filter").run()
    at.button(key="bulk_delete").click().run()
    at.button(key="bulk_confirm").click().run()
    assert messages(ok(at), "success") == ["Deleted 2 memories."] and history.records() == []
    assert at.button(key="undo_banner")  # offered right away
    at.run()
    assert "undo_banner" not in [b.key for b in ok(at).button]  # the banner is shown once...
    assert at.sidebar.button(key="undo_sidebar")  # ...the sidebar keeps the offer
    at.sidebar.button(key="undo_sidebar").click().run()
    assert sorted(r.id for r in history.records()) == ["m-alice", "m-bob"]
    assert messages(ok(at), "success") == ["Restored 2 memories."]


def test_dismissing_the_undo_keeps_the_memory_in_the_trash(history) -> None:
    at = ok(history.app("memory", id="m-bob").run())
    at.button(key="detail_delete").click().run()
    at.button(key="detail_delete_confirm").click().run()
    at.sidebar.button(key="undo_dismiss").click().run()
    assert "undo_sidebar" not in [b.key for b in ok(at).sidebar.button]
    trash = ok(history.app("trash").run())
    assert trash.dataframe[0].value["memory_id"].tolist() == ["m-bob"]
    assert memories.count_memories(history.hub, "main", MemoryFilter()) == 1


def test_the_undo_offer_goes_away_once_the_memory_was_restored_from_the_trash(history) -> None:
    at = ok(history.app("memory", id="m-bob").run())
    at.button(key="detail_delete").click().run()
    at.button(key="detail_delete_confirm").click().run()
    assert at.sidebar.button(key="undo_sidebar")
    at.switch_page("app_pages/trash.py").run()
    at = select(ok(at), [0])
    at.button(key="trash_restore").click().run()
    assert messages(ok(at), "success") == ["Restored 1 memory."] and history.get("m-bob").item.memory == "chess"
    at.run()
    assert "undo_sidebar" not in [b.key for b in ok(at).sidebar.button]  # nothing left to undo: no stale offer
    assert messages(at, "error") == []


def test_undoing_what_was_already_restored_says_so_plainly(history) -> None:
    at = ok(history.app("memory", id="m-bob").run())
    at.button(key="detail_delete").click().run()
    at.button(key="detail_delete_confirm").click().run()
    [entry] = revert.batch_entries(history.hub, at.session_state["_undo_last_delete"]["batch"])
    revert.revert(history.hub, LOCAL_ADMIN, [entry])  # another operator restores it meanwhile
    at.button(key="undo_banner").click().run()  # the banner was still on the page
    assert messages(ok(at), "error") == [] and "revert_rest" not in [b.key for b in at.button]
    assert messages(at, "info") == ["Nothing to restore: it was already restored (already reverted by audit entry "
                                    f"{entry.seq + 1})."]
