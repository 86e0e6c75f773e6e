"""Sign-in in the pages (AppTest): the page that refuses to open, the banner when sign-in is off, local password
sign-in, OIDC sign-in (``at.secrets['auth']`` + ``at.user``), and each role on each page.

These tests delete ``MEMDASH_NO_AUTH`` (set for every other test by conftest) and point ``MEMDASH_CONFIG`` at their
own config. ``at.secrets`` is always set, so a developer's own ``.streamlit/secrets.toml`` cannot leak in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml

from dashboard.services import memories
from dashboard.services.users_file import new_user, save_users
from memory_core.access import LOCAL_ADMIN, Role
from memory_core.models import MemoryItem
from memory_core.records import MemoryRecord
from tests.helpers.dashboard import PAGES, Dash, messages, ok, sign_in, unescape

PROVIDER = {"client_id": "memdash", "client_secret": "client-secret",
            "server_metadata_url": "http://localhost:9/.well-known/openid-configuration"}
COOKIE = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32}
OIDC = {"auth": COOKIE | PROVIDER}
NO_SECRETS = {"unrelated": "x"}  # replaces st.secrets: no [auth]
ROLES = {"admin@example.com": "admin", "ed@example.com": "editor", "viv@example.com": "viewer",
         "bob@example.com": {"default": "viewer", "stores": {"main": "editor"}}}
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A config memdash was 'started with', whose ``memdash.auth`` section each test sets with ``site(auth)``."""
    monkeypatch.delenv("MEMDASH_NO_AUTH", raising=False)
    made: list[Dash] = []

    def make(auth: dict[str, Any] | None = None) -> Dash:
        path = tmp_path / f"memdash{len(made)}.yml"
        config = {"memory": {"main": {"_type": "in_memory"}, "other": {"_type": "in_memory"}}}
        path.write_text(yaml.safe_dump(config | ({"memdash": {"auth": auth}} if auth is not None else {})))
        monkeypatch.setenv("MEMDASH_CONFIG", str(path))
        made.append(Dash(path))
        return made[-1]

    yield make
    for dash in made:
        dash.close()


def page(dash: Dash, name: str, *, secrets: dict[str, Any], user: dict[str, Any] | None = None, **params: str):
    at = dash.app(name, **params)
    at.secrets.update(secrets)
    if user is not None:
        at.user = user
    return ok(at.run())


def titles(at) -> list[str]:
    return [t.value for t in at.title]


def sidebar_captions(at) -> list[str]:
    return [unescape(c.value) for c in at.sidebar.caption]


# --- no way to sign in, and sign-in off ---------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_without_a_way_to_sign_in_no_page_opens(site, name):
    at = page(site(), name, secrets=NO_SECRETS)
    assert titles(at) == ["memdash is not open"]
    assert messages(at, "error") == ["memdash does not open without sign-in: no sign-in is configured."]
    how = " ".join(m.value for m in at.markdown)
    assert "memdash user add NAME --role admin" in how and "memdash run --no-auth" in how
    assert not at.dataframe and not at.text_input and not at.sidebar.selectbox


@pytest.mark.parametrize("auth, problem", [
    ({"mode": "oidc"}, "mode oidc needs an [auth] section"),
    ({"mode": "local"}, "mode local needs memdash.auth.users_file"),
    ({"users_file": "missing.json"}, "has no users yet"),
    ({"users_file": "broken.json"}, "cannot read users file"),
    ({"mode": "sometimes"}, "must be oidc, local or \"off\""),
])
def test_a_half_configured_sign_in_refuses_and_says_why(site, tmp_path, auth, problem):
    (tmp_path / "broken.json").write_text("{")
    at = page(site(auth), "browse", secrets=NO_SECRETS)
    assert titles(at) == ["memdash is not open"] and problem in messages(at, "error")[0]


@pytest.mark.parametrize("how", ["env", "config"])
def test_sign_in_off_shows_a_banner_on_every_page(site, monkeypatch, how):
    dash = site({"mode": False} if how == "config" else None)  # YAML's bare `off` is false
    if how == "env":
        monkeypatch.setenv("MEMDASH_NO_AUTH", "1")
    for name in PAGES:
        at = page(dash, name, secrets=NO_SECRETS, id="none")
        assert any("Sign\\-in is off" in m.value or "Sign-in is off" in m.value for m in at.markdown), name
        assert at.markdown[0].value.startswith(":orange-badge[")  # first, above the page's title


# --- local accounts ----------------------------------------------------------------------------------------


@pytest.fixture
def local(site, tmp_path):
    save_users(tmp_path / "users.json", {"lara": new_user("lara", "lara's password", Role.ADMIN),
                                         "vic": new_user("vic", "vic's password", Role.VIEWER)})
    return site({"users_file": "users.json"})


def test_local_sign_in_and_out(local):
    at = page(local, "memory", secrets=NO_SECRETS, id="m1")
    assert titles(at) == ["Sign in to memdash"] and not at.sidebar.selectbox
    assert messages(sign_in(at, "lara", "wrong password"), "error") == ["Wrong user name or password."]
    assert messages(sign_in(at, "nobody", "lara's password"), "error") == ["Wrong user name or password."]
    sign_in(at, "lara", "lara's password")
    assert titles(at) == ["Memory"] and at.query_params["id"] == "m1"  # the deep link survives
    assert sidebar_captions(at)[0] == "Signed in as lara · admin"
    held = repr({key: at.session_state[key] for key in at.session_state})
    assert "lara's password" not in held and "$argon2" not in held
    at.sidebar.button(key="sign_out").click()
    assert titles(ok(at.run())) == ["Sign in to memdash"]


def test_a_changed_password_or_a_removed_account_signs_the_session_out(local, tmp_path):
    at = sign_in(page(local, "browse", secrets=NO_SECRETS), "vic", "vic's password")
    assert titles(at) == ["Browse memories"] and sidebar_captions(at)[0] == "Signed in as vic · viewer"
    save_users(tmp_path / "users.json", {"vic": new_user("vic", "a new password", Role.VIEWER)})
    assert titles(ok(at.run())) == ["Sign in to memdash"]


def test_repeated_failures_lock_the_name(local):
    at = page(local, "browse", secrets=NO_SECRETS)
    for _ in range(5):
        sign_in(at, "locked-out", "guess")
    assert messages(sign_in(at, "locked-out", "guess"), "error")[0].startswith(
        "Too many failed sign-ins for this name: try again in")


# --- OIDC ----------------------------------------------------------------------------------------------------


@pytest.fixture
def oidc(site):
    dash = site({"roles": ROLES})
    for n in (1, 2, 3):
        record = MemoryRecord(id=f"m{n}", created_at=T0, updated_at=T0,
                              item=MemoryItem(user_id="alice", memory=f"memory {n}"))
        memories.import_records(dash.hub, LOCAL_ADMIN, "main", [record])
        memories.import_records(dash.hub, LOCAL_ADMIN, "other", [record])
    return dash


def as_(email: str) -> dict[str, Any]:
    return {"is_logged_in": True, "email": email, "name": email.split("@")[0], "sub": f"sub-{email}"}


def test_oidc_sign_in_page_and_providers(oidc):
    at = page(oidc, "browse", secrets=OIDC, user={"is_logged_in": False})
    assert titles(at) == ["Sign in to memdash"] and [b.label for b in at.button] == ["Sign in"]
    named = page(oidc, "browse", secrets={"auth": COOKIE | {"okta": PROVIDER}}, user={"is_logged_in": False})
    assert [b.label for b in named.button] == ["Sign in with okta"]


def test_a_signed_in_identity_without_a_role_gets_no_page(oidc):
    at = page(oidc, "browse", secrets=OIDC, user=as_("stranger@example.com"))
    assert titles(at) == ["No access"] and not at.dataframe
    assert "stranger@example.com (sub sub-stranger@example.com), but memdash gives this identity no role" in \
        messages(at, "error")[0]


def controls(at, name: str) -> dict[str, bool]:
    """Whether each mutation control of page ``name`` is enabled."""
    enabled = {b.key or b.label: not b.disabled for b in at.button}
    if name == "memory":
        return {"save": enabled["detail_save"], "delete": enabled["detail_delete"]}
    if name == "add":
        return {"add": next(not b.disabled for b in at.button if b.label == "Add memory")}
    if name == "stores":
        return {"load config": enabled["load_config"],
                "settings": any(e.label == "Settings (secrets masked)" for e in at.expander)}
    if name == "browse":
        at.radio(key="bulk_scope").set_value("filter").run()
        return {action: not ok(at).button(key=f"bulk_{action}").disabled for action in ("tag", "delete")}
    if name == "transfer":
        at.file_uploader(key="import_file").upload("in.jsonl", b'{"user_id": "u", "memory": "m"}\n', "text/plain")
        return {"import": not ok(at.run()).button(key="import_go").disabled}
    return {}


EXPECTED = {  # page -> role -> controls enabled
    "memory": {"viewer": {"save": False, "delete": False}, "editor": {"save": True, "delete": True},
               "admin": {"save": True, "delete": True}},
    "add": {"viewer": {"add": False}, "editor": {"add": True}, "admin": {"add": True}},
    "stores": {"viewer": {"load config": False, "settings": False}, "editor": {"load config": False, "settings": False},
               "admin": {"load config": True, "settings": True}},
    "browse": {"viewer": {"tag": False, "delete": False}, "editor": {"tag": True, "delete": True},
               "admin": {"tag": True, "delete": True}},
    "transfer": {"viewer": {"import": False}, "editor": {"import": True}, "admin": {"import": True}},
}


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_each_role_on_each_page(oidc, role):
    email = {"viewer": "viv@example.com", "editor": "ed@example.com", "admin": "admin@example.com"}[role]
    for name in PAGES:
        at = page(oidc, name, secrets=OIDC, user=as_(email), id="m1")
        assert sidebar_captions(at)[0] == f"Signed in as {email} · {role}", name
        assert controls(at, name) == EXPECTED.get(name, {}).get(role, {}), name


def test_per_store_roles_in_the_pages(oidc):
    bob = as_("bob@example.com")
    assert controls(page(oidc, "memory", secrets=OIDC, user=bob, store="main", id="m1"), "memory")["save"]
    assert not controls(page(oidc, "memory", secrets=OIDC, user=bob, store="other", id="m1"), "memory")["save"]


def select(at, rows: list[int]):
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return ok(at.run())


def bulk_delete_two(dash: Dash, email: str):
    at = select(page(dash, "browse", secrets=OIDC, user=as_(email)), [0, 1])
    at.button(key="bulk_delete").click().run()
    ok(at).button(key="bulk_confirm").click().run()
    return ok(at)


def test_an_editor_edits_but_a_bulk_delete_is_refused_by_the_service(oidc):
    at = page(oidc, "memory", secrets=OIDC, user=as_("ed@example.com"), id="m1")
    at.text_area(key="detail_memory").input("edited by ed")
    at.button(key="detail_save").click().run()
    assert messages(ok(at), "success") == ["Saved: this memory is now version 2."]
    assert oidc.get("m1").item.memory == "edited by ed"
    at = bulk_delete_two(oidc, "ed@example.com")
    assert messages(at, "error") == ["ed@example.com is an editor on store 'main' and may not bulk-delete memories "
                                     "(needs admin)"]
    assert len(oidc.records()) == 3


def test_an_admin_bulk_deletes_and_opens_another_config(oidc, tmp_path):
    bulk_delete_two(oidc, "admin@example.com")
    assert len(oidc.records()) == 1
    other = tmp_path / "other.yml"
    other.write_text("memory: {elsewhere: {_type: in_memory}}\n")
    at = page(oidc, "stores", secrets=OIDC, user=as_("admin@example.com"))
    at.text_input(key="config_input").input(str(other))
    at.button(key="load_config").click().run()
    assert at.session_state["config_path"] == str(other) and ok(at).sidebar.selectbox(key="store_picker").value == \
        "elsewhere"


def test_setting_up_sign_in_opens_the_dashboard_without_a_restart(site, tmp_path):
    dash = site()
    at = page(dash, "browse", secrets=NO_SECRETS)
    assert titles(at) == ["memdash is not open"]
    save_users(tmp_path / "users.json", {"lara": new_user("lara", "lara's password", Role.ADMIN)})
    config = yaml.safe_load(dash.config.read_text())
    dash.config.write_text(yaml.safe_dump(config | {"memdash": {"auth": {"users_file": "users.json"}}}))
    assert titles(ok(at.run())) == ["Sign in to memdash"]
    assert titles(sign_in(at, "lara", "lara's password")) == ["Browse memories"]
