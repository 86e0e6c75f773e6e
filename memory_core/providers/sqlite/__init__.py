"""``sqlite``: the embedded default store, one file, no server.

```yaml
memory:
  notes:
    _type: sqlite
    path: data/memories.db      # relative to the config file
    embedder: minilm            # optional: the name of an entry under `embedders:` for hybrid search
```

Search is FTS5 BM25 with stemming, scoped to the user inside the index; with an embedder, exact cosine
over the user's vectors is fused with it by :func:`memory_core.retrieval.rank`. Every write is one
transaction, and several processes may share the file (WAL, busy timeout).
"""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator

from pydantic import Field

from memory_core.providers.sqlite.store import DEFAULT_TOKENIZER, SqliteMemory
from memory_core.registry import register_memory
from memory_core.typed import MemoryBaseConfig
from memory_core.usage import UsageConfig

if typing.TYPE_CHECKING:
    from memory_core.builder import MemoryBuilder

__all__ = ["SqliteMemory", "SqliteMemoryConfig"]


class SqliteMemoryConfig(MemoryBaseConfig, UsageConfig, name="sqlite"):
    """A store in one SQLite file."""

    path: str = Field(default="memdash.db", description="The database file; a relative path is relative to the "
                                                        "config file's folder. Created when missing.")
    embedder: str | None = Field(default=None, description="Name of an entry under `embedders:`; enables hybrid "
                                                           "(text + vector) search.")
    fts_tokenizer: str = Field(default=DEFAULT_TOKENIZER, description="FTS5 tokenizer; the default stems English "
                                                                      "and folds accents. Changing it rebuilds the "
                                                                      "index on open.")
    busy_timeout_ms: int = Field(default=5000, ge=0, description="How long a write waits for another process's "
                                                                 "write to finish.")


@register_memory(SqliteMemoryConfig)
async def sqlite_memory(config: SqliteMemoryConfig, builder: MemoryBuilder) -> AsyncIterator[SqliteMemory]:
    embedder = await builder.get_embedder(config.embedder) if config.embedder else None
    store = await SqliteMemory.open(builder.resolve_path(config.path), embedder=embedder,
                                    fts_tokenizer=config.fts_tokenizer, busy_timeout_ms=config.busy_timeout_ms,
                                    track_retrievals=config.track_retrievals, retrieval_log=config.log_settings())
    try:
        yield store
    finally:
        await store.aclose()
