"""Read access by store, and read records: a person whose role reads store ``main`` only sees nothing of store
``other`` on any page, through any link or service call; what they read is recorded, apart from the changes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import yaml

from dashboard.services import audit, catalog, memories
from dashboard.services.hub import StoreHub
from memdash.cli import main
from memory_core.access import LOCAL_ADMIN, Actor, PermissionDenied, Role
from memory_core.audit import AuditQuery
from memory_core.audit.reads import ReadRecorder
from memory_core.auth_settings import auth_settings
from memory_core.config import parse_config
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter, MemoryRecord
from tests.helpers.dashboard import PAGES, Dash, messages, ok

SECRETS = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32,
                    "client_id": "memdash", "client_secret": "client-secret",
                    "server_metadata_url": "http://localhost:9/.well-known/openid-configuration"}}
ROLES = {"carol@example.com": {"default": "none", "stores": {"main": "viewer"}}, "admin@example.com": "admin"}
CAROL = Actor("carol@example.com", Role.NONE, (("main", Role.VIEWER),))
SECRET = "SALES-ONLY-7c1f"  # the text of every memory in store "other"
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def site(tmp_path, monkeypatch) -> Any:
    monkeypatch.delenv("MEMDASH_NO_AUTH", raising=False)
    path = tmp_path / "memdash.yml"
    stores = {"main": {"_type": "in_memory"}, "other": {"_type": "in_memory"}}
    path.write_text(yaml.safe_dump({"memory": stores, "memdash": {"auth": {"roles": ROLES}}}))
    monkeypatch.setenv("MEMDASH_CONFIG", str(path))
    dash = Dash(path)
    for n in (1, 2):
        for store, text in (("main", f"support note {n}"), ("other", f"{SECRET} {n}")):
            record = MemoryRecord(id=f"m{n}", created_at=T0, updated_at=T0,
                                  item=MemoryItem(user_id="alice", memory=text, metadata={"conversation_id": "c1"}))
            memories.import_records(dash.hub, LOCAL_ADMIN, store, [record])
    memories.delete_memories(dash.hub, LOCAL_ADMIN, "other", ["m2"])  # in other's trash
    yield dash
    dash.close()


def as_(email: str) -> dict[str, Any]:
    return {"is_logged_in": True, "email": email, "name": email.split("@")[0], "sub": f"sub-{email}"}


def run(dash: Dash, page: str, email: str = "carol@example.com", **params: str):
    at = dash.app(page, **params)
    at.secrets.update(SECRETS)
    at.user = as_(email)
    return ok(at.run())


def shown(at) -> str:
    """Every text the page shows: messages, markdown, captions, tables, select options, code, JSON."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "text", "info", "warning", "error", "success", "title", "header",
                 "subheader", "code", "json", "metric"):
        parts += [str(getattr(e, "value", e)) for e in getattr(at, kind)]
    parts += [frame.value.to_string() for frame in at.dataframe]
    parts += [str(option) for box in [*at.selectbox, *at.sidebar.selectbox] for option in box.options]
    parts += [str(e.label) for e in at.expander]
    return "\n".join(parts)


@pytest.mark.parametrize("page", PAGES)
def test_a_reader_of_one_store_sees_nothing_of_another_on_any_page(site, page):
    for params in ({}, {"store": "other"}, {"store": "other", "id": "m1"}, {"store": "other", "all_stores": "1"}):
        at = run(site, page, **params)
        assert SECRET not in shown(at), (page, params)
        assert [box.options for box in at.sidebar.selectbox if box.label == "Store"] == [["main"]], (page, params)


def test_a_link_to_the_other_store_says_so_and_shows_the_readable_one(site):
    at = run(site, "browse", store="other")
    assert "This link names the store other, which is not one you can open here: showing main." in \
        [m.replace("\\", "") for m in messages(at, "warning")]
    assert "support note 1" in shown(at)


def test_an_admin_still_reads_both(site):
    at = run(site, "browse", email="admin@example.com", store="other")
    assert SECRET in shown(at)


def test_the_services_refuse_the_other_store(site):
    hub = site.hub.as_seen_by(CAROL, "s1")
    assert hub.store_names == ["main"]
    entry_of_other = next(site.hub.audit.entries(AuditQuery(store="other")))
    refused = {
        "list": lambda: memories.list_memories(hub, "other", MemoryFilter(user_id="alice")),
        "count": lambda: memories.count_memories(hub, "other", MemoryFilter()),
        "open": lambda: memories.get_memory(hub, "other", "m1"),
        "search": lambda: memories.search_memories(hub, "other", user_id="alice", query="sales"),
        "agent view": lambda: memories.agent_view(hub, "other", user_id="alice", query="sales"),
        "export": lambda: list(memories.export_records(hub, "other", MemoryFilter())),
        "users": lambda: memories.list_users(hub, "other"),
        "labels": lambda: memories.user_labels(hub, "other"),
        "trash": lambda: audit.trash_page(hub, "other"),
        "audit of other": lambda: audit.audit_page(hub, AuditQuery(store="other")),
        "audit entry": lambda: audit.audit_entry(hub, entry_of_other.seq or 0),
        "settings": lambda: catalog.store_settings(hub, "other"),
        "status": lambda: catalog.store_status(hub, "other"),
        "edit": lambda: memories.add_memory(hub, CAROL, "other", MemoryItem(user_id="alice", memory="x")),
    }
    for name, call in refused.items():
        with pytest.raises(PermissionDenied, match=re.escape("carol@example.com may not read store 'other'")):
            call()
            pytest.fail(f"{name} was not refused")
    every = audit.audit_page(hub, AuditQuery(), limit=100).entries
    assert {e.store for e in every} == {"main"} and audit.audit_count(hub, AuditQuery()) == len(every) == 2
    assert sorted(r.id for r in memories.list_memories(hub, "main", MemoryFilter()).records) == ["m1", "m2"]


def test_a_role_of_none_is_read_from_the_config():
    config = parse_config(yaml.safe_dump({"memory": {"main": {"_type": "in_memory"}},
                                          "memdash": {"auth": {"roles": ROLES}}}))
    carol = auth_settings(config).oidc_actor({"sub": "x", "email": "carol@example.com"})
    assert carol == CAROL and carol.can_read("main") and not carol.can_read("any other")
    assert not carol.reads_every_store and LOCAL_ADMIN.reads_every_store


# --- read records ------------------------------------------------------------------------------------------


def reads(hub: StoreHub, **query: Any) -> list[tuple[str, str, str, str]]:
    return [(e.actor, e.store, e.user_id, e.note or "")
            for e in hub.audit.entries(AuditQuery(reads=True, **query))]


def test_browsing_opening_and_searching_are_recorded_apart_from_changes(site):
    changes = site.hub.audit.count(AuditQuery())
    hub = site.hub.as_seen_by(CAROL, "s1")
    memories.list_memories(hub, "main", MemoryFilter(user_id="alice"))
    memories.get_memory(hub, "main", "m1")
    memories.search_memories(hub, "main", user_id="alice", query="support")
    memories.list_memories(hub, "main", MemoryFilter(user_id="alice"))  # the same session again: not re-recorded
    assert reads(site.hub) == [("carol@example.com", "main", "alice", "browse · 2"),
                               ("carol@example.com", "main", "alice", "open · 1"),
                               ("carol@example.com", "main", "alice", "search · 2")]
    assert site.hub.audit.count(AuditQuery()) == changes  # the changes are what they were
    memories.get_memory(site.hub.as_seen_by(CAROL, "s2"), "main", "m2")  # another session: recorded
    assert reads(site.hub)[-1] == ("carol@example.com", "main", "alice", "open · 1")
    memories.get_memory(site.hub, "main", "m2")  # the unrestricted hub (command line, tests) records nothing
    assert len(reads(site.hub)) == 4


def test_reads_within_a_window_are_summed_into_the_next_record(site):
    now = [T0]
    recorder = ReadRecorder(lambda: site.hub.audit, window=dt.timedelta(minutes=10), clock=lambda: now[0])
    for minute in (0, 1, 2):
        now[0] = T0 + dt.timedelta(minutes=minute)
        recorder.record(CAROL, "s1", "main", {"alice": 25}, "browse")
    now[0] = T0 + dt.timedelta(minutes=11)
    recorder.record(CAROL, "s1", "main", {"alice": 5, "bob": 1}, "browse")
    assert [(e.user_id, e.note, e.at) for e in site.hub.audit.entries(AuditQuery(reads=True))] == [
        ("alice", "browse · 25", T0), ("alice", "browse · 55", now[0]), ("bob", "browse · 1", now[0])]


def test_the_pages_record_what_a_person_opened(site):
    run(site, "memory", store="main", id="m1")
    assert ("carol@example.com", "main", "alice", "open · 1") in reads(site.hub)
    at = run(site, "audit", reads="1")
    assert "open · 1" in shown(at) and "support note" not in shown(at)


def test_memdash_audit_reads_answers_who_viewed_a_person(site, capsys):
    memories.get_memory(site.hub.as_seen_by(CAROL, "s1"), "main", "m1")
    memories.export_file(site.hub, LOCAL_ADMIN, "main", MemoryFilter(user_id="alice"), "jsonl")
    assert main(["audit", "reads", "--config", str(site.config), "--user", "alice"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "carol@example.com  store 'main'  open · 1" in out[0]
    assert "local (auth off)  store 'main'  export · 2 memories downloaded as JSONL" in out[1]
    assert out[2] == "2 record(s) of reads and exports of user 'alice'"
    assert main(["audit", "reads", "--config", str(site.config), "--user", "nobody"]) == 0
    assert capsys.readouterr().out == "0 record(s) of reads and exports of user 'nobody'\n"
