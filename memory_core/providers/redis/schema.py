"""Key layout and search indexes: the toolkit's (vectors) and memdash's own (browsing), over one key prefix.

The toolkit (``nemo-agent-toolkit-redis`` 0.3) stores ``{prefix}:memory:<id>`` JSON documents and indexes
them as ``memory_idx``. memdash writes the same documents and adds ``memdash_idx:{prefix}``, which indexes
the same keys with exact (case-sensitive) user and tag fields and the numeric sort keys browsing needs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from redis import exceptions as rx

from memory_core.errors import ConfigError, StoreUnavailableError
from memory_core.providers.redis.connection import Link

TOOLKIT_INDEX = "memory_idx"
TOOLKIT_PREFIX = "nat"
SEPARATOR = "\x1f"  # tag separator of memdash's index: a control character no user id or tag should carry
INDEX_WAIT_S = 300.0


@dataclasses.dataclass(frozen=True)
class KeySpace:
    """Every Redis name derived from ``key_prefix``."""

    prefix: str

    @property
    def doc_prefix(self) -> str:
        return f"{self.prefix}:memory:"

    @property
    def toolkit_prefix(self) -> str:
        """The prefix the toolkit's index declares (no trailing colon)."""
        return f"{self.prefix}:memory"

    @property
    def browse_index(self) -> str:
        return f"memdash_idx:{self.prefix}"

    @property
    def derived_vector_index(self) -> str:
        """The toolkit-shaped index memdash creates when ``memory_idx`` belongs to another prefix."""
        return f"{TOOLKIT_INDEX}:{self.prefix}"

    @property
    def seq_key(self) -> str:
        """Counter that gives each document a unique ``seq`` (the tie-breaker of keyset paging)."""
        return f"{self.prefix}:memdash:seq"

    @property
    def retrievals_key(self) -> str:
        """Sorted set: memory id -> how often the agent's search returned it (memory_core.usage)."""
        return f"{self.prefix}:memdash:retrievals"

    @property
    def retrieved_at_key(self) -> str:
        """Hash: memory id -> when the agent's search last returned it (microseconds)."""
        return f"{self.prefix}:memdash:retrieved_at"

    @property
    def retrieval_log_key(self) -> str:
        """Hash: memory id -> its last retrievals, newest first, as JSON (the detailed log, memory_core.usage)."""
        return f"{self.prefix}:memdash:retrieval_log"

    @property
    def users_key(self) -> str:
        """Sorted set of every user with a counted document, all scores 0: ordered by user id (``BYLEX``)."""
        return f"{self.prefix}:memdash:users"

    @property
    def user_counts_key(self) -> str:
        """Hash: user id -> how many documents with a ``seq`` it has (a user leaves :attr:`users_key` at 0)."""
        return f"{self.prefix}:memdash:user_counts"

    @property
    def users_built_key(self) -> str:
        """Set once :attr:`users_key` was built from the index; the write scripts keep it since."""
        return f"{self.prefix}:memdash:users_built"

    def key(self, record_id: str) -> str:
        return self.doc_prefix + record_id

    def id_of(self, key: str) -> str | None:
        return key[len(self.doc_prefix):] if key.startswith(self.doc_prefix) else None


@dataclasses.dataclass(frozen=True)
class VectorIndex:
    """A toolkit-shaped index memdash runs KNN queries on."""

    name: str
    dim: int
    separator: str  # its user_id TAG separator (the toolkit's is ",")


def toolkit_index_args(name: str, space: KeySpace, dim: int) -> list[Any]:
    """``FT.CREATE`` exactly as the toolkit's redisvl schema issues it."""
    return [name, "ON", "JSON", "PREFIX", 1, space.toolkit_prefix, "SCORE", "1.0", "SCHEMA",
            "$.user_id", "AS", "user_id", "TAG", "SEPARATOR", ",",
            "$.tags[*]", "AS", "tags", "TAG", "SEPARATOR", ",",
            "$.memory", "AS", "memory", "TEXT", "WEIGHT", 1,
            "$.embedding", "AS", "embedding", "VECTOR", "HNSW", 16, "TYPE", "FLOAT32", "DIM", dim,
            "DISTANCE_METRIC", "L2", "INITIAL_CAP", 100, "M", 16, "EF_CONSTRUCTION", 200, "EF_RUNTIME", 10,
            "EPSILON", 0.01]


BROWSE_FIELDS: tuple[tuple[Any, ...], ...] = (
    ("$.user_id", "AS", "user_id", "TAG", "SEPARATOR", SEPARATOR, "CASESENSITIVE", "SORTABLE"),
    ("$.tags[*]", "AS", "tags", "TAG", "SEPARATOR", SEPARATOR, "CASESENSITIVE"),
    ("$.memory", "AS", "memory", "TEXT", "WEIGHT", 1),
    ("$.conversation[*].content", "AS", "context", "TEXT", "WEIGHT", 0.5),
    ("$.tags[*]", "AS", "tag_words", "TEXT", "WEIGHT", 0.5),  # tags are words a search finds, as in every store
    ("$.created_at", "AS", "created_at", "NUMERIC", "SORTABLE"),
    ("$.updated_at", "AS", "updated_at", "NUMERIC", "SORTABLE"),
    ("$.seq", "AS", "seq", "NUMERIC", "INDEXMISSING", "SORTABLE"),
    ("$.user_key", "AS", "user_key", "TAG", "CASESENSITIVE"),
    ("$.size", "AS", "size", "NUMERIC", "INDEXMISSING", "SORTABLE"),
)


def browse_index_args(space: KeySpace) -> list[Any]:
    fields = [part for field in BROWSE_FIELDS for part in field]
    return [space.browse_index, "ON", "JSON", "PREFIX", 1, space.doc_prefix, "STOPWORDS", 0, "SCHEMA", *fields]


async def index_info(link: Link, name: str) -> dict[str, Any] | None:
    """``FT.INFO``, or ``None`` when there is no such index."""
    try:
        return await link.execute("FT.INFO", name)
    except rx.ResponseError as exc:
        text = str(exc).lower()
        if "unknown index" in text or "no such index" in text:
            return None
        if "unknown command" in text:
            raise StoreUnavailableError(f"redis at {link.where} has no search module: memdash's redis store needs "
                                        "Redis 8 (or Redis Stack) with the query engine and JSON") from None
        raise


async def ensure_browse_index(link: Link, space: KeySpace) -> None:
    """Create memdash's index (again, keeping the documents, when its fields changed) and wait until it has
    indexed every existing document."""
    info = await index_info(link, space.browse_index)
    if info is not None and _browse_shape(info) != _browse_shape_expected(space):
        await link.execute("FT.DROPINDEX", space.browse_index)
        info = None
    if info is None:
        await create_index(link, browse_index_args(space))
    await wait_indexed(link, space.browse_index)


async def create_index(link: Link, args: list[Any]) -> None:
    """``FT.CREATE``; another process creating the same index first is fine."""
    try:
        await link.execute("FT.CREATE", *args)
    except rx.ResponseError as exc:
        if "already exists" not in str(exc).lower():
            raise


def _browse_shape(info: dict[str, Any]) -> tuple[Any, ...]:
    attributes = tuple((a.get("identifier"), a.get("attribute"), a.get("type")) for a in info.get("attributes", []))
    return tuple(info.get("index_definition", {}).get("prefixes", [])), attributes


def _browse_shape_expected(space: KeySpace) -> tuple[Any, ...]:
    return (space.doc_prefix,), tuple((f[0], f[2], f[3]) for f in BROWSE_FIELDS)


async def existing_vector_index(link: Link, space: KeySpace) -> VectorIndex | None:
    """The toolkit-shaped index over this prefix if there is one (``memory_idx``, else memdash's derived one)."""
    for name in (TOOLKIT_INDEX, space.derived_vector_index):
        info = await index_info(link, name)
        found = _toolkit_shape(name, info, space) if info else None
        if found:
            return found
    return None


async def vector_index(link: Link, space: KeySpace, dim: int) -> VectorIndex:
    """The toolkit-shaped index over this prefix: ``memory_idx`` when it is the toolkit's for this prefix (or
    the prefix is the default ``nat`` and there is none yet), else ``memory_idx:{prefix}``, created when
    missing. Its vectors must have the embedder's dimension."""
    info = await index_info(link, TOOLKIT_INDEX)
    found = _toolkit_shape(TOOLKIT_INDEX, info, space) if info else None
    if found is None:
        name = TOOLKIT_INDEX if space.prefix == TOOLKIT_PREFIX and info is None else space.derived_vector_index
        await create_index(link, toolkit_index_args(name, space, dim))
        info = await index_info(link, name)
        found = _toolkit_shape(name, info, space) if info else None
        if found is None:
            raise StoreUnavailableError(f"index {name} exists but is not shaped like the toolkit's memory index; "
                                        "drop it (FT.DROPINDEX keeps the documents) to let memdash recreate it")
    if found.dim != dim:
        raise ConfigError(f"index {found.name} holds {found.dim}-dimensional vectors but the embedder makes {dim}: "
                          "configure the embedder the agent uses", field="embedder")
    await wait_indexed(link, found.name)
    return found


def _toolkit_shape(name: str, info: dict[str, Any], space: KeySpace) -> VectorIndex | None:
    """The index as a :class:`VectorIndex` when it covers this prefix's documents with the toolkit's fields."""
    definition = info.get("index_definition", {})
    prefixes = definition.get("prefixes", [])
    if definition.get("key_type") != "JSON" or not any(space.doc_prefix.startswith(p) for p in prefixes):
        return None
    fields = {a.get("attribute"): a for a in info.get("attributes", [])}
    user, vector = fields.get("user_id", {}), fields.get("embedding", {})
    if (user.get("identifier"), user.get("type")) != ("$.user_id", "TAG"):
        return None
    if (vector.get("type"), vector.get("data_type"), vector.get("distance_metric")) != ("VECTOR", "FLOAT32", "L2"):
        return None
    return VectorIndex(name=name, dim=int(vector["dim"]), separator=user.get("SEPARATOR", ","))


async def wait_indexed(link: Link, name: str, timeout_s: float = INDEX_WAIT_S) -> None:
    """Return once a new index has scanned the documents that existed before it."""
    deadline = time.monotonic() + timeout_s
    while True:
        info = await index_info(link, name)
        if info is None or float(info.get("percent_indexed", 1)) >= 1.0:
            return
        if time.monotonic() > deadline:
            raise StoreUnavailableError(f"index {name} is still being built after {timeout_s:.0f} s")
        await asyncio.sleep(0.05)
