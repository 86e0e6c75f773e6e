"""``memdash state init --config FILE [--grant ROLE]``: create a config's PostgreSQL state (``memdash.state``: the
audit log's tables and triggers, the accounts and sign-in throttle tables) as the role that is to own it, and
grant a role that owns nothing what the dashboard needs (:func:`memory_core.audit.postgres.grant_statements`).
The dashboard then runs as that role and cannot drop or disable the triggers that keep the log append-only
(docs/deploy.md).

The owner's connection string is read from the environment (``--owner-env``, default
``MEMDASH_STATE_OWNER_DSN``), never from an argument; without it the config's own ``dsn`` is used.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from memory_core.audit import AuditQuery
from memory_core.audit.postgres import PostgresAuditLog, conninfo, describe
from memory_core.audit.settings import postgres_state
from memory_core.config import load_config
from memory_core.errors import MemdashError
from memory_core.memdash_section import check_memdash_section

OWNER_ENV = "MEMDASH_STATE_OWNER_DSN"


def add_commands(sub: Any) -> None:
    state = sub.add_parser("state", help="memdash's shared state in PostgreSQL (memdash.state)",
                           description="memdash's shared state in PostgreSQL (memdash.state)")
    actions = state.add_subparsers(dest="state_command", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="create the state's tables as their owner, and grant a role to use them",
                              description="create the state's tables as their owner (idempotent), and grant a "
                                          "role that owns nothing what the dashboard needs")
    init.add_argument("--config", required=True, metavar="FILE", help="toolkit-style YAML config")
    init.add_argument("--grant", metavar="ROLE", help="the role the dashboard connects as")
    init.add_argument("--owner-env", default=OWNER_ENV, metavar="VAR",
                      help=f"environment variable holding the owner's connection string (default {OWNER_ENV}; "
                           "unset: the config's dsn)")
    init.set_defaults(handler=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    check_memdash_section(config)
    state = postgres_state(config)
    if state is None:
        raise MemdashError(f"{config.file}: memdash.state is not PostgreSQL (the SQLite audit log is created on "
                           "first use)")
    owner = os.environ.get(args.owner_env)
    info = conninfo(owner, None) if owner else state.conninfo
    log = PostgresAuditLog(info, schema=state.schema, connect_timeout=state.connect_timeout)
    try:
        entries = log.count(AuditQuery())
        if args.grant:
            log.grant(args.grant)
    finally:
        log.close()
    print(f"state ready: {describe(info, state.schema)}, {entries:,} audit entries")
    if args.grant:
        print(f"granted role '{args.grant}' what the dashboard needs (it owns nothing: the triggers bind it)")
    return 0
