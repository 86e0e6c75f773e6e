"""The demo data set is fixed and valid, and seeding fills a store once only."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from memory_core.access import cli_actor
from memory_core.audit import AuditQuery, SqliteAuditLog
from memory_core.audit.writer import AuditedWriter, cli_writer
from memory_core.builder import MemoryBuilder
from memory_core.config import load_config, parse_config
from memory_core.demo import DEMO_USERS, demo_ages, demo_items, is_empty, seed, seed_if_empty
from memory_core.errors import NotFoundError
from memory_core.interfaces import MemoryEditor
from memory_core.items import validate_items
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.records import MemoryFilter, utcnow

ROOT = Path(__file__).resolve().parents[2]


def test_demo_items_are_deterministic_and_fresh() -> None:
    first, second = demo_items(), demo_items()
    assert [i.model_dump() for i in first] == [i.model_dump() for i in second]
    first[0].tags.append("changed")
    assert "changed" not in demo_items()[0].tags


def test_demo_items_are_valid_memory_items() -> None:
    items = demo_items()
    assert 35 <= len(items) <= 45
    assert validate_items(items) == items  # the rules every store applies before writing
    for item in items:
        assert MemoryItem.model_validate(item.model_dump()) == item
        assert item.memory and item.tags and item.similarity_score is None
        assert item.metadata["source"] in {"chat", "onboarding"} and item.metadata["session"]
        if item.conversation:
            assert 2 <= len(item.conversation) <= 4
            assert [m["role"] for m in item.conversation][:2] == ["user", "assistant"]
    assert sorted({i.user_id for i in items}) == sorted(DEMO_USERS) and len(DEMO_USERS) == 5
    assert {"preference", "diet", "travel", "work"} <= {t for i in items for t in i.tags}
    assert sum(bool(i.conversation) for i in items) >= 8
    assert len(demo_ages()) == len(items)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[SqliteAuditLog]:
    audit_log = SqliteAuditLog(tmp_path / "audit.sqlite3")
    yield audit_log
    audit_log.close()


def writer(editor: MemoryEditor, log: SqliteAuditLog) -> AuditedWriter:
    return AuditedWriter(editor, log, cli_actor(), "demo")


async def test_seed_if_empty_seeds_once_and_is_audited(log: SqliteAuditLog) -> None:
    config = parse_config("memory:\n  demo:\n    _type: in_memory\n")
    async with MemoryBuilder(config) as builder:
        editor = await builder.get_memory_client("demo")
        assert await is_empty(editor)
        assert await seed_if_empty(writer(editor, log)) == len(demo_items())
        assert await seed_if_empty(writer(editor, log)) == 0
        added = list(log.entries(AuditQuery(operation="add")))
        assert len(added) == len(demo_items()) and len({e.batch for e in added}) == 1
        assert added[0].actor.startswith("cli:") and added[0].after["memory"] == demo_items()[0].memory
        assert await editor.count_records(MemoryFilter()) == len(demo_items())
        page = await editor.list_records(MemoryFilter(), limit=100)
        stored = {(r.user_id, r.item.memory) for r in page.records}
        assert stored == {(i.user_id, i.memory) for i in demo_items()}
        times = [r.created_at for r in page.records]
        assert len(set(times)) == len(times) and max(times) <= utcnow()  # spread over the past weeks
        hits = await editor.search("vegetarian", top_k=1, user_id="alice")
        assert hits and "vegetarian" in (hits[0].memory or "")


class _ToolkitOnly(MemoryEditor):
    """A store with only the toolkit's three methods: no counting, no record import."""

    def __init__(self) -> None:
        self.inner = InMemoryEditor()

    async def add_items(self, items: list[MemoryItem], **kwargs) -> None:
        await self.inner.add_items(items, **kwargs)

    async def search(self, query: str, top_k: int = 5, **kwargs) -> list[MemoryItem]:
        return await self.inner.search(query, top_k, **kwargs)

    async def remove_items(self, **kwargs) -> None:
        await self.inner.remove_items(**kwargs)


async def test_seed_if_empty_without_count_uses_search(log: SqliteAuditLog) -> None:
    editor = _ToolkitOnly()
    assert await seed_if_empty(writer(editor, log)) == len(demo_items())
    assert await seed_if_empty(writer(editor, log)) == 0
    assert len(list(log.entries(AuditQuery(operation="add", store="demo")))) == len(demo_items())
    await editor.inner.remove_items(user_id="alice")
    assert not await is_empty(editor)  # the other demo users are still there


async def test_unknown_data_set(log: SqliteAuditLog) -> None:
    with pytest.raises(NotFoundError, match="known: demo"):
        await seed(writer(InMemoryEditor(), log), "nope")


async def test_demo_config_seeds_its_sqlite_file_once(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    shutil.copy(ROOT / "configs" / "demo.yml", tmp_path / "configs" / "demo.yml")
    config = load_config(tmp_path / "configs" / "demo.yml")
    assert config.sections["memdash"]["seed"] == {"store": "demo", "data": "demo"}
    assert config.sections["functions"]["add_memory"]["_type"] == "add_memory"
    for expected in (len(demo_items()), 0):
        async with cli_writer(config, "demo") as seeder:
            assert await seed_if_empty(seeder) == expected
    audit = SqliteAuditLog(tmp_path / "data" / "memdash-audit.sqlite3")  # the config's own audit log
    assert audit.count(AuditQuery(store="demo", operation="add")) == len(demo_items())
    audit.close()
    assert (tmp_path / "data" / "demo.sqlite3").is_file()


def test_demo_config_functions_are_toolkit_memory_tools() -> None:
    from memory_core.tools import AddToolConfig, GetToolConfig

    functions = yaml.safe_load((ROOT / "configs" / "demo.yml").read_text(encoding="utf-8"))["functions"]
    assert AddToolConfig.model_validate(functions["add_memory"]).memory == "demo"
    assert GetToolConfig.model_validate(functions["get_memory"]).user_id == "alice"
