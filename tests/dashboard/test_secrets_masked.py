"""Secrets stay secret: a config with known secret values (postgres passwords, in the field and inside the DSN,
redis password, mem0 / zep / OpenAI / LLM api keys, one of them through ``${VAR}``) and OIDC secrets
(``client_secret``, ``cookie_secret``); every page is rendered with AppTest for every store, signed in as an admin,
the Stores page with its settings views open; none of the values may appear in any element or in the logs."""

from __future__ import annotations

import logging

import pytest
import yaml

from dashboard.services import memories
from memory_core.access import LOCAL_ADMIN
from memory_core.models import MemoryItem
from tests.helpers.dashboard import PAGES, Dash, ok

SECRETS = {"pg": "PG-password-7f3a", "pg_url": "PG-url-password-9c1e", "redis": "REDIS-password-4a6c",
           "mem0": "MEM0-key-2b7d", "zep": "ZEP-key-5e8f", "openai": "OPENAI-key-8d2b", "llm": "LLM-key-1f9e",
           "oidc": "OIDC-client-secret-6c3a", "cookie": "COOKIE-secret-0123456789abcdef0123456789"}
NOWHERE = "http://127.0.0.1:1"  # connection refused at once


def config() -> dict[str, object]:
    quick = {"num_retries": 0, "timeout": 1}
    return {
        "memory": {
            "main": {"_type": "in_memory"},
            "pg": {"_type": "postgres", "dsn": "postgresql://memdash@127.0.0.1:1/db", "password": "${PG_PASSWORD}",
                   "connect_timeout": 1},
            "pg_url": {"_type": "postgres", "dsn": f"postgresql://memdash:{SECRETS['pg_url']}@127.0.0.1:1/db",
                       "connect_timeout": 1},
            "redis": {"_type": "redis_memory", "host": "127.0.0.1", "port": 1, "password": SECRETS["redis"]},
            "mem0": {"_type": "mem0_memory", "host": NOWHERE, "api_key": SECRETS["mem0"], **quick},
            "zep": {"_type": "zep_memory", "base_url": NOWHERE, "api_key": SECRETS["zep"], **quick},
            "vectors": {"_type": "sqlite", "path": "vectors.sqlite3", "embedder": "remote"},
        },
        "embedders": {"remote": {"_type": "openai", "model_name": "m", "base_url": f"{NOWHERE}/v1",
                                 "api_key": SECRETS["openai"], "max_retries": 0, "timeout": 1}},
        "llms": {"chat": {"_type": "openai", "model_name": "m", "base_url": f"{NOWHERE}/v1",
                          "api_key": SECRETS["llm"]}},
        "memdash": {"auth": {"roles": {"admin@example.com": "admin"}}},
    }


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.delenv("MEMDASH_NO_AUTH", raising=False)
    monkeypatch.setenv("PG_PASSWORD", SECRETS["pg"])
    path = tmp_path / "memdash.yml"
    path.write_text(yaml.safe_dump(config()))
    monkeypatch.setenv("MEMDASH_CONFIG", str(path))
    dash = Dash(path)
    memories.add_memory(dash.hub, LOCAL_ADMIN, "main", MemoryItem(user_id="alice", memory="a memory"))
    yield dash
    dash.close()


def rendered(at) -> str:
    """Every element's protobuf, as text (labels, values, JSON bodies, table bytes, help texts)."""
    out, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        if getattr(node, "proto", None) is not None:
            out.append(str(node.proto))
        stack.extend(getattr(node, "children", {}).values())
    return "\n".join(out)


def leaked(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def run_page(dash: Dash, name: str, store: str):
    at = dash.app(name, store=store, id="x", user="alice", q="memory")
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": SECRETS["cookie"],
                          "client_id": "memdash", "client_secret": SECRETS["oidc"],
                          "server_metadata_url": f"{NOWHERE}/.well-known/openid-configuration"}
    at.user = {"is_logged_in": True, "email": "admin@example.com", "name": "Admin", "sub": "a1"}
    return ok(at.run(timeout=60))


def test_no_secret_on_any_page_or_in_the_logs(site, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    shown, visits = [], 0
    for store in config()["memory"]:
        for name in PAGES:
            at = run_page(site, name, store)
            shown.append(rendered(at))
            visits += 1
    stores = run_page(site, "stores", "main")
    settings = rendered(stores)
    assert "**********" in settings and "postgresql://memdash:********@127.0.0.1:1/db" in settings
    assert "unavailable" in settings  # the broken stores' errors are on the page too
    out, err = capfd.readouterr()
    assert len(leaked(yaml.safe_dump(config()))) == 6  # the check finds the values where they are in clear
    assert not leaked("\n".join(shown)), leaked("\n".join(shown))
    assert not leaked(caplog.text + out + err), leaked(caplog.text + out + err)
    print(f"{visits} page renders, {len(caplog.records)} log records: no secret in any")
