"""``redis_memory``: memories in Redis, in the exact layout of the NeMo Agent Toolkit's ``redis_memory`` store.

```yaml
memory:
  agent_memory:
    _type: redis_memory       # same type name and fields as the toolkit's store
    host: localhost
    port: 6379
    db: 0
    password: ${REDIS_PASSWORD:-}
    key_prefix: nat
    embedder: minilm          # optional here (required by the toolkit): without it search is full text only
```

Needs ``pip install 'memdash[redis]'`` and Redis 8 (or Redis Stack) with the query engine and JSON. Memories
are ``{key_prefix}:memory:<id>`` JSON documents indexed by the toolkit's ``memory_idx``, so a toolkit agent
and memdash read and write the same memories; see ``docs/stores/redis.md`` for how memdash differs.
"""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator

from pydantic import Field, SecretStr

from memory_core.providers.redis.store import InvalidKey, RedisMemory
from memory_core.registry import register_memory
from memory_core.typed import MemoryBaseConfig
from memory_core.usage import UsageConfig

if typing.TYPE_CHECKING:
    from memory_core.builder import MemoryBuilder

__all__ = ["InvalidKey", "RedisMemory", "RedisMemoryConfig"]


class RedisMemoryConfig(MemoryBaseConfig, UsageConfig, name="redis_memory"):
    """The toolkit's ``redis_memory`` fields, in its order; ``embedder`` is optional here."""

    host: str = Field(default="localhost", description="Redis server host")
    db: int = Field(default=0, description="Redis DB")
    port: int = Field(default=6379, description="Redis server port")
    password: SecretStr | None = Field(default=None, description="Password for the Redis server")
    key_prefix: str = Field(default="nat", min_length=1, description="Key prefix to use for redis keys")
    embedder: str | None = Field(default=None, description="Name of an entry under `embedders:`; enables vector "
                                                           "search. Use the embedder the agent uses.")


@register_memory(RedisMemoryConfig)
async def redis_memory(config: RedisMemoryConfig, builder: MemoryBuilder) -> AsyncIterator[RedisMemory]:
    embedder = await builder.get_embedder(config.embedder) if config.embedder else None
    password = config.password.get_secret_value() if config.password else None
    store = await RedisMemory.open(host=config.host, port=config.port, db=config.db, password=password or None,
                                   key_prefix=config.key_prefix, embedder=embedder,
                                   track_retrievals=config.track_retrievals, retrieval_log=config.log_settings())
    try:
        yield store
    finally:
        await store.aclose()
