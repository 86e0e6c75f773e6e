"""Registration (``name=``, full types, entry points named for their types and their extras, plugins) and the
builder's lifecycle."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import types
from collections.abc import AsyncIterator
from importlib.metadata import distribution
from pathlib import Path

import pytest

from memory_core.builder import MemoryBuilder
from memory_core.config import load_config, parse_config
from memory_core.errors import ConfigError, NotFoundError, StoreUnavailableError
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryConfig, InMemoryEditor
from memory_core.registry import GLOBAL_REGISTRY, Registered, TypeRegistry, register_memory
from memory_core.typed import EmbedderBaseConfig, MemoryBaseConfig

ROOT = Path(__file__).resolve().parents[2]
EVENTS: list[str] = []


class EventStoreConfig(MemoryBaseConfig, name="rb_event_store"):
    """A test store that records when it opens and closes, and can be told to fail or to write a file."""

    label: str = "x"
    fail: bool = False
    delay: float = 0.0
    path: str | None = None


@register_memory(EventStoreConfig)
async def _event_store(config: EventStoreConfig, builder: MemoryBuilder) -> AsyncIterator[InMemoryEditor]:
    EVENTS.append(f"open {config.label}")
    await asyncio.sleep(config.delay)
    if config.fail:
        raise RuntimeError(f"backend {config.label} is down")
    if config.path:
        builder.resolve_path(config.path).write_text("store file")
    try:
        yield InMemoryEditor()
    finally:
        EVENTS.append(f"close {config.label}")


@pytest.fixture(autouse=True)
def _clear_events() -> None:
    EVENTS.clear()


def stores(**entries: str) -> str:
    """A config whose memory section maps each name to a flow-style entry."""
    return "memory:\n" + "".join(f"  {name}: {{{body}}}\n" for name, body in entries.items())


# --- registration ---------------------------------------------------------------------------------------
def test_duplicate_registration_is_an_error() -> None:
    class Twice(MemoryBaseConfig, name="rb_twice"):
        pass

    async def factory(config: Twice, builder: object) -> AsyncIterator[InMemoryEditor]:
        yield InMemoryEditor()

    register_memory(Twice)(factory)
    with pytest.raises(ValueError, match=r"rb_twice.*already registered"):
        register_memory(Twice)(factory)


def test_config_class_needs_a_name_and_the_right_base() -> None:
    class Nameless(MemoryBaseConfig):
        pass

    class Embedderish(EmbedderBaseConfig, name="rb_not_a_store"):
        pass

    async def factory(config: object, builder: object) -> AsyncIterator[None]:
        yield None

    with pytest.raises(TypeError, match="needs a name"):
        register_memory(Nameless)(factory)
    with pytest.raises(TypeError, match="must subclass MemoryBaseConfig"):
        register_memory(Embedderish)(factory)


def test_full_type_is_package_slash_name_and_serialises_as_type() -> None:
    assert InMemoryConfig.full_type == "memory_core.providers/in_memory"
    assert InMemoryConfig().type == "in_memory"
    dumped = InMemoryConfig().model_dump(by_alias=True)
    assert dumped["_type"] == "in_memory" and "type" not in dumped
    assert EventStoreConfig(label="a").model_dump(by_alias=True)["_type"] == "rb_event_store"


def test_same_short_name_in_two_packages_needs_the_full_type(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = TypeRegistry()
    for package in ("pkg_one", "pkg_two"):
        module = types.ModuleType(f"{package}.stores")
        module.__package__ = package
        monkeypatch.setitem(sys.modules, module.__name__, module)
    first = type("First", (MemoryBaseConfig,), {"__module__": "pkg_one.stores"}, name="dup")
    second = type("Second", (MemoryBaseConfig,), {"__module__": "pkg_two.stores"}, name="dup")
    for config_type in (first, second):
        registry.memory.add(Registered(config_type=config_type, build_fn=_event_store))
    with pytest.raises(ConfigError, match=r"ambiguous.*pkg_one/dup, pkg_two/dup") as info:
        parse_config("memory:\n  m: {_type: dup}\n", registry=registry)
    assert info.value.field == "memory.m._type"
    assert type(parse_config("memory:\n  m: {_type: pkg_two/dup}\n", registry=registry).memory["m"]) is second


def _write_plugin(site: Path) -> None:
    package = site / "memdash_fake_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "register.py").write_text(textwrap.dedent("""
        from memory_core.providers.in_memory import InMemoryEditor
        from memory_core.registry import register_memory
        from memory_core.typed import MemoryBaseConfig


        class FakePluginConfig(MemoryBaseConfig, name="fake_plugin_store"):
            greeting: str = "hi"


        @register_memory(FakePluginConfig)
        async def build(config, builder):
            yield InMemoryEditor()
        """))
    (package / "broken.py").write_text("raise RuntimeError('plugin bug')\n")
    dist = site / "memdash_fake_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: memdash-fake-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[memdash.plugins]\nbroken = memdash_fake_plugin.broken\nfake = memdash_fake_plugin.register\n")


async def test_entry_point_plugin_is_loaded_on_demand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    _write_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(GLOBAL_REGISTRY, "_plugins_loaded", False)
    with caplog.at_level(logging.ERROR, logger="memory_core.registry"):
        config = parse_config("memory:\n  p: {_type: fake_plugin_store, greeting: hello}\n")
    assert "broken" in caplog.text and "failed to load" in caplog.text  # a broken plugin is logged, not fatal
    store_config = config.memory["p"]
    assert type(store_config).full_type == "memdash_fake_plugin/fake_plugin_store"
    assert store_config.greeting == "hello"
    full = parse_config("memory:\n  p: {_type: memdash_fake_plugin/fake_plugin_store}\n").memory["p"]
    assert type(full) is type(store_config)
    async with MemoryBuilder(config) as builder:
        editor = await builder.get_memory_client("p")
        await editor.add_items([MemoryItem(user_id="u", memory="plugins work")])
        assert [i.memory for i in await editor.search("plugins", user_id="u")] == ["plugins work"]


def test_missing_extra_names_the_pip_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "memdash_fake_backend.py").write_text("import memdash_absent_driver\n")
    dist = tmp_path / "memdash_fake_backend-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: memdash-fake-backend\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[memdash.memory]\nfake_backend = memdash_fake_backend [fakeextra]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as info:
        parse_config("memory:\n  m:\n    _type: fake_backend\n")
    assert "pip install 'memdash-fake-backend[fakeextra]'" in str(info.value)
    assert "memdash_absent_driver" in str(info.value)
    assert (info.value.line, info.value.field) == (3, "memory.m._type")


def test_memdash_imports_only_the_configured_types_and_names_their_extra() -> None:
    script = """
import sys
sys.modules["psycopg"] = None  # as if memdash[postgres] were not installed
from memory_core.config import parse_config
from memory_core.errors import ConfigError
parse_config("memory: {m: {_type: sqlite}}\\nembedders: {e: {_type: hashing}}")
print(sorted(m for m in sys.modules if m.startswith(("memory_core.providers.", "memory_core.embedders.",
                                                        "memory_core.nat"))))
try:
    parse_config("memory: {m: {_type: postgres}}")
except ConfigError as exc:
    print(exc)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    loaded, error = done.stdout.splitlines()
    assert "memory_core.providers.sqlite" in loaded and "memory_core.embedders.hashing" in loaded
    for other in ("providers.postgres", "providers.redis", "providers.in_memory", "embedders.local", "nat"):
        assert f"memory_core.{other}" not in loaded
    assert "_type 'postgres' needs a package that is not installed (psycopg)" in error
    assert "pip install 'memdash[postgres]'" in error


def test_each_memdash_type_is_named_once_by_its_entry_point() -> None:
    """pyproject.toml's entry points and the config classes' ``name=`` agree: each of memdash's entry points
    registers the type it is named for, from its module, and each type memdash registers has its entry point."""
    entry_points = distribution("memdash").entry_points
    for kind in (GLOBAL_REGISTRY.memory, GLOBAL_REGISTRY.embedders):
        declared = {ep.name: ep for ep in entry_points.select(group=kind.group)}
        assert declared, f"memdash is installed without its {kind.group} entry points: pip install -e ."
        for name, ep in declared.items():
            try:
                found = GLOBAL_REGISTRY.resolve(kind, name)
            except ConfigError as exc:  # a light venv (EXTRAS=dev) lacks some extras; CI has them all
                assert ep.extras and "pip install 'memdash[" in exc.message, exc.message
                assert not os.environ.get("MEMDASH_REQUIRE_ALL"), exc.message
                continue
            assert found.local_name == name
            assert f"{found.config_type.__module__}.".startswith(f"{ep.module}.")
        ours = {r.local_name for r in kind.entries.values()
                if r.config_type.__module__.startswith("memory_core.")
                and not r.config_type.__module__.startswith("memory_core.nat.")}  # the toolkit's types
        assert ours <= set(declared)


def test_unknown_type_lists_builtins_and_registered() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(stores(m="_type: nope"))
    for known in ("in_memory", "sqlite", "rb_event_store"):
        assert known in str(info.value)


# --- builder -----------------------------------------------------------------------------------------------
async def test_unknown_store_name_lists_configured_names() -> None:
    async with MemoryBuilder(parse_config(stores(beta="_type: in_memory", alpha="_type: in_memory"))) as builder:
        with pytest.raises(NotFoundError) as info:
            await builder.get_memory_client("gamma")
    assert "gamma" in str(info.value) and "configured: alpha, beta" in str(info.value)


async def test_builder_closes_every_client_at_exit() -> None:
    config = parse_config(stores(a="_type: rb_event_store, label: a", b="_type: rb_event_store, label: b",
                                 unused="_type: rb_event_store, label: unused"))
    async with MemoryBuilder(config) as builder:
        await builder.get_memory_client("a")
        await builder.get_memory_client("b")
        assert EVENTS == ["open a", "open b"]
    assert EVENTS == ["open a", "open b", "close b", "close a"]


async def test_a_failing_store_does_not_prevent_others() -> None:
    config = parse_config(stores(bad="_type: rb_event_store, label: bad, fail: true",
                                 good="_type: rb_event_store, label: good"))
    async with MemoryBuilder(config) as builder:
        with pytest.raises(StoreUnavailableError, match=r"'bad'.*backend bad is down"):
            await builder.get_memory_client("bad")
        good = await builder.get_memory_client("good")
        await good.add_items([MemoryItem(user_id="u", memory="still works")])
        with pytest.raises(StoreUnavailableError):  # not cached as half-built: it is tried again
            await builder.get_memory_client("bad")
    assert EVENTS == ["open bad", "open good", "open bad", "close good"]


async def test_concurrent_get_builds_once() -> None:
    async with MemoryBuilder(parse_config(stores(m="_type: rb_event_store, label: m, delay: 0.02"))) as builder:
        clients = await asyncio.gather(*(builder.get_memory_client("m") for _ in range(10)))
    assert all(c is clients[0] for c in clients)
    assert EVENTS == ["open m", "close m"]


async def test_add_memory_client_like_the_toolkit() -> None:
    async with MemoryBuilder() as builder:
        editor = await builder.add_memory_client("mem", EventStoreConfig(label="code"))
        assert await builder.get_memory_client("mem") is editor
        assert builder.get_memory_client_config("mem") == EventStoreConfig(label="code")
        with pytest.raises(ValueError, match="already exists"):
            await builder.add_memory_client("mem", InMemoryConfig())
    assert EVENTS == ["open code", "close code"]


async def test_relative_paths_resolve_against_the_config_file(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, elsewhere = tmp_path / "conf", tmp_path / "elsewhere"
    (config_dir / "data").mkdir(parents=True)
    elsewhere.mkdir()
    (config_dir / "memdash.yml").write_text(stores(m="_type: rb_event_store, path: data/store.db"))
    monkeypatch.chdir(elsewhere)
    async with MemoryBuilder(load_config(Path("..") / "conf" / "memdash.yml")) as builder:
        await builder.get_memory_client("m")
        assert builder.resolve_path("/abs/file.db") == Path("/abs/file.db")
        assert builder.resolve_path("~/x.db") == Path.home() / "x.db"
    assert (config_dir / "data" / "store.db").read_text() == "store file"
    assert not (elsewhere / "data").exists()
