"""deploy/compose.yml, read as Docker Compose reads it, checked against memdash itself: every dashboard process
runs ``memdash run`` on the config it mounts, which memory_core's loader accepts with the variables of the env
files the services are given; the state is PostgreSQL, reached as the role ``memdash state init`` grants and the
init script creates; the load balancer sends each browser back to its process; the owner's secrets reach only the
postgres and init services; and every file a service mounts exists (or has the example it is copied from)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict

from dashboard.services import memories
from dashboard.services.hub import StoreHub
from memdash import cli
from memory_core.access import LOCAL_ADMIN
from memory_core.audit import AuditQuery, safety_settings
from memory_core.config import load_config
from memory_core.memdash_section import check_memdash_section
from memory_core.models import MemoryItem

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CONTAINER_ROOT = "/srv/memdash"  # the image's copy of the repository (deploy/Dockerfile)
COMPOSE = yaml.safe_load((DEPLOY / "compose.yml").read_text())
SERVICES = COMPOSE["services"]
DASHBOARDS = sorted(name for name, service in SERVICES.items() if service.get("command", [])[:2] == ["memdash", "run"])


def env_file(name: str) -> dict[str, str]:
    """``deploy/<name>`` as Compose reads it, from the committed example (the real one holds secrets)."""
    lines = (DEPLOY / f"{name}.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def service_env(service: dict) -> dict[str, str]:
    env: dict[str, str] = {}
    for name in service.get("env_file", []):
        env |= env_file(name)
    return env | {str(k): str(v) for k, v in (service.get("environment") or {}).items()}


def mounted(service: dict, target: str) -> Path:
    """The repository file a service mounts at ``target`` (a volume of deploy/, else the image's own copy)."""
    for volume in service.get("volumes", []):
        source, _, rest = volume.partition(":")
        if rest.split(":")[0] == target and source.startswith("./"):
            return DEPLOY / source[2:]
    assert target.startswith(CONTAINER_ROOT + "/")
    return DEPLOY.parent / target.removeprefix(CONTAINER_ROOT + "/")


def config_arg(service: dict) -> str:
    command = service["command"]
    return command[command.index("--config") + 1]


def test_deploy_two_dashboards_behind_the_proxy_and_the_services_they_need() -> None:
    assert DASHBOARDS == ["memdash-1", "memdash-2"]
    assert {"postgres", "memdash-init", "proxy", "redis"} <= set(SERVICES)
    for name in DASHBOARDS:
        dashboard = SERVICES[name]
        assert dashboard["depends_on"]["memdash-init"] == {"condition": "service_completed_successfully"}
        assert "--host" in dashboard["command"] and dashboard["command"][-2:] == ["--port", "8501"]
        assert {"source": "streamlit_secrets", "target": f"{CONTAINER_ROOT}/.streamlit/secrets.toml"} in \
            dashboard["secrets"]
        assert "8501" in " ".join(dashboard["healthcheck"]["test"])
    assert SERVICES["memdash-init"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert SERVICES["redis"]["profiles"] == ["redis"]  # the Redis variant only when asked for
    assert COMPOSE["secrets"]["streamlit_secrets"]["file"] == "./secrets.toml"
    assert (DEPLOY / "secrets.toml.example").is_file() and (DEPLOY / "Dockerfile").is_file()


def test_deploy_the_proxy_keeps_each_browser_on_its_dashboard_process() -> None:
    text = (DEPLOY / "haproxy.cfg").read_text()
    assert re.search(r"^\s*cookie MEMDASH_NODE insert .*httponly", text, re.M)  # sticky sessions
    assert re.search(r"^\s*timeout tunnel \d+h", text, re.M)  # Streamlit's websocket stays open
    assert re.search(r"^\s*option redispatch", text, re.M)  # a stopped process's browsers go elsewhere
    servers = re.findall(r"^\s*server (\S+) (\S+):(\d+) check cookie (\S+)", text, re.M)
    assert sorted((name, host, port, cookie) for name, host, port, cookie in servers) == \
        [(name, name, "8501", name) for name in DASHBOARDS]
    proxy = SERVICES["proxy"]
    assert mounted(proxy, "/usr/local/etc/haproxy/haproxy.cfg") == DEPLOY / "haproxy.cfg"
    assert set(proxy["depends_on"]) == set(DASHBOARDS)


@pytest.mark.parametrize("name", [*DASHBOARDS, "memdash-init"])
def test_deploy_the_config_each_service_mounts_loads_with_its_env(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    service = SERVICES[name]
    for key in ("MEMDASH_STORE_PASSWORD", "MEMDASH_STATE_PASSWORD", "REDIS_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    for key, value in service_env(service).items():
        monkeypatch.setenv(key, value)
    config = load_config(mounted(service, config_arg(service)))  # a ${VAR} the env files lack fails here
    check_memdash_section(config)
    state = safety_settings(config).postgres
    assert state is not None, "the team's state must be PostgreSQL"
    params = conninfo_to_dict(state.conninfo)
    assert (params["host"], params["user"], params["password"]) == ("postgres", "memdash_app",
                                                                   service_env(service)["MEMDASH_STATE_PASSWORD"])
    store = config.memory["team"]
    assert (store.type, conninfo_to_dict(store.dsn)["host"]) == ("postgres", "postgres")
    assert store.password.get_secret_value() == service_env(service)["MEMDASH_STORE_PASSWORD"]
    assert "MEMDASH_STATE_OWNER_DSN" not in service_env(service) or name == "memdash-init"


def test_deploy_init_grants_the_role_the_dashboards_connect_as() -> None:
    init = SERVICES["memdash-init"]["command"]
    assert init[:3] == ["memdash", "state", "init"] and init[init.index("--grant") + 1] == "memdash_app"
    assert cli.build_parser().parse_args(init[1:]).handler.__name__ == "cmd_init"  # a command memdash has
    owner = conninfo_to_dict(service_env(SERVICES["memdash-init"])["MEMDASH_STATE_OWNER_DSN"])
    assert (owner["host"], owner["user"], owner["dbname"]) == ("postgres", "postgres", "memdash")
    script = (DEPLOY / "postgres-init.sh").read_text()
    for role in ("memdash_app", "memdash_store"):
        assert f"CREATE ROLE {role} LOGIN PASSWORD" in script
    assert "GRANT CREATE ON DATABASE memdash TO memdash_store" in script
    postgres = SERVICES["postgres"]
    assert postgres["environment"]["POSTGRES_DB"] == "memdash"
    assert {"POSTGRES_PASSWORD", "MEMDASH_STORE_PASSWORD", "MEMDASH_STATE_PASSWORD"} <= set(service_env(postgres))
    assert mounted(postgres, "/docker-entrypoint-initdb.d/10-memdash-roles.sh") == DEPLOY / "postgres-init.sh"


def test_deploy_the_redis_variant_loads_with_the_dashboards_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in service_env(SERVICES["memdash-1"]).items():
        monkeypatch.setenv(key, value)
    config = load_config(DEPLOY / "memdash.redis.yml")
    check_memdash_section(config)
    store = config.memory["team"]
    assert (store.type, store.host, store.password.get_secret_value()) == ("redis_memory", "redis",
                                                                           service_env(SERVICES["memdash-1"])["REDIS_PASSWORD"])
    assert safety_settings(config).postgres is not None
    redis = SERVICES["redis"]
    assert "REDIS_PASSWORD" in service_env(redis) and "$$REDIS_PASSWORD" in shlex.join(redis["command"])


def test_deploy_secrets_stay_out_of_the_repository() -> None:
    ignored = (DEPLOY.parent / ".gitignore").read_text().splitlines()
    for name in ("deploy/memdash.env", "deploy/owner.env", "deploy/secrets.toml"):
        assert name in ignored
    for text in ((DEPLOY / "memdash.yml").read_text(), (DEPLOY / "compose.yml").read_text()):
        assert "change-me" not in text  # passwords are ${VAR}s from the env files, never in a committed file


def test_deploy_postgres_init_and_state_init_then_a_dashboard_runs_on_a_real_server(
        tmp_path: Path, pgvector_server: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The deploy's own SQL and commands against a real PostgreSQL: postgres-init.sh as the image runs it, then
    memdash-init's command, then a dashboard process's hub on the mounted config (hosts pointed at this server)."""
    socket = conninfo_to_dict(pgvector_server)["host"]
    with psycopg.connect(pgvector_server, autocommit=True) as conn:
        conn.execute("CREATE DATABASE memdash")
    env = service_env(SERVICES["postgres"])
    done = subprocess.run(["sh", str(DEPLOY / "postgres-init.sh")], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PGHOST": socket, "POSTGRES_USER": "postgres",
                               "POSTGRES_DB": "memdash", **env}, check=False)
    assert done.returncode == 0, done.stderr
    config = tmp_path / "memdash.yml"
    config.write_text((DEPLOY / "memdash.yml").read_text().replace("@postgres:5432/memdash",
                                                                    f"@/memdash?host={socket}"))
    for key, value in service_env(SERVICES["memdash-init"]).items():
        monkeypatch.setenv(key, value.replace("@postgres:5432/memdash", f"@/memdash?host={socket}"))
    assert cli.main(["state", "init", "--config", str(config), "--grant", "memdash_app"]) == 0, capsys.readouterr()
    hub = StoreHub(str(config))
    try:
        assert memories.add_memory(hub, LOCAL_ADMIN, "team", MemoryItem(user_id="u", memory="first team memory"))
        assert hub.audit.count(AuditQuery()) == 1
    finally:
        hub.close()
    assert cli.main(["forget-user", "--config", str(config), "team", "u", "--yes"]) == 0  # to its receipt, as the app
    assert "erase" in capsys.readouterr().out.lower()
    with psycopg.connect(f"postgresql://memdash_app@/memdash?host={socket}", autocommit=True) as conn:
        with pytest.raises(psycopg.Error, match="owner"):
            conn.execute("DROP TRIGGER audit_no_delete ON memdash_state.audit_entries")
        with pytest.raises(psycopg.Error, match="must be owner"):
            conn.execute("DROP SCHEMA memdash CASCADE")  # the store's schema is memdash_store's
    with psycopg.connect(f"postgresql://memdash_store@/memdash?host={socket}", autocommit=True) as conn, \
            pytest.raises(psycopg.Error, match="permission denied"):
        conn.execute("SELECT count(*) FROM memdash_state.audit_entries")  # the store's role cannot reach the log
