"""``memdash eval``: run golden queries against a store, print recall@k, append to a history, gate on a floor."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from memory_core.builder import MemoryBuilder
from memory_core.config import load_config
from memory_core.evaluation import EvalReport, append_history, evaluate, load_golden, table


def add_commands(sub: Any) -> None:
    """Register ``eval`` on the ``memdash`` sub-command parser."""
    text = "run golden queries against a store and report recall@k per user and overall"
    parser = sub.add_parser("eval", help=text, description=text)
    parser.add_argument("--config", required=True, metavar="FILE", help="toolkit-style YAML config")
    parser.add_argument("--store", required=True, metavar="S", help="memory store name in the config")
    parser.add_argument("golden", metavar="GOLDEN", help="golden queries: .yml/.yaml, .jsonl or LoCoMo .json")
    parser.add_argument("--json", metavar="OUT", help="write the whole report (hits included) as JSON")
    parser.add_argument("--history", metavar="FILE", help="append this run's figures to a JSONL history")
    parser.add_argument("--min-recall", type=_fraction, default=0.0, metavar="X",
                        help="exit 1 when overall recall@k is below X (0..1, default 0)")
    parser.set_defaults(handler=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    queries = load_golden(args.golden)
    report = asyncio.run(_run(config, args.store, queries, Path(args.golden).name))
    print(table(report))
    if args.json:
        Path(args.json).write_text(report.model_dump_json(indent=2), encoding="utf-8")
    if args.history:
        append_history(args.history, report)
    if report.overall < args.min_recall:
        print(f"memdash eval: recall@k {report.overall:.3f} is below --min-recall {args.min_recall:.3f}",
              file=sys.stderr)
        return 1
    return 0


async def _run(config: Any, store: str, queries: list, golden: str) -> EvalReport:
    async with MemoryBuilder(config) as builder:
        return await evaluate(await builder.get_memory_client(store), queries, store=store, golden=golden)


def _fraction(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, not {raw!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, not {raw}")
    return value
