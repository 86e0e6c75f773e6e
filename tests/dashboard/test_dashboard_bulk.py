"""Bulk tag / untag / delete on selected rows or on a whole filter: dry-run count, confirmation, progress."""

import pytest

from tests.helpers.dashboard import messages, ok, unescape


@pytest.fixture
def seeded(dash):
    for i in range(12):
        dash.add(user="alice" if i % 2 else "bob", memory=f"note {i}", minutes=i, tags=["old"] if i < 6 else [])
    return dash


def select(at, rows):
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return ok(at.run())


def dialog_text(at) -> str:
    return " ".join(unescape(m.value) for m in at.markdown).replace("**", "")


def open_job(at, action, *, scope="selected", tags=""):
    at.radio(key="bulk_scope").set_value(scope).run()
    at.text_input(key="bulk_tags").input(tags)  # sent with the click, as a browser does on blur
    at.button(key=f"bulk_{action}").click().run()
    return ok(at)


def test_tag_selected_rows(seeded):
    at = select(ok(seeded.app("browse").run()), [0, 1])
    chosen = at.dataframe[0].value["id"][:2].tolist()
    open_job(at, "tag", tags="vip, checked")
    assert "Tag 2 memories selected: add vip, checked" in dialog_text(at)
    assert seeded.records(tags_all=("vip", "checked")) == []  # the dry run wrote nothing
    at.button(key="bulk_confirm").click().run()
    assert sorted(r.id for r in seeded.records(tags_all=("vip", "checked"))) == sorted(chosen)
    assert messages(ok(at), "success") == ["Tagged 2 memories."] and "bulk_confirm" not in [b.key for b in at.button]
    assert "0 rows selected · 12 matching" in [c.value for c in at.caption]  # the changed rows are not ticked
    assert at.button(key="bulk_tag").disabled  # so nothing is chosen for the next action


def test_untag_everything_matching_the_filter(seeded):
    at = ok(seeded.app("browse", user="bob").run())
    open_job(at, "untag", scope="filter", tags="old")
    assert "Untag 6 memories matching the filter: remove old" in dialog_text(at)
    at.button(key="bulk_confirm").click().run()
    ok(at)
    assert [r.user_id for r in seeded.records(tags_any=("old",))] == ["alice"] * 3
    assert messages(at, "success") == ["Untagged 3 memories."]  # 3 of bob's 6 had the tag


def test_delete_everything_matching_pages_through_a_large_filter(dash):
    from dashboard.services.memories import import_records
    from memory_core.access import LOCAL_ADMIN
    from memory_core.transfer import record_from_dict

    rows = [{"id": f"r{i:04d}", "user_id": "u", "memory": f"m {i}", "tags": ["doomed"] if i % 2 else []}
            for i in range(900)]
    import_records(dash.hub, LOCAL_ADMIN, "main", [record_from_dict(r) for r in rows])
    at = ok(dash.app("browse", tags="doomed").run())
    open_job(at, "delete", scope="filter")
    assert "Delete 450 memories matching the filter?" in dialog_text(at)
    at.button(key="bulk_confirm").click().run()
    assert messages(ok(at), "success") == ["Deleted 450 memories."]
    assert len(dash.records()) == 450 and not dash.records(tags_any=("doomed",))
    assert messages(at, "info") == ["No memories match this filter."]


def test_delete_selected_rows(seeded):
    at = select(ok(seeded.app("browse").run()), [0])
    doomed = at.dataframe[0].value["id"][0]
    open_job(at, "delete")
    assert "Delete 1 memory selected?" in dialog_text(at)
    at.button(key="bulk_confirm").click().run()
    assert doomed not in [r.id for r in seeded.records()] and len(seeded.records()) == 11


def test_cancel_changes_nothing(seeded):
    at = ok(seeded.app("browse").run())
    open_job(at, "delete", scope="filter")
    at.button(key="bulk_cancel").click().run()
    assert len(seeded.records()) == 12
    assert "bulk_confirm" not in [b.key for b in ok(at).button]


def test_tag_without_tags_asks_for_them(seeded):
    at = ok(seeded.app("browse").run())
    open_job(at, "tag", scope="filter")
    assert any("Type the tags" in w for w in messages(at, "warning"))
    assert "bulk_confirm" not in [b.key for b in at.button]


def test_selected_scope_needs_a_selection(seeded):
    at = ok(seeded.app("browse").run())
    assert at.button(key="bulk_delete").disabled
    at.radio(key="bulk_scope").set_value("filter").run()
    assert not ok(at).button(key="bulk_delete").disabled


def test_bulk_services_page_through_and_report_progress(dash):
    from dashboard.services import memories
    from memory_core.access import LOCAL_ADMIN, Actor, PermissionDenied, Role
    from memory_core.records import MemoryFilter

    for i in range(450):
        dash.add(user="u", memory=f"m {i}", minutes=i)
    calls = []
    changed = memories.retag_matching(dash.hub, LOCAL_ADMIN, "main", MemoryFilter(user_id="u"), add=["x"],
                                      progress=lambda done, total: calls.append((done, total)))
    assert changed == 450 and calls == [(200, 450), (400, 450), (450, 450)]
    with pytest.raises(PermissionDenied):
        memories.delete_matching(dash.hub, Actor("ed", Role.EDITOR), "main", MemoryFilter())
    assert len(dash.records(tags_all=("x",))) == 450


def test_an_editor_may_not_bulk_delete(seeded, monkeypatch):
    from dashboard import context
    from memory_core.access import Actor, Role

    monkeypatch.setattr(context, "actor", lambda: Actor("ed", Role.EDITOR))
    at = ok(seeded.app("browse").run())
    open_job(at, "delete", scope="filter")
    at.button(key="bulk_confirm").click().run()
    assert messages(ok(at), "error") == ["ed is an editor on store 'main' and may not bulk-delete memories "
                                         "(needs admin)"]
    assert len(seeded.records()) == 12


def test_ticked_rows_are_the_scope_without_touching_the_scope_control(seeded):
    at = select(ok(seeded.app("browse").run()), [2])
    chosen = at.dataframe[0].value["id"][2]
    at.button(key="bulk_delete").click().run()  # the scope radio is left as the page shows it
    text = dialog_text(ok(at))
    assert "Delete 1 memory selected?" in text and "matching the filter" not in text
    [listed] = [t.value for t in at.text if t.value.startswith("•")]
    assert listed == f"• {seeded.get(chosen).item.memory}  (user {seeded.get(chosen).user_id})"
    at.button(key="bulk_confirm").click().run()
    assert sorted(r.id for r in seeded.records()) == sorted(set(at.dataframe[0].value["id"]) - {chosen}) \
        and len(seeded.records()) == 11


def test_a_selected_memory_changed_since_it_was_ticked_is_not_deleted(seeded):
    from memory_core.access import LOCAL_ADMIN

    at = select(ok(seeded.app("browse").run()), [0])
    chosen = at.dataframe[0].value["id"][0]
    at.button(key="bulk_delete").click().run()
    from dashboard.services import memories
    from memory_core.records import MemoryPatch
    memories.update_memory(seeded.hub, LOCAL_ADMIN, "main", chosen, MemoryPatch(memory="changed by someone else"),
                           expected_version=1)
    at.button(key="bulk_confirm").click().run()
    assert seeded.get(chosen).item.memory == "changed by someone else" and len(seeded.records()) == 12
    [error] = messages(ok(at), "error")
    assert error.startswith(f"Nothing was deleted: memory {chosen} changed since it was loaded")
