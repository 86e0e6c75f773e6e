"""Load a toolkit-style YAML file (``general``, ``llms``, ``embedders``, ``memory``, ``functions``, ...).

Only ``memory:`` is needed. ``${VAR}`` and ``${VAR:-default}`` come from the environment. Every mistake
raises :class:`ConfigError` naming the file, the line and the field.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pydantic
import yaml

from memory_core.errors import ConfigError
from memory_core.registry import GLOBAL_REGISTRY, TypeRegistry
from memory_core.typed import EmbedderBaseConfig, MemoryBaseConfig, TypedBaseModel

# The toolkit's top-level keys (its Config is extra="forbid") plus memdash's own section.
TOOLKIT_SECTIONS = frozenset({
    "general", "functions", "function_groups", "middleware", "llms", "embedders", "memory", "object_stores",
    "optimizer", "retrievers", "ttc_strategies", "workflow", "authentication", "eval", "trainers",
    "trainer_adapters", "trajectory_builders", "finetuning",
})
SECTIONS = TOOLKIT_SECTIONS | {"memdash"}
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
CONFIG_ENV = "MEMDASH_CONFIG"  # the config file `memdash run` hands the dashboard
MAX_BYTES = 1_000_000  # a config file; the largest real ones are a few kB
MAX_VALUES = 100_000  # keys and values once every alias is expanded (an "alias bomb" asks for billions)

Path_ = tuple[str | int, ...]


@dataclasses.dataclass
class MemdashConfig:
    """A loaded config: typed ``memory`` and ``embedders``, every other section kept as parsed."""

    memory: dict[str, MemoryBaseConfig]
    embedders: dict[str, EmbedderBaseConfig]
    sections: dict[str, Any]
    file: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config (e.g. a sqlite file) are relative to the config file."""
        return Path(self.file).resolve().parent if self.file else Path.cwd()

    @property
    def llms(self) -> dict[str, Any]:
        return self.sections.get("llms") or {}


def load_config(path: str | os.PathLike[str], *, registry: TypeRegistry = GLOBAL_REGISTRY) -> MemdashConfig:
    """Read and validate a config file."""
    file = str(path)
    try:
        if Path(file).stat().st_size > MAX_BYTES:
            raise ConfigError(f"the file is larger than {MAX_BYTES:,} bytes: not a config file?", file=file)
        text = Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file: {exc}", file=file) from None
    return parse_config(text, file=file, registry=registry)


def parse_config(text: str, *, file: str | None = None, registry: TypeRegistry = GLOBAL_REGISTRY) -> MemdashConfig:
    """Validate config text; ``file`` is only used in messages and for relative paths."""
    data, lines = _parse_yaml(text, file)
    located = _Located(file, lines)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise located.error("the top level must be a mapping of sections (memory:, embedders:, ...)", ())
    unknown = sorted(str(k) for k in data if k not in SECTIONS)
    if unknown:
        raise located.error(f"unknown section '{unknown[0]}'; allowed: {', '.join(sorted(SECTIONS))}", (unknown[0],))
    data = located.substitute_env(data, ())
    warnings: list[str] = []
    memory = located.components(data, "memory", registry, registry.memory, warnings)
    embedders = located.components(data, "embedders", registry, registry.embedders, warnings)
    sections = {k: v for k, v in data.items() if k not in ("memory", "embedders")}
    return MemdashConfig(memory=memory, embedders=embedders, sections=sections, file=file, warnings=warnings)


def section_error(config: MemdashConfig, message: str, path: tuple[str | int, ...]) -> ConfigError:
    """A ``ConfigError`` at ``path`` of a loaded config (e.g. ``("memdash", "trash", "retention_days")``), with the
    line read again from its file (best effort: no line when the file is gone)."""
    lines: dict[Path_, int] = {}
    if config.file:
        with contextlib.suppress(OSError, ConfigError):
            lines = _parse_yaml(Path(config.file).read_text(encoding="utf-8"), config.file)[1]
    return _Located(config.file, lines).error(message, path)


def _parse_yaml(text: str, file: str | None) -> tuple[Any, dict[Path_, int]]:
    if len(text) > MAX_BYTES:
        raise ConfigError(f"the config is larger than {MAX_BYTES:,} characters: not a config file?", file=file)
    node = None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        lines = _index_lines(node, file) if node is not None else {}
        _check_expansion(node, file)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc.context}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", file=file) from None
    except (ValueError, TypeError, OverflowError) as exc:  # a scalar PyYAML parses but cannot build: 2001-13-01
        raise ConfigError(f"invalid YAML value: {exc}", file=file, line=_unbuildable_line(node)) from None
    return data, lines


def _nodes(root: yaml.Node) -> list[yaml.Node]:
    """Every node once, aliases included only once."""
    seen: dict[int, yaml.Node] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen[id(node)] = node
            if isinstance(node, yaml.MappingNode):
                stack.extend(n for pair in node.value for n in pair)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)
    return list(seen.values())


def _unbuildable_line(root: yaml.Node | None) -> int | None:
    """Line of the first scalar the safe constructor rejects."""
    for node in _nodes(root) if root is not None else []:
        if isinstance(node, yaml.ScalarNode):
            try:
                yaml.SafeLoader("").construct_object(node)
            except Exception:  # whatever the constructor raises, this is the culprit
                return node.start_mark.line + 1
    return None


def _index_lines(root: yaml.Node, file: str | None) -> dict[Path_, int]:
    """The line of every key path; a node that contains itself (recursive alias) is refused."""
    lines: dict[Path_, int] = {}
    inside: set[int] = set()
    done: set[int] = set()

    def visit(node: yaml.Node, path: Path_) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in inside:
            raise ConfigError("a YAML alias refers to a node that contains it", file=file,
                              line=node.start_mark.line + 1)
        if id(node) in done:
            return
        inside.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):  # other keys are unhashable: safe_load refuses them
                    line = key.start_mark.line + 1
                    if key.value in first and key.value != "<<":
                        raise ConfigError(f"duplicate key '{key.value}' (first on line {first[key.value]}): the "
                                          "second would silently replace the first", file=file, line=line)
                    first[key.value] = line
                    lines[(*path, key.value)] = line
                    visit(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, value in enumerate(node.value):
                visit(value, (*path, i))
        inside.discard(id(node))
        done.add(id(node))

    visit(root, ())
    return lines


def _check_expansion(root: yaml.Node | None, file: str | None) -> None:
    """Refuse YAML whose aliases expand to more than :data:`MAX_VALUES` values (each node counted once per use)."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) not in sizes:
            children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                        else node.value if isinstance(node, yaml.SequenceNode) else [])
            sizes[id(node)] = min(1 + sum(size(child) for child in children), MAX_VALUES + 1)
        return sizes[id(node)]

    if root is not None and size(root) > MAX_VALUES:
        raise ConfigError(f"the YAML expands to more than {MAX_VALUES:,} values through its aliases (&name / "
                          "*name): refused, a config is never that large", file=file)


@dataclasses.dataclass
class _Located:
    """Turns a path in the parsed data into a ``ConfigError`` at the right line."""

    file: str | None
    lines: dict[Path_, int]

    def line_of(self, path: Path_) -> int | None:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def error(self, message: str, path: Path_) -> ConfigError:
        field = ".".join(str(p) for p in path) or None
        return ConfigError(message, file=self.file, line=self.line_of(path), field=field)

    def substitute_env(self, value: Any, path: Path_) -> Any:
        if isinstance(value, dict):
            return {k: self.substitute_env(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute_env(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            return _ENV.sub(lambda m: self._env(m, path), value)
        return value

    def _env(self, match: re.Match[str], path: Path_) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise self.error(f"environment variable {name} is not set (write ${{{name}:-default}} to give a default)",
                         path)

    def components(self, data: dict[str, Any], section: str, registry: TypeRegistry, kind: Any,
                   warnings: list[str]) -> dict[str, Any]:
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise self.error(f"'{section}' must be a mapping of names to {{_type: ...}} entries", (section,))
        return {str(name): self.component(entries[name], (section, name), registry, kind, warnings)
                for name in entries}

    def component(self, raw: Any, path: Path_, registry: TypeRegistry, kind: Any, warnings: list[str]) -> Any:
        if not isinstance(raw, dict):
            raise self.error("must be a mapping with a _type", path)
        type_name = raw.get("_type", raw.get("type"))
        if not isinstance(type_name, str) or not type_name:
            raise self.error(f"missing _type; known types: {', '.join(kind.known())}", path)
        try:
            config_type = registry.resolve(kind, type_name).config_type
        except ConfigError as exc:
            raise self.error(exc.message, (*path, "_type")) from None
        ignored = sorted(str(key) for key in set(raw) - _accepted_keys(config_type))
        if ignored:
            warnings.append(f"{'.'.join(map(str, path))}: ignored unknown key(s) {', '.join(ignored)} "
                            f"for _type {type_name} (line {self.line_of((*path, ignored[0]))})")
        try:
            return config_type.model_validate(raw)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = (*path, *first["loc"])
            more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
            raise self.error(f"{first['msg']}{more}", where) from None


def _accepted_keys(config_type: type[TypedBaseModel]) -> set[str]:
    keys = {"_type", "type"}
    for name, field in config_type.model_fields.items():
        keys.add(name)
        if field.alias:
            keys.add(field.alias)
        choices = getattr(field.validation_alias, "choices", [field.validation_alias])
        keys.update(c for c in choices if isinstance(c, str))
    return keys
