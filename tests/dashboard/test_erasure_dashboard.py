"""Erasing a person through the dashboard, the marker test: a unique marker goes into one user's memories, which
are added, edited, deleted, labelled, approved, browsed, snapshotted and downloaded through the dashboard; the
user is erased from the Users page (two steps); then the marker is in no file memdash manages (the store's files
with their WAL, the audit log, the snapshots folder) on sqlite, and in no row (PostgreSQL) or key (Redis) of the
server stores, while another user's memories, entries and snapshot lines are exactly as they were. Also: the
pages no longer show the person, and only the dashboard's admins are offered the erasure."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dashboard import context
from dashboard.services import erasure, memories
from memory_core.access import LOCAL_ADMIN, Actor, PermissionDenied, Role
from memory_core.audit import AuditEntry, AuditQuery
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter
from tests.helpers.dashboard import Dash, messages, ok, texts
from tests.helpers.servers_redis import RedisServer, redis_server  # noqa: F401

USER = "erase-me@example.com"
OTHER = "bob"


def new_marker() -> str:
    """Letters and digits ending in a digit, so no tokenizer or stemmer changes it (the FTS index holds it whole)."""
    return f"zqxmark{uuid.uuid4().hex[:16]}7"


def rendered(at) -> str:
    """Every element's protobuf, as text (labels, values, table bytes, options)."""
    out, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        if getattr(node, "proto", None) is not None:
            out.append(str(node.proto))
        stack.extend(getattr(node, "children", {}).values())
    return "\n".join(out)


def files_with(folder: Path, marker: str) -> list[str]:
    """Files under ``folder`` holding the marker, whole or its last 16 characters (an FTS5 leaf stores a term
    after the prefix it shares with the term before it)."""
    needles = [marker.encode(), marker[-16:].encode()]
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and any(n in p.read_bytes() for n in needles))


def everything(dash: Dash) -> list[AuditEntry]:
    """Every audit entry, read records included where the log keeps them apart."""
    if "reads" not in {field.name for field in dataclasses.fields(AuditQuery)}:
        return list(dash.hub.audit.entries(AuditQuery()))
    return sorted([*dash.hub.audit.entries(AuditQuery()), *dash.hub.audit.entries(AuditQuery(reads=True))],
                  key=lambda e: e.seq or 0)


def snapshot_lines(folder: Path, user: str) -> list[str]:
    return [line for path in sorted(folder.rglob("*.jsonl")) for line in path.read_text().splitlines()
            if json.loads(line)["user_id"] == user]


def select_user(at, user: str):
    rows = at.dataframe[0].value["user_id"].tolist()
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [rows.index(user)], "columns": [], "cells": []}}
    return ok(at.run())


# --- the journey, whatever the store ------------------------------------------------------------------------------


def add_through_the_page(dash: Dash, store: str, memories_: list[tuple[str, list[str], str]]) -> None:
    """Add memories of USER on the Add page, one form after the other: (text, tags, metadata JSON)."""
    at = ok(dash.app("add", store=store).run())
    for gen, (memory, tags, metadata) in enumerate(memories_):
        at.text_input(key=f"add_user_{gen}").input(USER)
        at.text_area(key=f"add_memory_{gen}").input(memory)
        at.multiselect(key=f"add_tags_{gen}").set_value(tags)
        at.text_area(key=f"add_metadata_{gen}").input(metadata)
        at.button(key=f"FormSubmitter:add_form_{gen}-Add memory").click().run()
        ok(at)


def live_the_memories(dash: Dash, store: str, marker: str, downloads: Path) -> None:
    """Everything the dashboard can do with a person's memories, each step through its page."""
    kept = f"My e-mail is {marker}@example.com and I like {marker} tea"
    add_through_the_page(dash, store, [(kept, [f"{marker}tag"], json.dumps({"note": marker})),
                                       (f"A second memory, {marker}, edited then deleted", [], "{}")])
    [second] = [r for r in dash.records(store, user_id=USER) if r.item.memory != kept]
    at = ok(dash.app("memory", store=store, id=second.id).run())
    at.text_area(key="detail_memory").input(f"Edited: {marker} goes")
    at.button(key="detail_save").click().run()
    assert messages(ok(at), "success") == ["Saved: this memory is now version 2."]
    at = ok(dash.app("memory", store=store, id=second.id).run())
    at.button(key="detail_delete").click().run()
    ok(at).button(key="detail_delete_confirm").click().run()
    assert [r.item.memory for r in dash.records(store, user_id=USER)] == [kept]
    at = select_user(ok(dash.app("users", store=store).run()), USER)
    at.text_input(key=f"users_label_{USER}").input(f"Label {marker}")
    at.button(key="users_label_save").click().run()
    assert messages(ok(at), "success") == ["Label saved."]
    at = ok(dash.app("review", store=store).run())
    at.button(key="review_scan").click().run()
    at.button(key="review_approve_0").click().run()  # the e-mail address in the kept memory
    [approval] = dash.hub.audit.entries(AuditQuery(store=store, operation="review"))
    assert approval.user_id == USER
    ok(dash.app("browse", store=store, user=USER).run())
    at = ok(dash.app("playground", store=store).run())
    at.text_input(key="snapshot_name").set_value("before-erasure").run()
    at.button(key="snapshot_save").click().run()
    assert messages(ok(at), "success")[0].startswith("Snapshot before-erasure saved")
    # what the Download button sends (the browser saves it outside memdash's files)
    download = memories.export_file(dash.hub, LOCAL_ADMIN, store, MemoryFilter(user_id=USER), "jsonl")
    (downloads / "download.jsonl").write_bytes(download.read())


def erase_from_the_users_page(dash: Dash, store: str) -> str:
    """The two steps: the dialog with the counts, then the typed id; returns the success message (the receipt)."""
    at = select_user(ok(dash.app("users", store=store).run()), USER)
    assert at.text_input(key=f"erase_user_{USER}").value == USER
    at.button(key="erase_open").click().run()
    shown = "\n".join(texts(ok(at)))
    assert "1 memory in the store" in shown and "1 line in 1 snapshot file" in shown
    assert at.button(key="erase_go").disabled  # nothing happens before the id is typed
    at.text_input(key="erase_typed").input(USER[:-1]).run()
    assert ok(at).button(key="erase_go").disabled
    at.text_input(key="erase_typed").input(USER).run()
    at.button(key="erase_go").click().run()
    [message] = messages(ok(at), "success")
    assert USER not in message and not any(USER in t for t in texts(at))
    return message


def the_pages_show_nothing_of_the_person(dash: Dash, store: str, marker: str) -> None:
    pages = [("users", {}), ("browse", {"user": USER}), ("browse", {}), ("trash", {}), ("audit", {}),
             ("audit", {"all_stores": "1"}), ("audit", {"user": USER}), ("review", {}), ("playground", {}),
             ("search", {"user": USER})]
    for name, params in pages:
        at = ok(dash.app(name, store=store, **params).run())
        assert marker not in rendered(at), (name, params)
    at = ok(dash.app("users", store=store).run())
    assert USER not in at.dataframe[0].value["user_id"].tolist()
    edit = next(dash.hub.audit.entries(AuditQuery(store=store, user_id=USER, operation="update")))
    assert marker not in rendered(ok(dash.app("audit", store=store, entry=str(edit.seq)).run()))


def run_the_journey(dash: Dash, store: str, marker: str, downloads: Path, look: Any) -> dict[str, Any]:
    """Live, check the marker is there (``look(marker)`` lists where), erase, check it is nowhere; the other
    user's memories, entries and snapshot lines are compared exactly. Returns figures for the caller."""
    folder = dash.config.parent
    dash.add(store, user=OTHER, memory="Bob hikes every weekend", id="bob-1")
    dash.add(store, user=OTHER, memory="Bob likes coffee", id="bob-2", minutes=1)
    memories.label_user(dash.hub, LOCAL_ADMIN, store, OTHER, "Bob B.")
    live_the_memories(dash, store, marker, downloads)
    assert look(marker), "the marker is not where the journey put it: the test would prove nothing"
    assert files_with(folder / "snapshots", marker) and files_with(folder, marker)
    others = ([r.model_dump() for r in dash.records(store, user_id=OTHER)],
              [e for e in everything(dash) if e.user_id != USER], snapshot_lines(folder / "snapshots", OTHER))
    last = max(e.seq for e in everything(dash))

    message = erase_from_the_users_page(dash, store)

    assert look(marker) == [] and files_with(folder, marker) == []
    assert files_with(downloads, marker) == ["download.jsonl"]  # a copy already taken is not memdash's to erase
    assert dash.records(store, user_id=USER) == []
    assert ([r.model_dump() for r in dash.records(store, user_id=OTHER)],
            [e for e in everything(dash) if e.user_id != USER and e.seq <= last],
            snapshot_lines(folder / "snapshots", OTHER)) == others
    new = [e for e in dash.hub.audit.entries(AuditQuery()) if e.seq > last]
    [receipt] = [e for e in new if e.user_id == ""]
    assert receipt.operation == "erase" and receipt.note.startswith("erased user key")
    assert {(e.operation, e.user_id, e.before, e.after, e.note) for e in new if e is not receipt} == \
        {("erase", USER, None, None, None)}
    tombstones = [e for e in everything(dash) if e.user_id == USER]
    assert tombstones and all((e.before, e.after, e.note) == (None, None, None) for e in tombstones)
    assert {e.operation for e in tombstones} >= {"add", "update", "delete", "label", "review", "export", "erase"}
    the_pages_show_nothing_of_the_person(dash, store, marker)
    return {"message": message, "receipt": receipt}


# --- sqlite: every file -----------------------------------------------------------------------------------------


def test_after_erasure_the_marker_is_in_no_file_memdash_manages(make_dash, tmp_path):
    dash = make_dash({"main": {"_type": "sqlite", "path": "store.sqlite3"}})
    folder, marker, downloads = dash.config.parent, new_marker(), tmp_path / "downloads"
    downloads.mkdir()
    stores = ["store.sqlite3", "store.sqlite3-wal"]
    result = run_the_journey(dash, "main", marker, downloads,
                             lambda m: [f for f in files_with(folder, m) if f in stores])
    assert "memories 1," in result["receipt"].note and "snapshot lines 1" in result["receipt"].note
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("store")) == \
        ["store.sqlite3", "store.sqlite3-shm", "store.sqlite3-wal"]
    assert (folder / "store.sqlite3-wal").stat().st_size == 0  # checkpointed and truncated


# --- PostgreSQL: every row of the store's schema; Redis: every key -------------------------------------------------


def test_after_erasure_the_marker_is_in_no_row_on_postgres(make_dash, tmp_path, pgvector_server):
    schema = f"erase{uuid.uuid4().hex[:8]}"
    dash = make_dash({"pg": {"_type": "postgres", "dsn": pgvector_server, "schema": schema}})
    downloads = tmp_path / "downloads"
    downloads.mkdir()

    def rows_with(marker: str) -> list[str]:
        with psycopg.connect(pgvector_server, autocommit=True) as conn:
            tables = [row[0] for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))]
            return [f"{table}: {row[0][:60]}" for table in tables
                    for row in conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t') if marker in row[0]]

    run_the_journey(dash, "pg", new_marker(), downloads, rows_with)


def test_after_erasure_the_marker_is_in_no_key_on_redis(make_dash, tmp_path, redis_server: RedisServer):  # noqa: F811
    prefix = f"erase{uuid.uuid4().hex[:8]}"
    dash = make_dash({"r": {"_type": "redis_memory", "port": redis_server.port, "key_prefix": prefix}})
    downloads = tmp_path / "downloads"
    downloads.mkdir()

    def keys_with(marker: str) -> list[str]:
        found = []
        with redis_server.client() as client:
            for key in client.scan_iter(count=1000):  # every key of the server, not only this store's prefix
                kind = client.type(key)
                value = {"string": lambda k: client.get(k), "hash": lambda k: client.hgetall(k),
                         "list": lambda k: client.lrange(k, 0, -1), "set": lambda k: client.smembers(k),
                         "zset": lambda k: client.zrange(k, 0, -1), "ReJSON-RL": lambda k: client.json().get(k),
                         }.get(kind, lambda k: None)(key)
                if marker in key or marker in json.dumps(value, default=str):
                    found.append(key)
        return found

    run_the_journey(dash, "r", new_marker(), downloads, keys_with)


# --- who may erase ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_only_an_admin_of_the_dashboard_is_offered_or_allowed_the_erasure(dash, monkeypatch, role):
    dash.add(user=USER, memory="keep me")
    actor = Actor(f"{role.name.lower()}-1", role, store_roles=(("main", Role.ADMIN),))  # a store's admin is not
    monkeypatch.setattr(context, "actor", lambda: actor)
    at = select_user(ok(dash.app("users").run()), USER)
    assert not [b for b in at.button if (b.key or "").startswith("erase")]
    entries = everything(dash)
    for call in (lambda: erasure.erasure_plan(dash.hub, actor, "main", USER),
                 lambda: erasure.erase_person(dash.hub, actor, "main", USER, USER)):
        with pytest.raises(PermissionDenied, match=r"may not erase a person's data \(needs admin\)"):
            call()
    assert [r.item.memory for r in dash.records(user_id=USER)] == ["keep me"] and everything(dash) == entries


def test_a_user_with_nothing_anywhere_is_a_clear_message_and_nothing_changes(dash):
    dash.add(user=OTHER, memory="Bob hikes")
    entries = everything(dash)
    at = ok(dash.app("users").run())
    at.text_input(key="erase_user_").input("nobody-here").run()
    at.button(key="erase_open").click().run()
    assert messages(ok(at), "info") == ["User 'nobody-here' has nothing to erase in store 'main': no memories, "
                                        "audit entries or snapshot lines."]
    assert not [b for b in at.button if b.key == "erase_go"]
    assert everything(dash) == entries and len(dash.records()) == 1


def test_a_wrongly_typed_id_erases_nothing(dash):
    dash.add(user=USER, memory="keep me")
    with pytest.raises(Exception, match="type the user id exactly"):
        erasure.erase_person(dash.hub, LOCAL_ADMIN, "main", USER, USER.upper())
    assert len(dash.records(user_id=USER)) == 1


def test_an_interrupted_erasure_says_so_and_the_next_one_completes_it(make_dash, monkeypatch):
    from memory_core.audit import erasure as erasure_module

    dash = make_dash({"main": {"_type": "sqlite", "path": "store.sqlite3"}})
    marker = new_marker()
    dash.add(user=USER, memory=f"First {marker}")
    dash.add(user=OTHER, memory="Bob hikes", minutes=1)
    at = ok(dash.app("playground").run())
    at.button(key="snapshot_save").click().run()

    def full_disk(path: Path, user_id: str) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(erasure_module, "_drop_lines", full_disk)
    at = select_user(ok(dash.app("users").run()), USER)
    at.button(key="erase_open").click().run()
    ok(at).text_input(key="erase_typed").input(USER).run()
    at.button(key="erase_go").click().run()
    [error] = messages(ok(at), "error")
    assert error.startswith(f"the erasure of user '{USER}' from store 'main' stopped before the end ([Errno 28] No "
                            "space left on device); erase again: it resumes where it stopped")
    monkeypatch.undo()
    at = ok(dash.app("users").run())  # the person has no memory left, so is not listed: typed instead
    assert USER not in at.dataframe[0].value["user_id"].tolist()
    at.text_input(key="erase_user_").input(USER).run()
    at.button(key="erase_open").click().run()
    assert any("resumes the erasure started" in t and "by local (auth off)" in t for t in texts(ok(at)))
    at.text_input(key="erase_typed").input(USER).run()
    at.button(key="erase_go").click().run()
    assert messages(ok(at), "success")[0].startswith("erased user key")
    assert files_with(dash.config.parent, marker) == []


def test_a_hosted_store_deletes_through_its_api_and_keeps_what_it_keeps(make_dash):
    """Mem0: every memory deleted by id, then everything of the user by filter; what the platform keeps on its side
    (each memory's history, the user entity) is beyond its API's deletes (docs/security.md "Erasure")."""
    from tests.helpers.fake_mem0 import FakeMem0

    with FakeMem0("m0-key") as mem0:
        dash = make_dash({"m": {"_type": "mem0_memory", "host": mem0.url, "api_key": "m0-key", "timeout": 5}})
        for text in ("Likes tea", "Lives in Lisbon"):
            memories.add_memory(dash.hub, LOCAL_ADMIN, "m", MemoryItem(user_id=USER, memory=text))
        memories.add_memory(dash.hub, LOCAL_ADMIN, "m", MemoryItem(user_id=OTHER, memory="Bob hikes"))
        receipt = erasure.erase_person(dash.hub, LOCAL_ADMIN, "m", USER, USER)
        assert (receipt.counts["memories"], receipt.scrubbed) == (2, False)
        assert [m["memory"] for m in mem0.project.memories.values()] == ["Bob hikes"]
        [batch] = mem0.calls_to("DELETE", r"/v1/batch/")  # by id: the two listed memories
        assert len(batch.body["memories"]) == 2
        [by_user] = mem0.calls_to("DELETE", r"/v1/memories/")  # then whatever else the user has
        assert by_user.query == {"user_id": USER}
        assert ("user", USER) in mem0.project.entities  # kept by the platform: the limit docs/security.md names
        assert "this store cannot scrub its files" in "\n".join(receipt.lines())


def test_the_session_that_erases_no_longer_offers_to_undo_the_persons_delete(make_dash):
    """The sidebar's Undo names the last deleted memory on every page: after the erasure it goes."""
    dash = make_dash({"main": {"_type": "sqlite", "path": "store.sqlite3"}})
    marker = new_marker()
    doomed = dash.add(user=USER, memory=f"Doomed {marker}")
    dash.add(user=USER, memory="Stays until the erasure", minutes=1)
    at = ok(dash.app("memory", id=doomed).run())
    at.button(key="detail_delete").click().run()
    ok(at).button(key="detail_delete_confirm").click().run()
    at.switch_page("app_pages/users.py").run()
    assert marker in rendered(ok(at))  # "Last delete: “Doomed ...”" in the sidebar
    at = select_user(at, USER)
    at.button(key="erase_open").click().run()
    ok(at).text_input(key="erase_typed").input(USER).run()
    at.button(key="erase_go").click().run()
    assert messages(ok(at), "success")[0].startswith("erased user key")
    assert marker not in rendered(at) and not [b for b in at.button if b.key == "undo_sidebar"]
