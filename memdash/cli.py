"""The ``memdash`` command: run the dashboard, seed demo data, check a config, inspect its stores.

User mistakes (a bad config, an unknown store, a store that cannot start) print one line and exit
non-zero (2 for a config error), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memdash import as_of, backup, evaluate, expire, forget, person, reads, state
from memory_core.audit import AuditQuery, safety_settings
from memory_core.audit.writer import cli_writer
from memory_core.auth_settings import NO_AUTH_ENV
from memory_core.builder import MemoryBuilder
from memory_core.config import CONFIG_ENV, MemdashConfig, load_config
from memory_core.demo import DATASETS, seed, seed_if_empty
from memory_core.errors import AuditLogError, ConfigError, MemdashError
from memory_core.interfaces import Capability, MemoryBrowser, capabilities_of
from memory_core.memdash_section import check_memdash_section, seed_settings
from memory_core.reach import AgentReach, Reach
from memory_core.records import MemoryFilter

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_APP = PROJECT_ROOT / "dashboard" / "server.py"


def find_streamlit_dir() -> Path | None:
    """The folder holding the project's ``.streamlit/config.toml`` (the repo root in an editable install)."""
    for root in (PROJECT_ROOT, Path.cwd()):
        if (root / ".streamlit" / "config.toml").is_file():
            return root
    return None


def streamlit_launch(config_file: str, *, app: Path = DEFAULT_APP, port: int | None = None,
                     host: str | None = None, no_auth: bool = False) -> tuple[list[str], dict[str, str], Path]:
    """``(argv, env, cwd)`` to start the dashboard.

    Streamlit reads ``.streamlit/config.toml`` (and ``secrets.toml``) from its working directory, so the
    dashboard runs from the project root, where they live, whatever folder ``memdash run`` was typed in.
    """
    if not app.is_file():
        raise MemdashError(f"dashboard app not found: {app}")
    argv = [sys.executable, "-m", "streamlit", "run", str(app.resolve())]
    if port is not None:
        argv += ["--server.port", str(port)]
    if host is not None:
        argv += ["--server.address", host]
    env = {**os.environ, CONFIG_ENV: str(Path(config_file).resolve())}
    if no_auth:
        env[NO_AUTH_ENV] = "1"
    return argv, env, find_streamlit_dir() or Path.cwd()


# --- commands ------------------------------------------------------------------------------------------
def cmd_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    check_memdash_section(config)
    settings = seed_settings(config)
    print(f"{config.file}: OK")
    print("memory stores:" if config.memory else "memory stores: none")
    for name, store in config.memory.items():
        print(f"  {name}: {store.type}")
    if config.embedders:
        print("embedders:")
        for name, embedder in config.embedders.items():
            print(f"  {name}: {embedder.type}")
    if settings:
        print(f"seed: data set '{settings.data}' into store '{settings.store}' when it is empty")
    safety = safety_settings(config)
    shared = "PostgreSQL, shared by every memdash process of this config" if safety.postgres else "SQLite, one process"
    print(f"state ({shared}): audit log at {safety.audit_location}")
    for warning in config.warnings:
        print(f"warning: {warning}")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    settings = seed_settings(config)
    store = args.store or (settings.store if settings else None)
    if store is None:
        if len(config.memory) != 1:
            raise MemdashError(f"{config.file}: several memory stores ({', '.join(config.memory) or 'none'}); "
                               "choose one with --store NAME")
        store = next(iter(config.memory))
    data = args.data or (settings.data if settings else "demo")
    added = asyncio.run(_seed(config, store, data, if_empty=args.if_empty))
    if added:
        print(f"seeded {added} memories from data set '{data}' into store '{store}'")
    else:
        print(f"store '{store}' already has memories; nothing added")
    return 0


async def _seed(config: MemdashConfig, store: str, data: str, *, if_empty: bool) -> int:
    """Seed through the audited write path, as ``cli:<os user>``."""
    async with cli_writer(config, store) as writer:
        return await (seed_if_empty(writer, data) if if_empty else seed(writer, data))


def cmd_run(args: argparse.Namespace) -> int:
    if not _installed("streamlit"):
        return _needs_dashboard("memdash run")
    config = load_config(args.config)
    settings = seed_settings(config)
    argv, env, cwd = streamlit_launch(args.config, app=Path(args.app), port=args.port, host=args.host,
                                      no_auth=args.no_auth)
    if settings and not args.dry_run:
        try:
            added = asyncio.run(_seed(config, settings.store, settings.data, if_empty=True))
        except MemdashError as exc:  # the dashboard shows a broken store; still start it
            print(f"memdash: warning: could not seed store '{settings.store}': {exc}", file=sys.stderr)
        else:
            if added:
                print(f"seeded {added} demo memories into store '{settings.store}' (audited)")
    if not args.dry_run:
        print(_audit_line(config))
    if args.dry_run:
        print(f"cd {cwd}")
        print(f"{CONFIG_ENV}={env[CONFIG_ENV]}" + (f" {NO_AUTH_ENV}=1" if args.no_auth else ""))
        print(" ".join(argv))
        return 0
    sys.stdout.flush()
    os.chdir(cwd)
    os.execve(argv[0], argv, env)  # streamlit replaces this process: signals and exit code are its own


def cmd_stores(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if not config.memory:
        print(f"{config.file}: no memory stores configured")
        return 0
    print(_audit_line(config))
    failures = asyncio.run(_report_stores(config))
    return 1 if failures else 0


def _audit_line(config: MemdashConfig) -> str:
    """Where this config's audit log lives, and how many entries it holds."""
    settings = safety_settings(config)
    if settings.audit_path is not None and not settings.audit_path.exists():
        return f"audit log: {settings.audit_path} (not created yet: the first change creates it)"
    try:
        log = settings.open_audit_log()
    except AuditLogError as exc:
        return f"audit log: {exc}"
    try:
        return f"audit log: {settings.audit_location} ({log.count(AuditQuery()):,} entries)"
    finally:
        log.close()


async def _report_stores(config: MemdashConfig) -> int:
    """Print each store's health; returns how many failed. One broken store does not stop the others."""
    failures = 0
    async with MemoryBuilder(config) as builder:
        for name, store_config in config.memory.items():
            try:
                lines = await _describe_store(builder, name)
            except MemdashError as exc:
                failures += 1
                print(f"{name} ({store_config.type}): FAILED: {exc}")
            else:
                print(f"{name} ({store_config.type}): ok")
                for line in lines:
                    print(f"  {line}")
    return failures


async def _describe_store(builder: MemoryBuilder, name: str) -> list[str]:
    editor = await builder.get_memory_client(name)
    caps = capabilities_of(editor)
    if isinstance(editor, MemoryBrowser) and Capability.PING in caps:
        await editor.ping()
    lines = [f"capabilities: {', '.join(sorted(caps)) or 'add, search, remove only'}"]
    counts: list[str] = []
    if isinstance(editor, MemoryBrowser) and Capability.COUNT in caps:
        counts.append(f"memories: {await editor.count_records(MemoryFilter())}")
    if isinstance(editor, MemoryBrowser) and Capability.LIST_USERS in caps:
        users, cursor = 0, None
        while True:
            page = await editor.list_users(limit=500, cursor=cursor)
            users += len(page.users)
            if not (cursor := page.next_cursor):
                break
        counts.append(f"users: {users}")
    lines.append(", ".join(counts) if counts else "counts: not supported by this store")
    if isinstance(editor, AgentReach):
        lines.append(_reach_line(await editor.reach(examples=0)))
    return lines


def _reach_line(reach: Reach) -> str:
    """What the agent's own search can find, as one line of ``memdash stores``."""
    if not reach.unfindable:
        return f"agent's search: finds all {reach.total} memories"
    why = "; ".join(f"{reason}: {n}" for reason, n in reach.reasons.items())
    fix = " (repair: Stores page, as an admin)" if reach.repairable else " (configure the agent's embedder to repair)"
    return f"agent's search: cannot find {reach.unfindable} of {reach.total} memories ({why}){fix}"


# --- entry point -------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memdash", description="Run the memdash dashboard, seed demo data, "
                                     "check a config, inspect its stores.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", required=True, metavar="FILE", help="toolkit-style YAML config")
        p.set_defaults(handler=handler)
        return p

    run = command("run", cmd_run, "seed the demo store if asked, then start the dashboard")
    run.add_argument("--port", type=int, help="port to serve on (default: streamlit's config, 8501)")
    run.add_argument("--host", help="address to listen on (default: all interfaces)")
    run.add_argument("--no-auth", action="store_true",
                     help=f"turn sign-in off: every visitor acts as admin (sets {NO_AUTH_ENV}=1)")
    run.add_argument("--app", default=str(DEFAULT_APP), help=argparse.SUPPRESS)
    run.add_argument("--dry-run", action="store_true", help="print the command instead of running it")

    seed_p = command("seed", cmd_seed, "add the demo memories to a store")
    seed_p.add_argument("--store", metavar="NAME", help="store to fill (default: memdash.seed.store, or the only one)")
    seed_p.add_argument("--data", choices=sorted(DATASETS), help="data set (default: demo)")
    seed_p.add_argument("--if-empty", action="store_true", help="only when the store has no memories")

    command("check", cmd_check, "validate a config and list its stores")
    command("stores", cmd_stores, "start each store, ping it, print capabilities and counts")
    backup.add_commands(sub)
    person.add_commands(sub)
    as_of.add_commands(sub)
    expire.add_commands(sub)
    forget.add_commands(sub)
    reads.add_commands(sub)
    state.add_commands(sub)
    evaluate.add_commands(sub)
    _dashboard_commands(sub)
    return parser


def _dashboard_commands(sub: Any) -> None:
    """``memdash user`` (the dashboard's local accounts) when the dashboard is installed; else a command that
    says how to get it. The library itself never needs the app."""
    try:
        from memdash import users
    except ImportError as exc:
        missing = str(exc)
        user = sub.add_parser("user", help="manage the dashboard's local accounts (needs memdash[dashboard])")
        user.add_argument("arguments", nargs=argparse.REMAINDER)
        user.set_defaults(handler=lambda args: _needs_dashboard(f"memdash user ({missing})"))
        return
    users.add_commands(sub)


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except ImportError:
        return False


def _needs_dashboard(what: str) -> int:
    raise MemdashError(f"{what}: the dashboard is not installed here; pip install 'memdash[dashboard]'")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``memdash`` command; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help or a usage error, already printed by argparse
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(f"memdash: config error: {exc}", file=sys.stderr)
        return 2
    except MemdashError as exc:
        print(f"memdash: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


