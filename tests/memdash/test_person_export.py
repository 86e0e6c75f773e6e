"""``memdash person``: everything memdash holds about one user, for an access request."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from memdash import cli
from memory_core.audit import AuditQuery, safety_settings
from memory_core.config import load_config


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "memdash.yml"
    config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "sqlite", "path": "main.sqlite3"}}}))
    return config


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_person_export_holds_the_users_memories_and_history_and_nobody_elses(tmp_path, capsys) -> None:
    config = _config(tmp_path)
    rows = [{"id": f"a{i}", "user_id": "alice", "memory": f"Alice fact {i}"} for i in range(3)]
    rows += [{"id": "b0", "user_id": "bob", "memory": "Bob fact"}]
    assert cli.main(["import", "--config", str(config), str(_jsonl(tmp_path / "in.jsonl", rows)), "main"]) == 0
    out = tmp_path / "alice.jsonl"
    assert cli.main(["person", "--config", str(config), "main", "alice", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["kind"] == "person" and (lines[0]["store"], lines[0]["user_id"]) == ("main", "alice")
    assert "reads made before this version" in lines[0]["not_included"][0]
    memories = [line["memory"] for line in lines if line["kind"] == "memory"]
    assert sorted(m["id"] for m in memories) == ["a0", "a1", "a2"]
    entries = [line["entry"] for line in lines if line["kind"] == "audit"]
    assert sorted(e["memory_id"] for e in entries) == ["a0", "a1", "a2"]  # their adds, with after-images
    assert {e["operation"] for e in entries} == {"add"} and all(e["after"]["user_id"] == "alice" for e in entries)
    assert "Bob" not in out.read_text()
    assert "wrote 3 memories and 3 audit entries of user 'alice'" in capsys.readouterr().err
    log = safety_settings(load_config(config)).open_audit_log()
    try:
        [export] = list(log.entries(AuditQuery(operation="export", user_id="alice")))
    finally:
        log.close()
    assert export.note.startswith("everything about the user: 3 memories and 3 audit entries")


def test_person_export_of_an_unknown_user_is_empty_but_says_so(tmp_path, capsys) -> None:
    config = _config(tmp_path)
    out = tmp_path / "nobody.jsonl"
    assert cli.main(["person", "--config", str(config), "main", "nobody", str(out)]) == 0
    [header] = [json.loads(line) for line in out.read_text().splitlines()]
    assert header["kind"] == "person" and header["user_id"] == "nobody"
    assert "wrote 0 memories and 0 audit entries of user 'nobody'" in capsys.readouterr().err
