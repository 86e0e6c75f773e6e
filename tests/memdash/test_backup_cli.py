"""``memdash export`` / ``memdash import``: byte-identical round trips, whole-file validation, errors by line."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from memdash import backup
from memdash.cli import main
from memory_core.access import cli_actor
from memory_core.audit import AuditQuery, SqliteAuditLog
from memory_core.audit.writer import AuditedWriter
from memory_core.builder import MemoryBuilder
from memory_core.config import load_config, parse_config
from memory_core.records import MemoryFilter
from memory_core.transfer import parse_jsonl
from tests.helpers.dashboard import HOSTILE, SearchOnlyConfig  # noqa: F401  (registers the test store types)

ROOT = Path(__file__).resolve().parents[2]


def rows() -> list[dict]:
    """Records that exercise the format: unicode, hostile text, nested metadata, conversations, time zones,
    versions above 1, equal creation times (ordered by id), no optional fields."""
    base = [
        {"id": "a1", "user_id": "ann", "memory": "Ünïcode ✓ 日本語 \"quoted\"\nsecond line", "tags": ["x", "y"],
         "metadata": {"n": 1.25, "big": 2**53 + 1, "nested": {"list": [1, None, True]}, "empty": {}},
         "created_at": "2024-03-01T10:00:00+02:00", "updated_at": "2024-03-02T10:00:00.123456+00:00", "version": 7},
        {"id": "a0", "user_id": "ann", "memory": HOSTILE, "conversation": [{"role": "user", "content": "hi"},
                                                                           {"role": "assistant", "content": ""}],
         "created_at": "2024-03-01T08:00:00+00:00", "updated_at": "2024-03-01T08:00:00+00:00"},
        {"id": "b", "user_id": "<b>bob</b>", "memory": None, "conversation": [{"role": "user", "content": "only"}],
         "created_at": "2023-12-31T23:59:59.999999+00:00", "updated_at": "2024-01-01T00:00:00+00:00"},
    ]
    return base + [{"id": f"n{i:03d}", "user_id": f"u{i % 4}", "memory": f"note {i}", "tags": ["t"] if i % 2 else [],
                    "created_at": f"2024-02-{1 + i % 28:02d}T00:00:00+00:00",
                    "updated_at": "2024-05-01T00:00:00+00:00", "version": 1 + i % 3} for i in range(57)]


def write_rows(path: Path, data: list[dict] | None = None) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in data or rows()), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "memdash.yml"
    path.write_text(yaml.safe_dump({"memory": {
        "src": {"_type": "sqlite", "path": "src.sqlite3"}, "dst": {"_type": "sqlite", "path": "dst.sqlite3"},
        "plain": {"_type": "test_search_only"}}}))
    return path


def run(config: Path, *args: str) -> int:
    command, *rest = args
    return main([command, "--config", str(config), *rest])


def test_sqlite_round_trip_is_byte_identical(config: Path, tmp_path: Path) -> None:
    assert run(config, "import", str(write_rows(tmp_path / "in.jsonl")), "src", "--batch-size", "7") == 0
    assert run(config, "export", "src", str(tmp_path / "a.jsonl")) == 0
    assert run(config, "import", str(tmp_path / "a.jsonl"), "dst") == 0
    assert run(config, "export", "dst", str(tmp_path / "b.jsonl")) == 0
    first, second = (tmp_path / "a.jsonl").read_bytes(), (tmp_path / "b.jsonl").read_bytes()
    assert first == second and len(first.splitlines()) == len(rows())
    assert first.splitlines()[0].startswith(b'{"conversation": [{"content": "only"')  # oldest first
    exported = {r.id: r for r in parse_jsonl(first.decode().splitlines()).records}
    assert exported == {r.id: r for r in parse_jsonl((tmp_path / "in.jsonl").read_text().splitlines()).records}


async def _in_memory_round_trip(config_text: str, data: str, log: SqliteAuditLog) -> tuple[str, str]:
    async with MemoryBuilder(parse_config(config_text)) as builder:
        first, second = await builder.get_memory_client("one"), await builder.get_memory_client("two")
        await AuditedWriter(first, log, cli_actor(), "one").import_records(
            parse_jsonl(data.splitlines()).records, batch_size=5)
        out_a = io.StringIO()
        await backup.write_jsonl(first, out_a, MemoryFilter())
        await AuditedWriter(second, log, cli_actor(), "two").import_records(
            parse_jsonl(out_a.getvalue().splitlines()).records, batch_size=3)
        out_b = io.StringIO()
        await backup.write_jsonl(second, out_b, MemoryFilter())
    return out_a.getvalue(), out_b.getvalue()


def test_in_memory_round_trip_is_byte_identical_and_matches_sqlite(config: Path, tmp_path: Path) -> None:
    data = write_rows(tmp_path / "in.jsonl").read_text(encoding="utf-8")
    log = SqliteAuditLog(tmp_path / "audit.sqlite3")
    first, second = asyncio.run(_in_memory_round_trip(
        "memory:\n  one: {_type: in_memory}\n  two: {_type: in_memory}\n", data, log))
    log.close()
    assert first == second and first.count("\n") == len(rows())
    run(config, "import", str(tmp_path / "in.jsonl"), "src")
    run(config, "export", "src", str(tmp_path / "sqlite.jsonl"))
    assert (tmp_path / "sqlite.jsonl").read_text(encoding="utf-8") == first  # the same file whatever the store


def test_export_one_user_to_standard_output(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(config, "import", str(write_rows(tmp_path / "in.jsonl")), "src")
    capsys.readouterr()
    assert run(config, "export", "src", "-", "--user", "ann") == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["a0", "a1"]
    assert "exported 2 memories from store 'src' to standard output" in err


def test_invalid_rows_are_reported_by_line_and_nothing_is_written(config: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    good = json.dumps({"id": "ok", "user_id": "u", "memory": "fine"})
    lines = [good, "{not json", json.dumps({"memory": "no user"}), "", good.replace("fine", "again"),
             json.dumps({"id": "t", "user_id": "u", "created_at": "2024-01-01T00:00:00"})]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    assert run(config, "import", str(bad), "src") == 1
    err = capsys.readouterr().err
    assert f"{bad}:2: not valid JSON" in err and f"{bad}:3: field 'user_id'" in err
    assert f"{bad}:5: duplicate id ok" in err and f"{bad}:6: timestamps need a timezone" in err
    assert "4 of 5 rows" in err and "nothing imported" in err
    assert count(config, "src") == 0 and not (tmp_path / "memdash-audit.sqlite3").exists()
    assert run(config, "import", str(bad), "src", "--skip-invalid") == 0
    assert "skipping 4 invalid rows" in capsys.readouterr().err and count(config, "src") == 1


def test_many_invalid_rows_are_summarised(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("[]\n" * 50)
    assert run(config, "import", str(bad), "src") == 1
    err = capsys.readouterr().err
    assert err.count("expected a JSON object") == backup.SHOWN_ERRORS and "... and 30 more rows" in err


@pytest.mark.parametrize(("args", "code", "message"), [
    (("import", "missing.jsonl", "src"), 1, "cannot read missing.jsonl"),
    (("import", "in.jsonl", "nope"), 1, "no memory store named 'nope'"),
    (("import", "in.jsonl", "src", "--batch-size", "0"), 2, "must be a positive whole number"),
    (("export", "plain", "out.jsonl"), 1, "cannot list its memories"),
    (("export", "src", "no/such/dir/out.jsonl"), 1, "cannot write no/such/dir/out.jsonl"),
])
def test_mistakes_are_one_line_errors(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], code: int,
                                      message: str) -> None:
    monkeypatch.chdir(tmp_path)
    write_rows(tmp_path / "in.jsonl")
    assert run(config, *args) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_import_into_a_store_that_chooses_ids_warns(config: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "import", str(write_rows(tmp_path / "in.jsonl")), "plain") == 0
    assert "imported memories get new ones" in capsys.readouterr().err
    log = SqliteAuditLog(tmp_path / "memdash-audit.sqlite3")
    assert log.count(AuditQuery(store="plain", operation="add")) == len(rows())
    log.close()


def test_a_failed_export_leaves_the_previous_file(config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "backup.jsonl"
    target.write_text("previous backup\n")
    run(config, "import", str(write_rows(tmp_path / "in.jsonl")), "src")

    async def broken(*_args: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(backup, "write_jsonl", broken)
    assert run(config, "export", "src", str(target)) == 1
    assert f"cannot write {target}: disk full; it is unchanged" in capsys.readouterr().err
    assert target.read_text() == "previous backup\n" and sorted(p.name for p in tmp_path.glob(".backup*")) == []


def test_the_installed_command(tmp_path: Path) -> None:
    config = tmp_path / "sqlite.yml"
    config.write_text("memory:\n  src: {_type: sqlite, path: src.sqlite3}\n")
    write_rows(tmp_path / "in.jsonl")
    for args in (["import", "--config", str(config), str(tmp_path / "in.jsonl"), "src"],
                 ["export", "--config", str(config), "src", str(tmp_path / "out.jsonl")]):
        done = subprocess.run([sys.executable, "-m", "memdash", *args], capture_output=True, text=True,
                              timeout=120, cwd=ROOT)
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.jsonl").read_text().count("\n") == len(rows())


def count(config: Path, store: str) -> int:
    async def go() -> int:
        async with MemoryBuilder(load_config(config)) as builder:
            return await (await builder.get_memory_client(store)).count_records(MemoryFilter())
    return asyncio.run(go())


# --- ids that already exist: the repro (export, change one line, import) --------------------------------


def _export_and_change_one_line(config: Path, tmp_path: Path) -> tuple[Path, str]:
    run(config, "import", str(write_rows(tmp_path / "in.jsonl")), "src")
    run(config, "export", "src", str(tmp_path / "backup.jsonl"))
    lines = (tmp_path / "backup.jsonl").read_text(encoding="utf-8").splitlines()
    changed = json.loads(lines[5])
    original, changed["memory"] = changed["memory"], "edited in the file"
    lines[5] = json.dumps(changed)
    (tmp_path / "backup.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "backup.jsonl", original


def _memory(config: Path, store: str, memory_id: str) -> tuple[str | None, int]:
    async def get() -> tuple[str | None, int]:
        async with MemoryBuilder(load_config(config)) as builder:
            record = await (await builder.get_memory_client(store)).get_record(memory_id)
            return record.item.memory, record.version
    return asyncio.run(get())


def test_import_of_an_existing_id_writes_nothing_until_a_choice_is_made(config: Path, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    backup_file, original = _export_and_change_one_line(config, tmp_path)
    changed_id = json.loads(backup_file.read_text().splitlines()[5])["id"]
    stored = _memory(config, "src", changed_id)
    capsys.readouterr()
    assert run(config, "import", str(backup_file), "src") == 1
    err = capsys.readouterr().err
    assert f"{backup_file}:6: id {changed_id} exists in the store" in err
    assert f"{len(rows()) - 1} rows are in the store exactly as in the file: left as they are" in err
    assert "1 of the file's ids already exist in the store" in err and "Nothing was imported" in err
    assert "--on-existing skip|overwrite|new-ids" in err
    assert _memory(config, "src", changed_id) == stored and stored[0] == original


@pytest.mark.parametrize("choice", ["skip", "overwrite", "new-ids"])
def test_each_choice_for_an_existing_id_keeps_the_old_text_recoverable(config: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str],
                                                                       choice: str) -> None:
    backup_file, original = _export_and_change_one_line(config, tmp_path)
    changed_id = json.loads(backup_file.read_text().splitlines()[5])["id"]
    assert run(config, "import", str(backup_file), "src", "--on-existing", choice) == 0
    err = capsys.readouterr().err
    text, _ = _memory(config, "src", changed_id)
    log = SqliteAuditLog(tmp_path / "memdash-audit.sqlite3")
    entries = [e for e in log.entries(AuditQuery(store="src")) if e.memory_id == changed_id]
    log.close()
    if choice == "skip":
        assert text == original and "0 added, 1 skipped (their ids exist)" in err
    elif choice == "overwrite":
        assert text == "edited in the file" and "1 overwritten" in err
        assert (entries[-1].operation, entries[-1].before["memory"]) == ("update", original)  # revertible
    else:
        assert text == original and "1 added" in err and "1 of the added under new ids" in err
    assert all(e.operation != "add" or e.before is None for e in entries)


def test_a_row_no_store_can_keep_stops_the_import_before_anything_is_written(config: Path, tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]
                                                                            ) -> None:
    """The issue's repro: 600 valid rows and one lone surrogate used to pass validation, then 500 were written."""
    rows = [json.dumps({"id": f"r{i}", "user_id": "u", "memory": f"row {i}"}) for i in range(600)]
    rows.insert(100, '{"id": "bad", "user_id": "u", "memory": "\\ud800"}')
    (tmp_path / "hostile.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert run(config, "import", str(tmp_path / "hostile.jsonl"), "src") == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'hostile.jsonl'}:101: field 'memory' is not valid Unicode text" in err
    assert "1 of 601 rows" in err and count(config, "src") == 0
    assert not (tmp_path / "memdash-audit.sqlite3").exists()


def test_an_export_killed_midway_is_cleaned_up_by_the_next_one(config: Path, tmp_path: Path) -> None:
    """kill -9 of an export left hidden .partial files behind on d5b94e4, forever."""
    run(config, "import", str(write_rows(tmp_path / "in.jsonl")), "src")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process id that no longer runs, as after kill -9
    abandoned = tmp_path / f".backup.jsonl.{dead.pid}.x1y2.partial"
    abandoned.write_text("half an export")
    other = tmp_path / f".backup.jsonl.{os.getpid()}.live.partial"  # an export still running (this process)
    other.write_text("in progress")
    assert run(config, "export", "src", str(tmp_path / "backup.jsonl")) == 0
    assert not abandoned.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.glob(".backup.jsonl.*")) == [other.name]


def test_an_import_that_fails_midway_says_which_lines_are_in_and_resumes(config: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str],
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from memory_core.audit.writer import AuditedWriter
    from memory_core.errors import StoreUnavailableError

    source = write_rows(tmp_path / "in.jsonl")
    real, calls = AuditedWriter.import_batch, [0]

    async def failing_third(self, records, **kwargs):  # the store goes away during the third batch
        calls[0] += 1
        if calls[0] == 3:
            raise StoreUnavailableError("disk full")
        await real(self, records, **kwargs)

    monkeypatch.setattr(AuditedWriter, "import_batch", failing_third)
    assert run(config, "import", str(source), "src", "--batch-size", "10") == 1
    err = capsys.readouterr().err
    assert f"import stopped: disk full; rows up to {source}:20 (20 of {len(rows())}) were written and audited" in err
    assert "Run the same command again to finish" in err and count(config, "src") == 20
    monkeypatch.setattr(AuditedWriter, "import_batch", real)
    assert run(config, "import", str(source), "src", "--batch-size", "10") == 0
    assert f"{len(rows()) - 20} added" in capsys.readouterr().err and count(config, "src") == len(rows())
