"""Loading toolkit-style YAML: sections, ``_type`` forms, environment variables, secrets and errors."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Literal

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from memory_core.config import MemdashConfig, load_config, parse_config
from memory_core.errors import ConfigError
from memory_core.providers.in_memory import InMemoryConfig
from memory_core.registry import register_memory
from memory_core.typed import MemoryBaseConfig


class Options(BaseModel):
    retries: int = 1
    mode: Literal["fast", "safe"] = "fast"


class ConfigTestStore(MemoryBaseConfig, name="config_test_store"):
    """A test-only store config with a required field, a secret and a nested model."""

    endpoint: str
    api_key: SecretStr | None = None
    options: Options = Options()


@register_memory(ConfigTestStore)
async def _config_test_store(config: ConfigTestStore, builder: object):
    yield None


def yml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


TOOLKIT_FILE = yml("""
    general:
      use_uvloop: true
      telemetry:
        logging:
          console: {_type: console, level: WARN}
    llms:
      nim_llm: {_type: nim, model_name: meta/llama-3.1-70b-instruct, temperature: 0.0}
    embedders:
      nv-embedqa-e5-v5: {_type: nim, model_name: nvidia/nv-embedqa-e5-v5}
    memory:
      saas_memory:
        _type: in_memory
    functions:
      add_memory: {_type: add_memory, memory: saas_memory, description: "Add a memory"}
      get_memory: {_type: get_memory, memory: saas_memory, description: "Get memories"}
    workflow:
      _type: react_agent
      tool_names: [add_memory, get_memory]
      llm_name: nim_llm
    """)


def error_of(text: str, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, **kwargs)
    return info.value


def test_whole_toolkit_file_loads() -> None:
    config = parse_config(TOOLKIT_FILE)
    assert isinstance(config.memory["saas_memory"], InMemoryConfig)
    assert config.embedders["nv-embedqa-e5-v5"].type == "nim"
    assert config.sections["workflow"]["tool_names"] == ["add_memory", "get_memory"]
    assert config.llms["nim_llm"]["model_name"] == "meta/llama-3.1-70b-instruct"
    assert config.warnings == []


def test_only_memory_is_needed() -> None:
    config = parse_config("memory:\n  m:\n    _type: in_memory\n")
    assert list(config.memory) == ["m"] and config.embedders == {} and config.sections == {}
    assert parse_config("").memory == {}


def test_type_short_and_full_forms() -> None:
    assert InMemoryConfig.full_type == "memory_core.providers/in_memory"
    for type_name in ("in_memory", "memory_core.providers/in_memory"):
        config = parse_config(f"memory:\n  m:\n    _type: {type_name}\n")
        assert isinstance(config.memory["m"], InMemoryConfig)
        assert config.memory["m"].model_dump(by_alias=True)["_type"] == "in_memory"
    assert isinstance(parse_config(f"memory:\n  m: {{_type: {ConfigTestStore.full_type}, endpoint: x}}\n")
                      .memory["m"], ConfigTestStore)


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMDASH_TEST_HOST", "db.internal")
    monkeypatch.delenv("MEMDASH_TEST_PORT", raising=False)
    text = "memory:\n  m:\n    _type: config_test_store\n    endpoint: http://${MEMDASH_TEST_HOST}:${MEMDASH_TEST_PORT:-8080}/v1\n"
    assert parse_config(text).memory["m"].endpoint == "http://db.internal:8080/v1"
    monkeypatch.setenv("MEMDASH_TEST_PORT", "9000")
    assert parse_config(text).memory["m"].endpoint == "http://db.internal:9000/v1"
    assert parse_config(text.replace("${MEMDASH_TEST_PORT:-8080}", "${MEMDASH_TEST_UNSET:-}")).memory[
        "m"].endpoint == "http://db.internal:/v1"


def test_missing_environment_variable_names_line_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMDASH_TEST_MISSING", raising=False)
    error = error_of("memory:\n  m:\n    _type: config_test_store\n    endpoint: ${MEMDASH_TEST_MISSING}\n",
                     file="app.yml")
    assert (error.file, error.line, error.field) == ("app.yml", 4, "memory.m.endpoint")
    assert "MEMDASH_TEST_MISSING" in str(error) and str(error).startswith("app.yml:4")


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMDASH_TEST_KEY", "sk-very-secret-123")
    config = parse_config("memory:\n  m:\n    _type: config_test_store\n    endpoint: e\n"
                          "    api_key: ${MEMDASH_TEST_KEY}\n")
    store = config.memory["m"]
    assert isinstance(store.api_key, SecretStr)
    assert store.api_key.get_secret_value() == "sk-very-secret-123"
    for shown in (repr(store), str(store), repr(config), str(store.api_key), store.model_dump_json()):
        assert "sk-very-secret-123" not in shown


def test_invalid_yaml_names_the_line() -> None:
    error = error_of("memory:\n  m:\n    _type: in_memory\n    tags: [a, b\n  other: 1\n", file="bad.yml")
    assert error.file == "bad.yml" and error.line in (4, 5)
    assert str(error).startswith(f"bad.yml:{error.line}") and "invalid YAML" in str(error)


def test_unknown_type_lists_known_types() -> None:
    error = error_of("memory:\n  m:\n    _type: no_such_store\n")
    assert (error.line, error.field) == (3, "memory.m._type")
    assert "no_such_store" in str(error)
    for known in ("in_memory", "sqlite", "config_test_store"):
        assert known in str(error)


def test_missing_required_field_names_file_line_and_dotted_field(tmp_path: Path) -> None:
    path = tmp_path / "memdash.yml"
    path.write_text("general: {}\nmemory:\n  good:\n    _type: in_memory\n  remote:\n    _type: config_test_store\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.line, info.value.field) == (5, "memory.remote.endpoint")
    assert str(info.value).startswith(f"{path}:5, field 'memory.remote.endpoint'")


def test_nested_field_error_is_dotted() -> None:
    error = error_of("memory:\n  m:\n    _type: config_test_store\n    endpoint: e\n    options:\n"
                     "      retries: lots\n")
    assert (error.line, error.field) == (6, "memory.m.options.retries")


def test_unknown_section() -> None:
    error = error_of("memory:\n  m: {_type: in_memory}\nmemroy:\n  x: {_type: in_memory}\n")
    assert (error.line, error.field) == (3, "memroy") and "unknown section 'memroy'" in str(error)
    assert "memory" in error.message  # the allowed sections are listed


def test_ignored_keys_warn_with_line() -> None:
    config = parse_config("memory:\n  m:\n    _type: in_memory\n    colour: blue\n")
    assert isinstance(config.memory["m"], InMemoryConfig)
    assert len(config.warnings) == 1
    assert "memory.m" in config.warnings[0] and "colour" in config.warnings[0] and "line 4" in config.warnings[0]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.yml")
    assert info.value.file == str(tmp_path / "absent.yml")


# --- property: any input gives a config or a ConfigError, never another exception -------------------------

FRAGMENTS = [
    "memory:", "embedders:", "general:", "functions:", "workflow:", "  m:", "  m: {_type: in_memory}",
    "    _type: in_memory",
    "    _type: config_test_store", "    endpoint: ${MEMDASH_PROP_UNSET}", "    endpoint: ${HOME:-x}",
    "    api_key: [1, 2]", "    options: {retries: x}", "    options:", "      mode: slow", "  - item", "? [a]",
    ": b", "&a [*a]", "*a", "!!int 0x", "2001-13-01", "!!binary zz", "\t- tab", "'unclosed", "{a: [}", "1: 2",
    "    1: x", "    b: y", "~: null", "---", "...", "%YAML 1.1", "!!python/object:os.system x",
]
scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
           | st.sampled_from(["in_memory", "config_test_store", "${MEMDASH_PROP_UNSET}", "${X:-d}", "_type"]))
keys = st.sampled_from(["memory", "embedders", "general", "m", "_type", "type", "endpoint", "api_key", "options",
                        "retries", "workflow"]) | st.text(max_size=8) | st.integers()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                      max_leaves=20)


def _check(text: str) -> None:
    try:
        config = parse_config(text, file="prop.yml")
    except ConfigError as exc:
        assert str(exc)
    else:
        assert isinstance(config, MemdashConfig)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("\n".join),
    values.map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
    st.dictionaries(st.just("memory"), st.dictionaries(keys, values, max_size=3), max_size=1).map(yaml.safe_dump),
))
@example("a: 2001-13-01")
@example("general: !!float abc")
@example("memory: &x [*x]")
@example("[" * 1000)
@example("memory:\n  m:\n    _type: in_memory\n    1: x\n    b: y\n")
def test_parse_config_raises_only_config_error(text: str) -> None:
    _check(text)
