"""``memdash forget-user``: erase everything memdash holds about one user of one store (an erasure request).

Prints what will be removed (memories, audit entries with content, snapshot lines), asks for the user id to be
typed again unless ``--yes``, erases (:mod:`memory_core.audit.erasure`) and prints the receipt. A user with
nothing anywhere is refused (exit 1); an interrupted erasure is completed by running the command again.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from memory_core.audit import safety_settings
from memory_core.audit.erasure import NothingToErase, Receipt, erase_user, plan_erasure
from memory_core.audit.writer import cli_writer
from memory_core.config import MemdashConfig, load_config
from memory_core.memdash_section import snapshots_folder


def add_commands(sub: Any) -> None:
    parser = sub.add_parser("forget-user", help="erase everything memdash holds about one user of a store",
                            description="erase one user of a store: their memories, the content of every audit "
                                        "entry about them (the entries stay, as who, when and what kind) and their "
                                        "lines in the store's snapshots; prints a receipt without their id")
    parser.add_argument("--config", required=True, metavar="FILE", help="toolkit-style YAML config")
    parser.add_argument("store", metavar="STORE", help="memory store name in the config")
    parser.add_argument("user", metavar="USER", help="the user id")
    parser.add_argument("--yes", action="store_true", help="do not ask to type the user id again")
    parser.set_defaults(handler=cmd_forget_user)


def cmd_forget_user(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    receipt = asyncio.run(_forget(config, args.store, args.user, confirmed=args.yes))
    if receipt is None:
        print(f"memdash: not erased: the typed id is not '{args.user}'", file=sys.stderr)
        return 1
    print("\n".join(receipt.lines()))
    return 0


async def _forget(config: MemdashConfig, store: str, user_id: str, *, confirmed: bool) -> Receipt | None:
    snapshots = snapshots_folder(config, store)
    async with cli_writer(config, store) as writer:
        log = safety_settings(config).open_audit_log()
        try:
            plan = await plan_erasure(writer, log, user_id, snapshots=snapshots)
            if plan.empty:
                raise NothingToErase(plan.nothing_message())
            print(f"Erasing user '{user_id}' from store '{store}' removes:")
            print("\n".join(f"  {line}" for line in plan.lines()))
            if not confirmed and _typed() != user_id:
                return None
            return await erase_user(writer, log, user_id, snapshots=snapshots)
        finally:
            log.close()


def _typed() -> str:
    sys.stdout.flush()
    try:
        return input("Type the user id to erase all of this: ")
    except EOFError:
        return ""

