"""``memdash expire --store S``: move every memory whose expiry time is past to the trash (one audited delete,
restorable from the Trash page), e.g. from cron. The agent already stopped getting them at their expiry time."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

from memory_core.audit.writer import cli_writer
from memory_core.config import load_config
from memory_core.interfaces import Capability, capabilities_of
from memory_core.records import utcnow
from memory_core.transfer import expired_ids


def add_commands(sub: Any) -> None:
    text = "move the memories whose expiry time is past to the trash"
    command = sub.add_parser("expire", help=text, description=text)
    command.add_argument("--config", required=True, metavar="FILE", help="toolkit-style YAML config")
    command.add_argument("--store", required=True, metavar="NAME", help="the store")
    command.set_defaults(handler=cmd_expire)


def cmd_expire(args: argparse.Namespace) -> int:
    moved = asyncio.run(_expire(args.config, args.store))
    print(f"moved {moved} expired {'memory' if moved == 1 else 'memories'} of store '{args.store}' to the trash")
    return 0


async def _expire(config: str, store: str) -> int:
    async with cli_writer(load_config(config), store) as writer:
        if Capability.EXPIRE not in capabilities_of(writer.reader):
            raise SystemExit(f"store '{store}' keeps no expiry times (it cannot expire memories)")
        ids = await expired_ids(writer.reader, utcnow())
        return await writer.delete(ids, batch=uuid.uuid4().hex) if ids else 0
