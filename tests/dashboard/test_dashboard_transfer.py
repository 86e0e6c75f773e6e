"""Import / export: whole-file validation by line number, skip-invalid, progress, lossless round trips."""

import importlib
import json

import pytest

from dashboard.services.memories import export_file, export_stream
from memory_core.access import Actor, Role
from memory_core.audit import AuditQuery
from memory_core.audit.imports import OnExisting
from memory_core.records import MemoryFilter
from tests.helpers.dashboard import messages, ok

ADMIN = Actor("ops", Role.ADMIN)
GOOD = [{"id": f"g{i}", "user_id": "alice", "memory": f"good {i}", "tags": ["t"], "metadata": {"i": i},
         "created_at": "2024-01-01T00:00:00+00:00", "updated_at": "2024-01-02T00:00:00+00:00", "version": 3}
        for i in range(3)]


def jsonl(rows) -> bytes:
    return "".join((json.dumps(r) if not isinstance(r, str) else r) + "\n" for r in rows).encode()


def upload(dash, name: str, data: bytes, store: str = "main"):
    at = ok(dash.app("transfer", store=store).run())
    at.file_uploader(key="import_file").upload(name, data, "application/octet-stream")
    return ok(at.run())


def test_download_button_and_count(dash):
    importlib.import_module("dashboard.server")  # importing the ASGI app (as another test may) changes nothing here
    dash.add(user="alice")
    dash.add(user="bob", minutes=1)
    at = ok(dash.app("transfer", user="bob").run())
    assert "1 memory to export." in [c.value for c in at.caption]
    button = at.download_button(key="export_download")
    assert button.proto.deferred_file_id  # built only when clicked, a page of records at a time
    at.radio(key="export_format").set_value("csv").run()
    assert ok(at).download_button(key="export_download").label == "Download CSV"


def test_export_file_follows_the_filter(dash):
    dash.add(user="alice", memory="a")
    dash.add(user="bob", memory="b", minutes=1)
    lines = export_file(dash.hub, ADMIN, "main", MemoryFilter(user_id="bob"), "jsonl").read().decode().splitlines()
    assert [json.loads(line)["memory"] for line in lines] == ["b"]


def test_an_export_is_noted_in_the_audit_log_with_who_and_how_many(dash):
    for i in range(3):
        dash.add(user="bob", memory=f"b{i}", minutes=i)
    export_file(dash.hub, Actor("viewer-vi", Role.VIEWER), "main", MemoryFilter(user_id="bob"), "csv")
    [entry] = dash.hub.audit.entries(AuditQuery(operation="export"))
    assert (entry.actor, entry.user_id, entry.note) == ("viewer-vi", "bob", "3 memories downloaded as CSV")


def test_a_download_the_browser_stops_is_noted_with_what_was_sent(dash):
    for i in range(5):
        dash.add(user="bob", memory=f"b{i}", minutes=i)
    stream = export_stream(dash.hub, ADMIN, "main", MemoryFilter(), "jsonl")
    assert len([json.loads(next(stream)) for _ in range(2)]) == 2
    stream.close()  # what the server does when the browser goes away
    [entry] = dash.hub.audit.entries(AuditQuery(operation="export"))
    assert entry.note == "download stopped after 2 memories (JSONL)"


def test_import_valid_jsonl(dash):
    at = upload(dash, "good.jsonl", jsonl(GOOD))
    assert "3 rows: 3 valid, 0 invalid." in [c.value for c in at.caption]
    at.button(key="import_go").click().run()
    assert messages(ok(at), "success") == ["Imported into store 'main': 3 added."]
    stored = dash.get("g1")
    assert (stored.version, stored.item.metadata, stored.created_at.isoformat()) == (3, {"i": 1},
                                                                                     "2024-01-01T00:00:00+00:00")
    at.run()
    assert ok(at).button(key="import_go").disabled  # the same upload is not imported twice


def test_after_an_import_the_page_shows_the_store_as_it_is_and_the_file_can_go_into_another_store(make_dash):
    dash = make_dash({"main": {"_type": "in_memory"}, "other": {"_type": "in_memory"}})
    at = upload(dash, "good.jsonl", jsonl(GOOD))
    assert "0 memories to export." in [c.value for c in at.caption]
    at.button(key="import_go").click().run()
    assert "3 memories to export." in [c.value for c in ok(at).caption]  # not the count from before the import
    assert at.button(key="import_go").disabled
    assert messages(at, "success") == ["Imported into store 'main': 3 added."]
    at.selectbox(key="store_picker").set_value("other").run()
    assert not ok(at).button(key="import_go").disabled and not messages(at, "success")
    at.button(key="import_go").click().run()
    assert messages(ok(at), "success") == ["Imported into store 'other': 3 added."]
    assert len(dash.records("other")) == 3


BAD = [GOOD[0], "{not json", {"memory": "no user"}, GOOD[1], {"user_id": "x", "tags": "notalist"}, GOOD[2]]


def test_a_bad_row_blocks_the_import_and_is_reported_by_line(dash):
    at = upload(dash, "mixed.jsonl", jsonl(BAD))
    assert "6 rows: 3 valid, 3 invalid." in [c.value for c in at.caption]
    problems = at.dataframe[0].value
    assert problems["line"].tolist() == [2, 3, 5]
    assert "not valid JSON" in problems["problem"][0] and "user_id" in problems["problem"][1]
    assert at.button(key="import_go").disabled
    assert dash.records() == []


def test_skip_invalid_rows_imports_the_good_ones(dash):
    at = upload(dash, "mixed.jsonl", jsonl(BAD))
    at.checkbox(key="import_skip").check().run()
    at.button(key="import_go").click().run()
    assert sorted(r.id for r in dash.records()) == ["g0", "g1", "g2"]
    assert messages(ok(at), "success") == ["Imported into store 'main': 3 added."]


def test_csv_import_with_a_bad_row(dash):
    data = (b"user_id,memory,tags\nalice,hello,\"[\"\"a\"\"]\"\nbob,bad tags,[oops\n,no user,\n")
    at = upload(dash, "rows.csv", data)
    assert at.dataframe[0].value["line"].tolist() == [3, 4]
    at.checkbox(key="import_skip").check().run()
    at.button(key="import_go").click().run()
    assert [(r.user_id, r.item.tags) for r in dash.records()] == [("alice", ["a"])]


def test_a_file_that_is_not_utf8(dash):
    at = upload(dash, "latin1.jsonl", "{\"user_id\": \"é\"}".encode("latin-1"))
    assert messages(at, "error") == ["latin1.jsonl is not UTF-8 text (byte 13)"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_then_import_into_an_empty_store_is_lossless(make_dash, fmt):
    source, target = make_dash(), make_dash()
    hostile = '<b>"quoted", comma</b>\nnew line **md**'
    source.add(user="alice", memory=hostile, tags=["a,b", "ü"], metadata={"nested": {"x": [1, None, True]}},
               conversation=[{"role": "user", "content": "hi\r\nthere"}])
    for i in range(1, 30):
        source.add(user=f"u{i % 4}", memory=f"m{i}", minutes=i)
    first = export_file(source.hub, ADMIN, "main", MemoryFilter(), fmt).read()
    at = upload(target, f"export.{fmt}", first)
    at.button(key="import_go").click().run()
    ok(at)
    assert export_file(target.hub, ADMIN, "main", MemoryFilter(), fmt).read() == first
    assert [r.model_dump() for r in target.records()] == [r.model_dump() for r in source.records()]


def test_store_without_browsing_imports_without_ids(make_dash):
    dash = make_dash({"toolkit": {"_type": "test_search_only"}})
    at = upload(dash, "good.jsonl", jsonl(GOOD), store="toolkit")
    assert any("does not keep ids and timestamps" in w for w in messages(at, "warning"))
    assert any("cannot list memories" in m for m in messages(at, "info"))  # so it cannot export
    at.button(key="import_go").click().run()
    assert messages(ok(at), "success") == ["Imported into store 'toolkit': 3 added."]


def test_existing_ids_are_listed_by_line_and_nothing_is_imported_until_a_choice(dash):
    dash.add(id="g1", memory="stored text")
    at = upload(dash, "good.jsonl", jsonl(GOOD))
    [warning] = messages(at, "warning")
    assert warning.startswith("1 row of this file uses an id that already exists in store 'main' with other content")
    collisions = at.dataframe[0].value
    assert collisions.to_dict("records") == [{"line": 2, "id": "g1", "user": "alice", "in the store": "stored text",
                                               "in the file": "good 1", "differs in": "memory, tags, metadata"}]
    assert at.button(key="import_go").disabled  # no choice yet: nothing can be written
    at.radio(key="import_on_existing").set_value(OnExisting.SKIP).run()
    at.button(key="import_go").click().run()
    assert messages(ok(at), "success") == ["Imported into store 'main': 2 added, 1 skipped (their ids exist)."]
    assert dash.get("g1").item.memory == "stored text" and len(dash.records()) == 3


def test_overwriting_from_the_page_is_an_audited_revertible_edit(dash):
    dash.add(id="g1", memory="stored text")
    at = upload(dash, "good.jsonl", jsonl(GOOD))
    at.radio(key="import_on_existing").set_value(OnExisting.OVERWRITE).run()
    at.button(key="import_go").click().run()
    assert messages(ok(at), "success") == ["Imported into store 'main': 2 added, 1 overwritten."]
    [entry] = dash.hub.audit.entries(AuditQuery(memory_id="g1", operation="update"))
    assert (entry.before["memory"], entry.after["memory"]) == ("stored text", "good 1")


def test_importing_the_same_export_again_changes_nothing_and_asks_nothing(dash):
    dash.add(id="g1", memory="stored text")
    exported = export_file(dash.hub, ADMIN, "main", MemoryFilter(), "jsonl").read()
    at = upload(dash, "again.jsonl", exported)
    assert "1 row of this file already in the store exactly as they are: left alone." in [c.value for c in at.caption]
    assert not at.button(key="import_go").disabled
    at.button(key="import_go").click().run()
    assert messages(ok(at), "success") == ["Imported into store 'main': 0 added, 1 already in the store as they are."]
    assert dash.get("g1").version == 1


def test_an_import_that_fails_midway_says_which_rows_are_in(dash, monkeypatch):
    from memory_core.audit.writer import AuditedWriter
    from memory_core.errors import StoreUnavailableError

    real, calls = AuditedWriter.import_batch, [0]

    async def failing_second(self, records, **kwargs):
        calls[0] += 1
        if calls[0] == 2:
            raise StoreUnavailableError("disk full")
        await real(self, records, **kwargs)

    monkeypatch.setattr(AuditedWriter, "import_batch", failing_second)
    rows = [{"id": f"r{i:03d}", "user_id": "u", "memory": f"row {i}"} for i in range(600)]
    at = upload(dash, "big.jsonl", jsonl(rows))
    at.button(key="import_go").click().run()  # batches of 500: the second one fails
    [error] = messages(ok(at), "error")
    assert error == ("Import stopped: disk full; rows up to line 500 (500 of 600) were written and audited. Import "
                     "the same file again to finish: the rows already in the store as the file has them are left "
                     "alone.")
    assert len(dash.records()) == 500
