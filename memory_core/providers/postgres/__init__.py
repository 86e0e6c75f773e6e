"""``postgres``: memories in a PostgreSQL schema, for several processes and large stores.

```yaml
memory:
  team:
    _type: postgres
    dsn: postgresql://memdash@db.internal:5432/memdash   # or "host=... dbname=...", ${VAR} expanded
    password: ${MEMDASH_PG_PASSWORD}                     # optional; merged into the DSN, never shown
    schema: memdash                                      # created and migrated by the store
    language: english                                    # text search configuration of the tsvector
    embedder: minilm                                     # optional: hybrid search with pgvector
```

Needs ``pip install 'memdash[postgres]'``. Search fuses ``tsvector`` full text, ``pg_trgm`` fuzzy words and,
with an embedder and pgvector on the server, HNSW cosine similarity; a server without pgvector keeps the
rest working and says why vector search is off (:attr:`PostgresMemory.vector_unavailable_reason`).
See ``docs/stores/postgres.md``.
"""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator

from pydantic import AliasChoices, Field, SecretStr, model_validator

from memory_core.providers.postgres.connection import Server, build_conninfo
from memory_core.providers.postgres.store import PostgresMemory
from memory_core.registry import register_memory
from memory_core.typed import MemoryBaseConfig
from memory_core.usage import UsageConfig

if typing.TYPE_CHECKING:
    from memory_core.builder import MemoryBuilder

__all__ = ["PostgresMemory", "PostgresMemoryConfig"]


class PostgresMemoryConfig(MemoryBaseConfig, UsageConfig, name="postgres"):
    """A store in a PostgreSQL database (pg_trgm required; pgvector for vector search)."""

    dsn: str = Field(description="libpq connection string or URI, e.g. postgresql://user@host:5432/db.")
    password: SecretStr | None = Field(default=None, description="Password merged into the DSN; never logged.")
    db_schema: str = Field(default="memdash", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
                           validation_alias=AliasChoices("schema", "db_schema"), serialization_alias="schema",
                           description="Schema holding the store's tables; created when missing.")
    language: str = Field(default="english", pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$",
                          description="PostgreSQL text search configuration; changing it rebuilds the index.")
    embedder: str | None = Field(default=None, description="Name of an entry under `embedders:`; enables "
                                                           "hybrid (text + vector) search when pgvector is there.")
    pool_min: int = Field(default=1, ge=0, description="Connections kept open.")
    pool_max: int = Field(default=10, ge=1, description="Most connections open at once.")
    connect_timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for a connection.")

    @model_validator(mode="after")
    def _pool_bounds(self) -> PostgresMemoryConfig:
        if self.pool_min > self.pool_max:
            raise ValueError(f"pool_min ({self.pool_min}) is larger than pool_max ({self.pool_max})")
        return self

    def server(self) -> Server:
        """Where to connect, with the password merged in."""
        password = self.password.get_secret_value() if self.password else None
        return Server(build_conninfo(self.dsn, password), self.connect_timeout)


@register_memory(PostgresMemoryConfig)
async def postgres(config: PostgresMemoryConfig, builder: MemoryBuilder) -> AsyncIterator[PostgresMemory]:
    embedder = await builder.get_embedder(config.embedder) if config.embedder else None
    store = await PostgresMemory.open(config.server(), schema=config.db_schema, language=config.language,
                                      embedder=embedder, pool_min=config.pool_min, pool_max=config.pool_max,
                                      track_retrievals=config.track_retrievals, retrieval_log=config.log_settings())
    try:
        yield store
    finally:
        await store.aclose()
