"""``redis_agent_memory_backend``: Redis Agent Memory Server's long-term memory, over its REST API with httpx.

```yaml
memory:
  agent:
    _type: redis_agent_memory_backend
    base_url: http://localhost:8000   # the server; a test or hosted one is only a different URL
    default_namespace: nat
```

Config fields follow the toolkit plugin's ``RedisAgentMemoryBackendConfig`` (``nemo-agent-toolkit-redis``
0.3: ``base_url``, ``default_namespace``, ``timeout``, ``default_model_name``, ``default_context_window_max``)
and its ``RetryMixin``. See ``docs/stores/agent_memory.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import Field

from memory_core.http import JsonHttp, RetrySettings
from memory_core.providers.agent_memory.store import AgentMemoryServer
from memory_core.registry import register_memory
from memory_core.typed import MemoryBaseConfig

__all__ = ["AgentMemoryServer", "RedisAgentMemoryConfig"]


class AgentMemoryHttp(JsonHttp):
    service = "agent memory server"
    key_env = "the server's token"

    def error_message(self, body: dict) -> object:
        return body.get("detail") or body


class RedisAgentMemoryConfig(MemoryBaseConfig, RetrySettings, name="redis_agent_memory_backend"):
    """A Redis Agent Memory Server, reached at ``base_url``."""

    base_url: str = Field(default="http://localhost:8000", description="Redis Agent Memory base URL.")
    default_namespace: str = Field(default="nat", description="Namespace of the memories memdash adds.")
    timeout: float = Field(default=30.0, gt=0, description="Seconds per request (connect at most 10).")
    default_model_name: str | None = Field(default=None, description="Accepted for the toolkit's config; unused.")
    default_context_window_max: int | None = Field(default=None, description="Accepted for the toolkit's config; "
                                                                             "unused.")
    retry_on_errors: list[str] | None = Field(default=None, description="Accepted for the toolkit's config; "
                                                                        "unused.")
    max_scan: int = Field(default=10_000, ge=1, description="Most memories one list or count call reads (they "
                                                            "are filtered and sorted locally).")

    def http(self) -> AgentMemoryHttp:
        return AgentMemoryHttp(root=self.base_url, api_key="", headers={}, timeout=self.timeout,
                               policy=self.retry_policy())


@register_memory(RedisAgentMemoryConfig)
async def redis_agent_memory_backend(config: RedisAgentMemoryConfig, builder: object
                                     ) -> AsyncIterator[AgentMemoryServer]:
    http = config.http()
    try:
        store = AgentMemoryServer(http, namespace=config.default_namespace, max_scan=config.max_scan)
        await store.ping()  # a wrong URL fails the build, with the reason
        yield store
    finally:
        await http.aclose()
