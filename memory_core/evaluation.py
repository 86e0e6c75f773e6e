"""Retrieval regression: golden queries run against any store, scored as recall@k per user and overall.

A golden query is ``{query, user_id, expect, k}`` (``k`` defaults to 5). Each ``expect`` entry is either a
string, found when a hit has that id or a memory text equal to or containing it (case-insensitive), or a
mapping with one of ``id`` (ids need a store with ``search_records``), ``text`` (same rule as a string) or
``dia_id`` (a LoCoMo turn id in the hit's ``metadata.dia_id`` / ``metadata.dia_ids``, as ``bench.locomo``
stores them). A query's recall@k is the share of its expectations found in the first ``k`` hits; a user's is
the mean over their queries, ``overall`` the mean over every query.

Files: ``.yml``/``.yaml`` (a list, or ``{queries: [...]}``), ``.jsonl`` (one query per line), ``.json``
(LoCoMo samples: one or a list; questions of categories 1-4 with evidence, user ``locomo-<sample_id>``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from memory_core.errors import InvalidInputError
from memory_core.interfaces import Capability, MemoryEditor, capabilities_of
from memory_core.models import MemoryItem

DEFAULT_K = 5
_EVIDENCE_SPLIT = re.compile(r"[;,\s]+")


class Expectation(BaseModel):
    """What must come back: exactly one of ``id``, ``text``, ``dia_id``, or ``any`` (id or text)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    text: str | None = None
    dia_id: str | None = None
    any: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"any": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _exactly_one(self) -> Expectation:
        if sum(v is not None and v != "" for v in (self.id, self.text, self.dia_id, self.any)) != 1:
            raise ValueError("an expectation needs exactly one of id, text, dia_id (or a plain string)")
        return self

    def found_in(self, hit: Hit) -> bool:
        text = (hit.item.memory or "").casefold()
        if self.dia_id is not None:
            meta = hit.item.metadata
            return self.dia_id in (meta.get("dia_ids") or [meta.get("dia_id")])
        wanted = self.text or self.any
        if wanted is not None and wanted.casefold() in text:
            return True
        target = self.id or self.any
        return target is not None and hit.id == target


class GoldenQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1)
    user_id: str = Field(min_length=1)
    expect: list[Expectation] = Field(min_length=1)
    k: int = Field(default=DEFAULT_K, gt=0)


class Hit(BaseModel):
    item: MemoryItem
    id: str | None = None
    score: float | None = None


class QueryResult(BaseModel):
    query: GoldenQuery
    recall: float
    hits: list[Hit]
    missing: list[Expectation]


class EvalReport(BaseModel):
    store: str
    golden: str
    at: dt.datetime
    overall: float
    per_user: dict[str, float]
    queries: list[QueryResult]

    def history_row(self) -> dict[str, Any]:
        """What the history file keeps of a run (no hits)."""
        return {"at": self.at.isoformat(), "store": self.store, "golden": self.golden, "overall": self.overall,
                "per_user": self.per_user, "queries": len(self.queries)}


# --- loading -----------------------------------------------------------------------------------------------
def load_golden(path: str | Path) -> list[GoldenQuery]:
    """Golden queries from a YAML, JSONL or LoCoMo JSON file; ``InvalidInputError`` names the entry."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read golden file {path}: {exc.strerror or exc}") from None
    return parse_golden(text, path.name)


def parse_golden(text: str, name: str) -> list[GoldenQuery]:
    """Golden queries from file content; the format follows ``name``'s extension."""
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".jsonl":
            rows = [(f"line {n}", json.loads(line)) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        elif suffix == ".json":
            rows = [(f"question {n}", row) for n, row in enumerate(locomo_queries(json.loads(text)), 1)]
        elif suffix in (".yml", ".yaml"):
            data = yaml.safe_load(text) or []
            data = data.get("queries", []) if isinstance(data, dict) else data
            rows = [(f"entry {n}", row) for n, row in enumerate(data, 1)]
        else:
            raise InvalidInputError(f"{name}: golden files are .yml, .yaml, .jsonl or LoCoMo .json")
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"{name}: not valid {suffix[1:].upper()}: {exc}") from None
    return [_query(row, f"{name}: {where}") for where, row in rows]


def _query(row: Any, where: str) -> GoldenQuery:
    try:
        return GoldenQuery.model_validate(row)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"{where}: {field + ': ' if field else ''}{first['msg']}") from None


def locomo_queries(data: Any, *, k: int = 10) -> list[dict[str, Any]]:
    """Golden queries of LoCoMo samples: questions of categories 1-4, evidence turns as ``dia_id``."""
    samples = data if isinstance(data, list) else [data]
    rows = []
    for number, sample in enumerate(samples):
        if not isinstance(sample, dict) or "qa" not in sample:
            raise InvalidInputError(f"LoCoMo sample {number + 1} has no 'qa' list")
        user = f"locomo-{sample.get('sample_id', number)}"
        for qa in sample["qa"]:
            evidence = [e for raw in qa.get("evidence", []) for e in _EVIDENCE_SPLIT.split(str(raw)) if e]
            if qa.get("category") in (1, 2, 3, 4) and evidence:
                rows.append({"query": qa["question"], "user_id": user, "k": k,
                             "expect": [{"dia_id": e} for e in dict.fromkeys(evidence)]})
    return rows


# --- running -----------------------------------------------------------------------------------------------
async def search(editor: MemoryEditor, query: GoldenQuery) -> list[Hit]:
    """The query's top ``k`` hits, with ids where the store can give them."""
    if Capability.SEARCH_RECORDS in capabilities_of(editor):
        found = await editor.search_records(query.query, user_id=query.user_id, top_k=query.k)  # type: ignore[attr-defined]
        return [Hit(item=h.record.item, id=h.record.id, score=h.score) for h in found]
    items = await editor.search(query.query, top_k=query.k, user_id=query.user_id)
    return [Hit(item=i, score=i.similarity_score) for i in items]


def score(query: GoldenQuery, hits: Sequence[Hit]) -> QueryResult:
    top = list(hits[:query.k])
    missing = [e for e in query.expect if not any(e.found_in(h) for h in top)]
    return QueryResult(query=query, recall=1 - len(missing) / len(query.expect), hits=top, missing=missing)


async def evaluate(editor: MemoryEditor, queries: Sequence[GoldenQuery], *, store: str = "",
                   golden: str = "") -> EvalReport:
    """Run every golden query through ``editor`` and score it."""
    if not queries:
        raise InvalidInputError("the golden file has no queries")
    results = [score(q, await search(editor, q)) for q in queries]
    by_user: dict[str, list[float]] = defaultdict(list)
    for result in results:
        by_user[result.query.user_id].append(result.recall)
    return EvalReport(store=store, golden=golden, at=dt.datetime.now(dt.UTC),
                      overall=_mean(r.recall for r in results),
                      per_user={user: _mean(values) for user, values in sorted(by_user.items())}, queries=results)


def _mean(values: Any) -> float:
    values = list(values)
    return round(sum(values) / len(values), 4)


# --- history -----------------------------------------------------------------------------------------------
def append_history(path: str | Path, report: EvalReport) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(report.history_row(), sort_keys=True) + "\n")


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a history file, oldest first; a missing file is empty, unreadable lines are skipped."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "overall" in row and "at" in row:
            rows.append(row)
    return rows


def table(report: EvalReport) -> str:
    """Recall per user and overall as a plain-text table."""
    width = max([len("overall"), *map(len, report.per_user)])
    counts = defaultdict(int)
    for result in report.queries:
        counts[result.query.user_id] += 1
    lines = [f"{'user':<{width}}  queries  recall@k"]
    lines += [f"{user:<{width}}  {counts[user]:>7}  {recall:>8.3f}" for user, recall in report.per_user.items()]
    lines.append(f"{'overall':<{width}}  {len(report.queries):>7}  {report.overall:>8.3f}")
    return "\n".join(lines)
