"""memdash's stores in toolkit workflows: the toolkit (1.9) loads a YAML file whose memory is a ``memdash_*`` store
and its own ``add_memory`` / ``get_memory`` / ``delete_memory`` tools write, find and delete memories that the
dashboard shows, and the other way round; the same file opens in memdash unchanged (``configs/toolkit-*.yml``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.dashboard import Dash, ok
from tests.helpers.servers_postgres import pgvector_server  # noqa: F401 - fixture
from tests.helpers.toolkit import require_toolkit

require_toolkit()

from nat.builder.workflow_builder import WorkflowBuilder  # noqa: E402
from nat.cli.type_registry import GlobalTypeRegistry  # noqa: E402
from nat.runtime.loader import load_config as toolkit_load_config  # noqa: E402

from dashboard.services import memories  # noqa: E402
from memdash import cli  # noqa: E402
from memory_core import provenance  # noqa: E402
from memory_core.access import LOCAL_ADMIN  # noqa: E402
from memory_core.config import load_config, parse_config  # noqa: E402
from memory_core.errors import ConfigError  # noqa: E402
from memory_core.models import MemoryItem  # noqa: E402
from memory_core.nat import resolver  # noqa: E402
from memory_core.providers.sqlite import SqliteMemoryConfig  # noqa: E402
from memory_core.records import MemoryPatch  # noqa: E402
from memory_core.tools import ADDED, DELETED  # noqa: E402
from tests.helpers.nat_words_embedder import WordsEmbedderConfig  # noqa: E402 - registers the toolkit-only nat_test_words

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "configs").glob("toolkit-*.yml"))
STORE = "agent_memory"  # the store of configs/toolkit-sqlite.yml
FOUND = "Memories as a JSON: \n"


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A byte-for-byte copy of configs/toolkit-sqlite.yml (memdash writes its audit log beside its config), with
    its database in the test's folder."""
    monkeypatch.setenv("MEMDASH_TOOLKIT_DB", str(tmp_path / "agent.sqlite3"))
    return Path(shutil.copyfile(ROOT / "configs" / "toolkit-sqlite.yml", tmp_path / "toolkit-sqlite.yml"))


@pytest.fixture
def dash(example: Path) -> Iterator[Dash]:
    made = Dash(example)
    yield made
    made.close()


@contextlib.asynccontextmanager
async def toolkit(config_file: Path) -> AsyncIterator[WorkflowBuilder]:
    """The toolkit's own loader and builder on a file (its workflow is a memory tool: no LLM needed)."""
    async with WorkflowBuilder.from_config(toolkit_load_config(config_file)) as builder:
        yield builder


async def call(builder: WorkflowBuilder, function: str, payload: dict[str, Any]) -> str:
    return await (await builder.get_function(function)).ainvoke(payload)


async def found(builder: WorkflowBuilder, query: str, top_k: int = 5) -> list[dict[str, Any]]:
    answer = await call(builder, "get_memory", {"query": query, "top_k": top_k})
    assert answer.startswith(FOUND), answer
    return json.loads(answer.removeprefix(FOUND))


def test_memdash_types_are_registered_in_the_toolkit() -> None:
    toolkit_load_config(EXAMPLES[0])  # loads the toolkit's plugins, memdash's entry point among them
    registry = GlobalTypeRegistry.get()
    memory = {i.full_type for i in registry.get_registered_memorys()}
    embedders = {i.full_type for i in registry.get_registered_embedder_providers()}
    assert {f"memory_core.nat/memdash_{n}" for n in ("in_memory", "sqlite", "postgres", "redis", "mem0", "zep")} \
        <= memory
    assert {f"memory_core.nat/memdash_{n}" for n in ("hashing", "local_minilm", "openai", "nim")} <= embedders
    assert "nat.plugins.zep_cloud/zep_memory" in memory  # the toolkit's own, next to memdash's memdash_zep


@pytest.mark.parametrize("type_name", ["memdash_sqlite", "memory_core.nat/memdash_sqlite", "sqlite"])
def test_memdash_resolves_its_toolkit_names(type_name: str) -> None:
    config = parse_config(f"memory:\n  m: {{_type: {type_name}, path: x.db}}\n")
    assert type(config.memory["m"]) is SqliteMemoryConfig and not config.warnings


def test_without_the_toolkit_an_unknown_type_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolver, "available", lambda: False)
    with pytest.raises(ConfigError, match=r"unknown memory _type 'acme_vendor_memory'.*memdash\[nat\]"):
        parse_config("memory:\n  m: {_type: acme_vendor_memory}\n")


def test_without_the_toolkit_memdash_imports_and_loads_its_toolkit_names() -> None:
    """The entry-point module imports (and registers nothing) where ``nat`` cannot be imported; memdash still reads
    ``memdash_*`` names and says what an unknown type needs."""
    script = """
import sys
sys.modules["nat"] = None  # as if the toolkit were not installed
import memory_core.nat.register
assert "memory_core.nat.components" not in sys.modules
from memory_core.config import parse_config
from memory_core.errors import ConfigError
assert type(parse_config("memory: {m: {_type: memdash_in_memory}}").memory["m"]).__name__ == "InMemoryConfig"
try:
    parse_config("memory: {m: {_type: memmachine_memory}}")
except ConfigError as exc:
    print(exc)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "unknown memory _type 'memmachine_memory'" in done.stdout and "memdash[nat]" in done.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads_in_the_toolkit_and_in_memdash(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MEMDASH_TOOLKIT_DB", str(tmp_path / "agent.sqlite3"))
    theirs = toolkit_load_config(path)
    ours = load_config(path)
    assert set(ours.memory) == set(theirs.memory) and set(ours.embedders) == set(theirs.embedders)
    for name, entry in theirs.memory.items():
        assert type(entry).full_type.startswith("memory_core.nat/memdash_")
        assert entry.model_dump() == {**ours.memory[name].model_dump(), "type": entry.type}
    assert not ours.warnings
    assert cli.main(["check", "--config", str(path)]) == 0
    assert f"{path}: OK" in capsys.readouterr().out


async def test_toolkit_tools_write_what_the_dashboard_shows(example: Path, dash: Dash) -> None:
    async with toolkit(example) as agent:
        tea = {"memory": "Alice drinks green tea every morning", "tags": ["diet"],
               "metadata": {"source": {"app": "chat", "turns": [3, 4]}, "lang": "en"}}
        assert await call(agent, "add_memory", tea) == ADDED
        chat = [{"role": "user", "content": "I moved to Lisbon"}, {"role": "assistant", "content": "Olá!"}]
        assert await call(agent, "add_memory", {"conversation": chat}) == ADDED
        [hit] = await found(agent, "green tea", top_k=1)
        mine = {key: value for key, value in hit["metadata"].items() if key not in provenance.KEYS}
        assert (hit["memory"], hit["tags"], mine, hit["user_id"]) == (tea["memory"], ["diet"], tea["metadata"], "alice")
        assert hit["metadata"][provenance.FUNCTION] == "add_memory"  # the toolkit's Context named the tool
        assert dt.datetime.fromisoformat(hit["metadata"][provenance.WRITTEN_AT]) <= dt.datetime.now(dt.UTC)

        records = {r.item.memory: r for r in dash.records(STORE, user_id="alice")}
        assert set(records) == {tea["memory"], None}
        assert records[None].item.conversation == chat
        assert records[tea["memory"]].item.metadata == hit["metadata"]
        at = ok(dash.app("browse", store=STORE, user="alice").run())
        assert tea["memory"] in at.dataframe[0].value["memory"].tolist()

        edited = records[tea["memory"]]
        memories.update_memory(dash.hub, LOCAL_ADMIN, STORE, edited.id, MemoryPatch(tags=["diet", "morning"]),
                               expected_version=edited.version)
        assert (await found(agent, "green tea", top_k=1))[0]["tags"] == ["diet", "morning"]

        assert await call(agent, "delete_memory", {}) == DELETED
        assert dash.records(STORE, user_id="alice") == []


async def test_what_the_dashboard_adds_the_toolkit_finds(example: Path, dash: Dash) -> None:
    memories.add_memory(dash.hub, LOCAL_ADMIN, STORE, MemoryItem(user_id="alice", memory="Alice plays chess on "
                                                                 "Sundays", tags=["hobby"], metadata={"n": {"k": 1}}))
    memories.add_memory(dash.hub, LOCAL_ADMIN, STORE, MemoryItem(user_id="bob", memory="Bob plays chess too"))
    async with toolkit(example) as agent:
        hits = await found(agent, "chess")
        assert [(h["memory"], h["tags"], h["metadata"], h["user_id"]) for h in hits] == [
            ("Alice plays chess on Sundays", ["hobby"], {"n": {"k": 1}}, "alice")]  # only the configured user's
        [record] = dash.records(STORE, user_id="alice")
        memories.delete_memories(dash.hub, LOCAL_ADMIN, STORE, [record.id])
        assert await found(agent, "chess") == []


async def test_user_id_resolver(example: Path) -> None:
    data = yaml.safe_load(example.read_text())
    for function in data["functions"].values():
        del function["user_id"]
        function["user_id_resolver"] = "tests.helpers.toolkit.current_user"
    resolved = example.with_name("resolver.yml")
    resolved.write_text(yaml.safe_dump({k: v for k, v in data.items() if k != "workflow"}
                                       | {"workflow": data["functions"]["get_memory"]}))
    assert cli.main(["check", "--config", str(resolved)]) == 0
    dash = Dash(resolved)
    try:
        async with toolkit(resolved) as agent:
            await call(agent, "add_memory", {"memory": "Bob's memory, from the resolver"})
            assert [r.item.memory for r in dash.records(STORE, user_id="resolved-bob")] == [
                "Bob's memory, from the resolver"]
            assert [h["user_id"] for h in await found(agent, "resolver")] == ["resolved-bob"]
    finally:
        dash.close()


def _store_entry(kind: str, tmp_path: Path, dsn: str) -> dict[str, Any]:
    return {"in_memory": {"_type": "memdash_in_memory"},
            "sqlite": {"_type": "memdash_sqlite", "path": str(tmp_path / "s.sqlite3"), "embedder": "words"},
            "postgres": {"_type": "memdash_postgres", "dsn": dsn, "schema": f"t_{uuid.uuid4().hex[:12]}",
                         "embedder": "words"}}[kind]


@pytest.mark.parametrize("kind", ["in_memory", "sqlite", "postgres"])
async def test_each_memdash_store_in_a_toolkit_workflow(kind: str, tmp_path: Path, request: pytest.FixtureRequest,
                                                        ) -> None:
    dsn = request.getfixturevalue("pgvector_server") if kind == "postgres" else ""
    tool = {"memory": "mem", "user_id": "carol"}
    config = {"embedders": {"words": {"_type": "memdash_hashing", "dimension": 64}},
              "memory": {"mem": _store_entry(kind, tmp_path, dsn)},
              "functions": {name: {"_type": name, **tool} for name in ("add_memory", "get_memory", "delete_memory")},
              "workflow": {"_type": "get_memory", **tool}}
    path = tmp_path / "workflow.yml"
    path.write_text(yaml.safe_dump(config))
    async with toolkit(path) as agent:
        await call(agent, "add_memory", {"memory": "Carol collects vinyl records", "tags": ["hobby"]})
        assert [h["memory"] for h in await found(agent, "vinyl")] == ["Carol collects vinyl records"]
        if kind != "in_memory":  # a file or a server memdash opens too
            dash = Dash(path)
            try:
                assert [r.item.tags for r in dash.records("mem", user_id="carol")] == [["hobby"]]
            finally:
                dash.close()
        assert await call(agent, "delete_memory", {}) == DELETED
        assert await found(agent, "vinyl") == []


async def test_a_toolkit_only_embedder_serves_a_memdash_store_on_both_sides(tmp_path: Path) -> None:
    """``embedder:`` names a toolkit embedder: the toolkit builds it for memdash_sqlite, and memdash builds it
    through the toolkit for sqlite; both name its vector space alike, so neither side re-embeds the other's."""
    tool = {"memory": "mem", "user_id": "erin"}
    db = tmp_path / "words.sqlite3"
    path = tmp_path / "words.yml"
    path.write_text(yaml.safe_dump({
        "embedders": {"words": {"_type": "nat_test_words", "dimension": 32}},
        "memory": {"mem": {"_type": "memdash_sqlite", "path": str(db), "embedder": "words"}},
        "functions": {name: {"_type": name, **tool} for name in ("add_memory", "get_memory")},
        "workflow": {"_type": "get_memory", **tool}}))
    async with toolkit(path) as agent:
        await call(agent, "add_memory", {"memory": "Erin restores old bicycles"})
    space = _vector_space(db)
    assert space.startswith(f"{WordsEmbedderConfig.full_type}|")
    dash = Dash(path)
    try:
        assert load_config(path).embedders["words"].type == "nat_test_words"
        [hit] = memories.search_memories(dash.hub, "mem", user_id="erin", query="bicycles restoration")
        assert hit.item.memory == "Erin restores old bicycles" and hit.parts.get("vector", 0) > 0
        assert _vector_space(db) == space
    finally:
        dash.close()


def _vector_space(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return json.loads(conn.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()[0])["model"]
