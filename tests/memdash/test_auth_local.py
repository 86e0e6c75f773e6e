"""Local accounts: the users file (argon2id, salted, 0600, atomic), ``memdash user add|remove|list``, the
sign-in throttle, and the ``memdash.auth`` config section."""

from __future__ import annotations

import io
import stat
import textwrap

import pytest

from dashboard.services.sign_in_throttle import LoginThrottle
from dashboard.services.users_file import LocalUser, load_users, new_user, save_users, verify
from memdash.cli import main
from memory_core.access import Actor, Role
from memory_core.auth_settings import AuthMode, Grant, auth_settings
from memory_core.config import load_config, parse_config
from memory_core.errors import ConfigError, InvalidInputError


def test_hashes_are_salted_argon2id_and_verify(tmp_path):
    one, two = new_user("alice", "correct horse", Role.ADMIN), new_user("alice", "correct horse", Role.ADMIN)
    assert one.password_hash.startswith("$argon2id$") and one.password_hash != two.password_hash
    assert "correct horse" not in one.password_hash
    users = {"alice": one}
    assert verify(users, "alice", "correct horse") == one
    assert verify(users, "alice", "wrong horse") is None
    assert verify(users, "nobody", "correct horse") is None
    assert verify({"bad": LocalUser("bad", "not-a-hash", Role.VIEWER)}, "bad", "x") is None


def test_the_file_is_written_atomically_for_its_owner_only(tmp_path):
    path = tmp_path / "sub" / "users.json"
    users = {"bob": new_user("bob", "battery staple", Role.VIEWER, {"demo": Role.EDITOR})}
    save_users(path, users)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["users.json"]  # no temporary file left
    assert load_users(path) == users
    assert load_users(path)["bob"].actor == Actor("bob", Role.VIEWER, (("demo", Role.EDITOR),))


@pytest.mark.parametrize("text, problem", [
    ("not json", "cannot read users file"),
    ('{"users": []}', "must be a JSON object"),
    ('{"users": {"a": {"role": "admin"}}}', "user 'a': needs a password_hash"),
    ('{"users": {"a": {"password_hash": "h", "role": "root"}}}', "unknown role 'root'"),
])
def test_a_broken_file_is_a_config_error(tmp_path, text, problem):
    path = tmp_path / "users.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem):
        load_users(path)


def test_names_and_passwords_are_checked():
    with pytest.raises(InvalidInputError, match="user name"):
        new_user("<script>", "long enough", Role.VIEWER)
    with pytest.raises(InvalidInputError, match="at least 8"):
        new_user("ok", "short", Role.VIEWER)


def run(monkeypatch, capsys, *argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_user_add_list_remove(tmp_path, monkeypatch, capsys):
    path = str(tmp_path / "users.json")
    assert run(monkeypatch, capsys, "user", "add", "alice", "--role", "admin", "--users-file", path,
               "--password-stdin", stdin="correct horse\n")[0] == 0
    code, out = run(monkeypatch, capsys, "user", "add", "bob", "--role", "viewer", "--store", "demo=editor",
                    "--users-file", path, "--password-stdin", stdin="battery staple\n")
    assert code == 0 and "added user 'bob' (viewer)" in out
    users = load_users(tmp_path / "users.json")
    assert verify(users, "alice", "correct horse") and verify(users, "bob", "battery staple")
    listed = run(monkeypatch, capsys, "user", "list", "--users-file", path)
    assert listed == (0, "alice\tadmin\nbob\tviewer\tdemo=editor\n")
    code, out = run(monkeypatch, capsys, "user", "add", "bob", "--role", "admin", "--users-file", path,
                    "--password-stdin", stdin="another one\n")
    assert code == 1 and "pass --replace" in out
    assert run(monkeypatch, capsys, "user", "add", "bob", "--role", "admin", "--users-file", path, "--replace",
               "--password-stdin", stdin="another one\n")[0] == 0
    assert verify(load_users(tmp_path / "users.json"), "bob", "another one").role is Role.ADMIN
    assert run(monkeypatch, capsys, "user", "remove", "bob", "--users-file", path)[0] == 0
    assert list(load_users(tmp_path / "users.json")) == ["alice"]
    assert run(monkeypatch, capsys, "user", "remove", "bob", "--users-file", path)[0] == 1
    assert "hash" not in run(monkeypatch, capsys, "user", "list", "--users-file", path)[1]


def test_user_add_through_the_config(tmp_path, monkeypatch, capsys):
    config = tmp_path / "memdash.yml"
    config.write_text("memory: {demo: {_type: in_memory}}\nmemdash: {auth: {users_file: accounts/users.json}}\n")
    code, _ = run(monkeypatch, capsys, "user", "add", "carol", "--role", "editor", "--config", str(config),
                  "--password-stdin", stdin="carol's password\n")
    assert code == 0 and "carol" in load_users(tmp_path / "accounts" / "users.json")
    code, out = run(monkeypatch, capsys, "user", "add", "dan", "--role", "editor", "--store", "nope=admin",
                    "--config", str(config), "--password-stdin", stdin="dan's password\n")
    assert code == 1 and "no memory store named 'nope'" in out


@pytest.mark.parametrize("argv, stdin, problem", [
    (["--role", "boss"], "password1", "invalid choice: 'boss'"),
    (["--role", "viewer", "--store", "demo"], "password1", "expected STORE=ROLE"),
    (["--role", "viewer", "--password-stdin"], "short\n", "at least 8 characters"),
    (["--role", "viewer"], "", "no terminal to ask for the password"),
])
def test_user_add_refuses_bad_input(tmp_path, monkeypatch, capsys, argv, stdin, problem):
    code, out = run(monkeypatch, capsys, "user", "add", "eve", "--users-file", str(tmp_path / "u.json"), *argv,
                    stdin=stdin)
    assert code != 0 and problem in out
    assert not (tmp_path / "u.json").exists()


def test_the_throttle_locks_a_name_for_the_client_that_failed():
    now = [0.0]
    throttle = LoginThrottle(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait("alice", "10.0.0.9") == 0
        throttle.failed("alice", "10.0.0.9")
    assert throttle.wait("alice", "10.0.0.9") == 60 and throttle.wait("bob", "10.0.0.9") == 0
    assert throttle.wait("alice", "10.0.0.1") == 0  # alice at her own desk is not locked out by someone else
    now[0] = 30
    assert throttle.wait("alice", "10.0.0.9") == 30
    now[0] = 61
    assert throttle.wait("alice", "10.0.0.9") == 0
    throttle.failed("alice", "10.0.0.9")
    throttle.succeeded("alice", "10.0.0.9")
    assert throttle.wait("alice", "10.0.0.9") == 0


def test_the_throttle_slows_a_client_that_tries_many_names():
    """Spraying one password across names was unlimited on d5b94e4 (the lockout counted per name only)."""
    throttle = LoginThrottle(limit=5, client_limit=20, window=300, clock=lambda: 0.0)
    for n in range(20):
        assert throttle.wait(f"user{n}", "10.0.0.9") == 0
        throttle.failed(f"user{n}", "10.0.0.9")
    assert throttle.wait("somebody-new", "10.0.0.9") == 300  # every name, for this client
    assert throttle.wait("somebody-new", "10.0.0.1") == 0


def test_password_checks_run_at_most_two_at_a_time(tmp_path, monkeypatch):
    """16 concurrent sign-ins pushed the server to 804 MB on d5b94e4 (64 MiB per Argon2 check, unbounded)."""
    import threading
    import time

    from dashboard import auth

    running, peak, lock = [0], [0], threading.Lock()

    def slow_verify(users, name, password):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    monkeypatch.setattr(auth, "verify", slow_verify)
    monkeypatch.setattr(auth, "startup_settings", lambda: type("S", (), {"users_file": tmp_path / "u.json"})())
    monkeypatch.setattr(auth, "local_users", lambda path: {})
    monkeypatch.setattr(auth, "client_address", lambda: "10.0.0.9")
    monkeypatch.setattr(auth, "throttle", lambda: LoginThrottle(limit=100, client_limit=100))
    refused = []

    def attempt(n: int) -> None:
        try:
            auth.sign_in_local(f"user{n}", "wrong password")
        except auth.PermissionDenied as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 2 and refused == ["wrong user name or password"] * 16


def settings(text: str):
    return auth_settings(parse_config(textwrap.dedent(text), file="/srv/memdash.yml"))


def test_the_auth_section():
    parsed = settings("""
        memory: {demo: {_type: in_memory}}
        memdash:
          auth:
            mode: off
            users_file: users.json
            default_role: viewer
            roles:
              Alice@Example.com: admin
              bob@example.com: {default: viewer, stores: {demo: editor}}
        """)
    assert parsed.mode is AuthMode.OFF  # YAML reads a bare off as false
    assert str(parsed.users_file) == "/srv/users.json" and parsed.default_role is Role.VIEWER
    assert parsed.roles == {"Alice@Example.com": Grant(Role.ADMIN),
                            "bob@example.com": Grant(Role.VIEWER, (("demo", Role.EDITOR),))}
    assert settings("memory: {}\n").mode is None


@pytest.mark.parametrize("section, where", [
    ("{auth: {mode: sometimes}}", "yml:2, field 'memdash.auth.mode': must be oidc, local or \"off\""),
    ("{auth: {who: x}}", "field 'memdash.auth.who': unknown key 'who'"),
    ("{auth: {roles: {a@b.c: root}}}", "field 'memdash.auth.roles.a@b.c': unknown role 'root'"),
    ("{auth: {roles: {a@b.c: {stores: {demo: boss}}}}}", "field 'memdash.auth.roles.a@b.c.stores.demo'"),
    ("{auth: {default_role: root}}", "unknown role 'root'; roles: none, viewer, editor, admin"),
    ("{auth: [oidc]}", "field 'memdash.auth': must be a mapping"),
])
def test_auth_section_errors_name_the_field(tmp_path, section, where):
    path = tmp_path / "memdash.yml"
    path.write_text(f"memory: {{}}\nmemdash: {section}\n")
    with pytest.raises(ConfigError) as caught:
        auth_settings(load_config(path))
    assert where in str(caught.value)


def test_oidc_identities_get_their_roles():
    parsed = settings("""
        memdash:
          auth:
            roles:
              alice@example.com: admin
              bob@example.com: {default: viewer, stores: {demo: editor}}
              "00u1abc": editor
        """)
    alice = parsed.oidc_actor({"email": "ALICE@example.com", "sub": "a1"})
    assert alice == Actor("ALICE@example.com", Role.ADMIN)
    assert parsed.oidc_actor({"email": "bob@example.com"}).role_for("demo") is Role.EDITOR
    assert parsed.oidc_actor({"sub": "00u1abc", "email": "carol@example.com"}).role is Role.EDITOR
    assert parsed.oidc_actor({"email": "alice@example.com", "email_verified": False, "sub": "x"}) is None
    assert parsed.oidc_actor({"email": "stranger@example.com"}) is None  # no default_role: refused
    viewers = settings("memdash: {auth: {default_role: viewer}}\n")
    assert viewers.oidc_actor({"sub": "s1"}) == Actor("s1", Role.VIEWER)


def test_the_demo_config_turns_sign_in_off():
    from pathlib import Path

    demo = Path(__file__).resolve().parents[2] / "configs" / "demo.yml"
    assert auth_settings(load_config(demo)).mode is AuthMode.OFF  # make run: a banner, no sign-in
