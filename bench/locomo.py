"""LoCoMo retrieval benchmark: how much of each question's evidence a configured store returns.

``python -m bench.locomo [--data DIR] [--config FILE] [--store NAME] [--json OUT] [--compare [FILE]]``

Every conversation file of ``DIR`` is written for its own user (``locomo-<file stem>``) through the store's
``add_items``, then every question of categories 1-4 (5 is the unanswerable, adversarial kind) is asked with
``search(question, top_k=10, user_id=...)``. Two granularities, each in a fresh store:

* **turns** - one item per dialog turn: ``memory`` = ``"Speaker: text"``, ``conversation`` = that turn with up to
  two turns of the same session before and after it (``role`` = speaker, ``content`` = text), ``metadata`` =
  ``{"dia_id", "session", "date"}``;
* **facts** - one item per session observation: ``memory`` = the fact, ``metadata`` = ``{"dia_ids", "session",
  "date"}``.

``date`` is the session's start as ISO 8601 (``2023-05-08T13:56``). A question's evidence ids are split on
``;``/``,``/spaces and only ids naming a turn of the conversation are kept; questions left with none are
skipped. **Recall@k** (``R@k``) is the share of questions with an evidence turn among the dia ids of the
first k items returned: the definition behind the baselines the benchmark was specified with (plain FTS5 BM25
over the memory text: turns .580, facts .594; the ``raw-bm25`` row reproduces them in the same process). A
question whose evidence no fact cites can never be recalled, so facts recall is at most 0.830 on the five
shared conversations. ``E@k`` is the stricter share of a question's evidence ids found in the first k,
averaged (at most 0.785 for facts there).

Each run copies the config file into a temporary folder, so relative paths in it (the sqlite file) start empty.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from memory_core.builder import MemoryBuilder
from memory_core.config import load_config
from memory_core.models import MemoryItem

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo"
DEFAULT_CONFIG = ROOT / "configs" / "locomo.yml"
COMPARE_CONFIG = ROOT / "configs" / "locomo-bm25.yml"
GRANULARITIES = ("turns", "facts")
CUTOFFS = (5, 10)
METRICS = tuple(f"{name}@{k}" for name in ("R", "E") for k in CUTOFFS)
BASELINE = "raw-bm25"
TOP_K = 10
CONTEXT = 2
_SESSION = re.compile(r"session_(\d+)")
_SPLIT = re.compile(r"[;,\s]+")


@dataclasses.dataclass(frozen=True)
class Question:
    text: str
    evidence: frozenset[str]
    category: int


@dataclasses.dataclass(frozen=True)
class Conversation:
    """One LoCoMo sample, loaded for user ``user_id``."""

    user_id: str
    data: dict[str, Any]

    def sessions(self) -> list[tuple[int, str, list[dict[str, Any]]]]:
        """``(number, ISO date, turns)`` of every non-empty session, in order."""
        found = [(int(m.group(1)), key) for key in self.data if (m := _SESSION.fullmatch(key))]
        return [(n, iso_date(self.data.get(f"{key}_date_time", "")), self.data[key])
                for n, key in sorted(found) if self.data[key]]

    def turn_ids(self) -> set[str]:
        return {turn["dia_id"] for _, _, turns in self.sessions() for turn in turns}

    def questions(self) -> list[Question]:
        known = self.turn_ids()
        found = []
        for qa in self.data.get("qa", []):
            evidence = frozenset(e for raw in qa.get("evidence", []) for e in _SPLIT.split(raw) if e in known)
            if qa.get("category") in (1, 2, 3, 4) and evidence:
                found.append(Question(qa["question"], evidence, qa["category"]))
        return found


def iso_date(text: str) -> str:
    """``"1:56 pm on 8 May, 2023"`` as ``"2023-05-08T13:56"`` (the text itself when it does not parse)."""
    try:
        return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").isoformat(timespec="minutes")
    except ValueError:
        return text


def load_conversations(data_dir: Path) -> list[Conversation]:
    files = sorted(Path(data_dir).glob("*.json"))
    if not files:
        raise SystemExit(f"no LoCoMo *.json files in {data_dir}")
    return [Conversation(f"locomo-{f.stem}", json.loads(f.read_text(encoding="utf-8"))) for f in files]


def turn_items(conv: Conversation) -> list[MemoryItem]:
    """One item per dialog turn, with up to ``CONTEXT`` turns of its session on each side."""
    items = []
    for number, date, turns in conv.sessions():
        for i, turn in enumerate(turns):
            window = turns[max(0, i - CONTEXT): i + CONTEXT + 1]
            items.append(MemoryItem(
                user_id=conv.user_id,
                memory=f"{turn['speaker']}: {turn['text']}",
                conversation=[{"role": t["speaker"], "content": t["text"]} for t in window],
                metadata={"dia_id": turn["dia_id"], "session": number, "date": date},
            ))
    return items


def fact_items(conv: Conversation) -> list[MemoryItem]:
    """One item per session observation (fact), pointing at the turns it came from."""
    dates = {number: date for number, date, _ in conv.sessions()}
    items = []
    for number in sorted(dates):
        for facts in (conv.data.get(f"session_{number}_observation") or {}).values():
            for fact, ids in facts:
                items.append(MemoryItem(
                    user_id=conv.user_id, memory=fact,
                    metadata={"dia_ids": [ids] if isinstance(ids, str) else list(ids), "session": number,
                              "date": dates[number]},
                ))
    return items


ITEMS = {"turns": turn_items, "facts": fact_items}


def dia_ids(item: MemoryItem) -> set[str]:
    meta = item.metadata
    return set(meta.get("dia_ids") or [meta.get("dia_id")]) - {None}


def returned_ids(results: Sequence[MemoryItem], k: int) -> set[str]:
    return set().union(*(dia_ids(item) for item in results[:k]))


def recall(evidence: frozenset[str], results: Sequence[MemoryItem], k: int) -> float:
    """1 when an evidence turn is among the first k results."""
    return float(bool(evidence & returned_ids(results, k)))


def evidence_share(evidence: frozenset[str], results: Sequence[MemoryItem], k: int) -> float:
    return len(evidence & returned_ids(results, k)) / len(evidence)


def figures(evidence: frozenset[str], results: Sequence[MemoryItem]) -> tuple[float, ...]:
    """One question's value of every metric of :data:`METRICS`, in order."""
    return tuple(metric(evidence, results, k) for metric in (recall, evidence_share) for k in CUTOFFS)


def raw_bm25(conversations: Sequence[Conversation], granularity: str) -> dict[str, dict[str, float]]:
    """The baseline: SQLite FTS5 (``unicode61``) BM25 over each conversation's memory text, no store."""
    scores: dict[str, list[tuple[float, ...]]] = {}
    for conv in conversations:
        items = ITEMS[granularity](conv)
        db = sqlite3.connect(":memory:")
        db.execute("CREATE VIRTUAL TABLE t USING fts5(memory, tokenize = 'unicode61')")
        db.executemany("INSERT INTO t (rowid, memory) VALUES (?, ?)", enumerate(i.memory for i in items))
        for q in conv.questions():
            expression = " OR ".join(f'"{word}"' for word in re.findall(r"\w+", q.text.lower()))
            rows = db.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT ?",
                              (expression, TOP_K)).fetchall()
            scores.setdefault(conv.user_id, []).append(figures(q.evidence, [items[r] for r, in rows]))
        db.close()
    return _summary(scores)


async def evaluate(config_file: Path, conversations: Sequence[Conversation], granularity: str,
                   store: str | None) -> dict[str, dict[str, float]]:
    """Every metric for one granularity, overall and per conversation: ``{"all": {...}, user: {...}}``."""
    with tempfile.TemporaryDirectory(prefix="locomo-") as tmp:
        config = load_config(shutil.copy(config_file, Path(tmp) / config_file.name))
        async with MemoryBuilder(config) as builder:
            editor = await builder.get_memory_client(store or builder.memory_names[0])
            scores: dict[str, list[tuple[float, ...]]] = {}
            for conv in conversations:
                await editor.add_items(ITEMS[granularity](conv))
                for q in conv.questions():
                    results = await editor.search(q.text, top_k=TOP_K, user_id=conv.user_id)
                    scores.setdefault(conv.user_id, []).append(figures(q.evidence, results))
    return _summary(scores)


def _summary(scores: dict[str, list[tuple[float, ...]]]) -> dict[str, dict[str, float]]:
    """``{"all": means, user: means}`` of per-question figures grouped by user."""
    per_user = {user: _means(rows) for user, rows in scores.items()}
    return {"all": _means([row for rows in scores.values() for row in rows]), **per_user}


def _means(rows: Iterable[tuple[float, ...]]) -> dict[str, float]:
    rows = list(rows)
    return {name: round(sum(r[i] for r in rows) / max(len(rows), 1), 4) for i, name in enumerate(METRICS)}


async def run(config_file: Path, conversations: Sequence[Conversation], store: str | None = None
              ) -> dict[str, dict[str, dict[str, float]]]:
    return {g: await evaluate(config_file, conversations, g, store) for g in GRANULARITIES}


def table(results: dict[str, dict[str, dict[str, dict[str, float]]]], per_conversation: bool) -> str:
    """Plain-text table: one row per config and granularity (and conversation if asked)."""
    lines = [f"{'config':<24}{'granularity':<13}{'scope':<14}" + "".join(f"{name:>8}" for name in METRICS)]
    for name, by_granularity in results.items():
        for granularity, by_scope in by_granularity.items():
            for scope, values in by_scope.items():
                if scope == "all" or per_conversation:
                    lines.append(f"{name:<24}{granularity:<13}{scope:<14}"
                                 + "".join(f"{values[name]:>8.3f}" for name in METRICS))
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.locomo", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of LoCoMo *.json files")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="memdash config with the store")
    parser.add_argument("--store", help="memory store name in the config (default: the first)")
    parser.add_argument("--json", type=Path,
                        help="write {granularity: {R@5, R@10, E@5, E@10}} of --config (and the baseline's) here")
    parser.add_argument("--compare", type=Path, nargs="?", const=COMPARE_CONFIG,
                        help=f"also run this config (default {COMPARE_CONFIG.relative_to(ROOT)})")
    parser.add_argument("--per-conversation", action="store_true", help="also print each conversation's recall")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    conversations = load_conversations(args.data)
    configs = [args.config] + ([args.compare] if args.compare else [])
    labels = [c.name for c in configs] if len({c.name for c in configs}) == len(configs) else [str(c) for c in configs]
    started = time.perf_counter()
    results = {label: asyncio.run(run(c.resolve(), conversations, args.store))
               for label, c in zip(labels, configs, strict=True)}
    results[BASELINE] = {g: raw_bm25(conversations, g) for g in GRANULARITIES}
    print(table(results, args.per_conversation))
    print(f"{sum(len(c.questions()) for c in conversations)} questions, {len(conversations)} conversations, "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.json:
        summary: dict[str, Any] = {g: results[labels[0]][g]["all"] for g in GRANULARITIES}
        summary["baseline"] = {"config": BASELINE, **{g: results[BASELINE][g]["all"] for g in GRANULARITIES}}
        if args.compare:
            compared = {g: results[labels[1]][g]["all"] for g in GRANULARITIES}
            summary["compare"] = {"config": str(args.compare), **compared}
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
