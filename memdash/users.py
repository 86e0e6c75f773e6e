"""``memdash user add|remove|list``: the dashboard's local accounts (:mod:`dashboard.services.accounts`).

They are in ``--users-file F``, or where ``--config FILE`` keeps them: its ``memdash.auth.users_file``, else its
PostgreSQL state (``memdash.state``). Passwords are asked twice on the terminal, or read as one line from standard
input with ``--password-stdin``; they are never arguments.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from dashboard.services.accounts import Accounts, FileAccounts, accounts_of
from dashboard.services.users_file import new_user
from memory_core.access import Role
from memory_core.config import load_config
from memory_core.errors import InvalidInputError, MemdashError
from memory_core.memdash_section import check_memdash_section

ROLES = [role.name.lower() for role in Role]


def add_commands(sub: Any) -> None:
    """Register ``user`` and its actions on the ``memdash`` sub-command parser."""
    user = sub.add_parser("user", help="manage the dashboard's local accounts",
                          description="manage the dashboard's local accounts (used when no OIDC provider is set)")
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = _action(actions, "add", cmd_add, "add a local account (or replace one with --replace)")
    add.add_argument("name", metavar="NAME", help="user name to sign in with")
    add.add_argument("--role", required=True, choices=ROLES, help="role on every store")
    add.add_argument("--store", action="append", default=[], type=_store_role, metavar="S=ROLE",
                     help="a different role on store S (repeatable)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--replace", action="store_true", help="replace an existing account's password and roles")
    remove = _action(actions, "remove", cmd_remove, "remove a local account")
    remove.add_argument("name", metavar="NAME")
    _action(actions, "list", cmd_list, "list the local accounts and their roles")


def _action(actions: Any, name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=help_text, description=help_text)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--users-file", metavar="F", help="the users file (created if missing)")
    where.add_argument("--config", metavar="FILE", help="the accounts of this config (its memdash.auth.users_file, "
                       "else its PostgreSQL memdash.state)")
    parser.set_defaults(handler=handler)
    return parser


def _store_role(raw: str) -> tuple[str, Role]:
    store, sep, role = raw.partition("=")
    try:
        if not sep or not store.strip():
            raise ValueError("expected STORE=ROLE")
        return store.strip(), Role.parse(role)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{raw!r}: {exc}") from None


def accounts(args: argparse.Namespace) -> Accounts:
    """The accounts named by ``--users-file``, or kept where the config says."""
    if args.users_file:
        return FileAccounts(Path(args.users_file))
    config = load_config(args.config)
    check_memdash_section(config)  # e.g. a users_file beside a PostgreSQL state: said at its line
    found = accounts_of(config)
    if found is None:
        raise MemdashError(f"{args.config}: no memdash.auth.users_file and no PostgreSQL memdash.state set; add one "
                           "or pass --users-file F")
    return found


def cmd_add(args: argparse.Namespace) -> int:
    where = accounts(args)
    stores = dict(args.store)
    if args.config:
        _check_stores(args.config, stores)
    if not args.replace and args.name in where.load():  # said before the password is asked
        raise InvalidInputError(f"user '{args.name}' exists in {where.where}; pass --replace to change it")
    user = new_user(args.name, _password(args.password_stdin), Role.parse(args.role), stores)
    where.put(user, replace=args.replace)
    print(f"{'replaced' if args.replace else 'added'} user '{args.name}' ({args.role}) in {where.where}")
    return 0


def _check_stores(config_file: str, stores: dict[str, Role]) -> None:
    known = load_config(config_file).memory
    unknown = sorted(set(stores) - set(known))
    if unknown:
        raise InvalidInputError(f"no memory store named '{unknown[0]}' in {config_file}; configured: "
                                f"{', '.join(known) or 'none'}")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidInputError("no terminal to ask for the password: pass it on standard input with --password-stdin")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise InvalidInputError("the passwords differ")
    return password


def cmd_remove(args: argparse.Namespace) -> int:
    where = accounts(args)
    where.remove(args.name)
    print(f"removed user '{args.name}' from {where.where}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    where = accounts(args)
    users = where.load()
    if not users:
        print(f"{where.where}: no users")
    for user in users.values():
        stores = ", ".join(f"{store}={role.name.lower()}" for store, role in user.stores)
        print(f"{user.name}\t{user.role.name.lower()}" + (f"\t{stores}" if stores else ""))
    return 0
