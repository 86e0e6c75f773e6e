"""``memdash as-of`` (a user's memories at a moment as JSONL, with the changes made since undone) and ``memdash
expire`` (expired memories to the trash)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import yaml

from memdash import cli
from memory_core.transfer import parse_jsonl


def test_as_of_writes_the_memories_as_they_were(tmp_path: Path, capsys) -> None:
    config = tmp_path / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "sqlite", "path": "main.sqlite3"}}}))
    first = tmp_path / "first.jsonl"
    first.write_text(json.dumps({"id": "a1", "user_id": "alice", "memory": "Alice likes tea."}) + "\n")
    assert cli.main(["import", "--config", str(config), str(first), "main"]) == 0
    time.sleep(0.01)
    moment = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    second = tmp_path / "second.jsonl"
    second.write_text(json.dumps({"id": "a2", "user_id": "alice", "memory": "Alice lives in Lisbon."}) + "\n")
    assert cli.main(["import", "--config", str(config), str(second), "main"]) == 0
    capsys.readouterr()
    out = tmp_path / "then.jsonl"
    assert cli.main(["as-of", "--config", str(config), "--store", "main", "--user", "alice",
                     "--at", moment.isoformat(), "--out", str(out)]) == 0
    report = parse_jsonl(out.read_text().splitlines())
    assert [r.item.memory for r in report.records] == ["Alice likes tea."]
    assert "1 memory of user 'alice' as of" in capsys.readouterr().err


def test_memdash_expire_moves_expired_memories_to_the_trash(tmp_path: Path, capsys) -> None:
    config = tmp_path / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "sqlite", "path": "main.sqlite3"}}}))
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": "trip", "user_id": "alice", "memory": "In Paris this week",
                                "metadata": {"memdash_expires_at": past}}) + "\n"
                    + json.dumps({"id": "home", "user_id": "alice", "memory": "Lives in Lisbon"}) + "\n")
    assert cli.main(["import", "--config", str(config), str(rows), "main"]) == 0
    assert cli.main(["expire", "--config", str(config), "--store", "main"]) == 0
    assert "moved 1 expired memory of store 'main' to the trash" in capsys.readouterr().out
    out = tmp_path / "left.jsonl"
    assert cli.main(["export", "--config", str(config), "main", str(out)]) == 0
    assert [r.id for r in parse_jsonl(out.read_text().splitlines()).records] == ["home"]
