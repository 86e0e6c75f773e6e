"""``mem0_memory``: Mem0's hosted Platform (or any server speaking its REST API), over httpx.

```yaml
memory:
  hosted:
    _type: mem0_memory
    # host: https://api.mem0.ai     # the default; a self-hosted or test server is only a different host
    # api_key: ${MEM0_API_KEY}      # the default source of the key
```

Config fields follow the toolkit's ``Mem0MemoryClientConfig`` (``host``, ``org_id``, ``project_id``,
``organization`` and ``project``, the last two accepted and unused as in the toolkit) and its ``RetryMixin``
(``num_retries``, ``retry_on_status_codes``, ``do_auto_retry``). See ``docs/stores/mem0.md``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from memory_core.errors import ConfigError
from memory_core.http import RetrySettings
from memory_core.providers.mem0.http import Mem0Http
from memory_core.providers.mem0.store import HistoryEntry, Mem0Memory
from memory_core.registry import register_memory
from memory_core.typed import MemoryBaseConfig

__all__ = ["HistoryEntry", "Mem0Memory", "Mem0MemoryConfig"]

DEFAULT_HOST = "https://api.mem0.ai"


class Mem0MemoryConfig(MemoryBaseConfig, RetrySettings, name="mem0_memory"):
    """A Mem0 Platform project, reached with an API key."""

    host: str = Field(default=DEFAULT_HOST, description="API root of the Mem0 Platform or a compatible server.")
    api_key: SecretStr | None = Field(default=None, description="Mem0 API key; else the MEM0_API_KEY variable.")
    org_id: str | None = Field(default=None, description="Sent with project_id as query parameters (older "
                                                         "scoping); Mem0 now resolves the project from the key.")
    project_id: str | None = Field(default=None, description="See org_id; both or neither.")
    organization: str | None = Field(default=None, description="Accepted for the toolkit's config; unused.")
    project: str | None = Field(default=None, description="Accepted for the toolkit's config; unused.")
    infer: bool = Field(default=False, description="Let Mem0 extract facts from conversation-only items; off, "
                                                   "every item is stored verbatim as exactly one memory.")
    timeout: float = Field(default=30.0, gt=0, description="Seconds per request (connect at most 10).")
    max_concurrency: int = Field(default=8, ge=1, le=64, description="Requests this store has in flight at once.")
    max_scan: int = Field(default=10_000, ge=1, description="Most memories one list or count call reads (they "
                                                            "are filtered and sorted locally).")

    @field_validator("host", mode="before")
    @classmethod
    def _default_host(cls, value: Any) -> Any:
        return DEFAULT_HOST if value is None else value

    @model_validator(mode="after")
    def _org_and_project(self) -> Mem0MemoryConfig:
        if (self.org_id is None) != (self.project_id is None):
            raise ValueError("set both org_id and project_id, or neither")
        return self

    def resolved_api_key(self) -> str | None:
        if self.api_key is not None:
            return self.api_key.get_secret_value() or None
        return os.environ.get("MEM0_API_KEY") or None

    def http(self, api_key: str) -> Mem0Http:
        """The HTTP client these settings describe."""
        scope = {"org_id": self.org_id, "project_id": self.project_id} if self.org_id and self.project_id else {}
        return Mem0Http(host=self.host, api_key=api_key, timeout=self.timeout, policy=self.retry_policy(),
                        scope=scope)



@register_memory(Mem0MemoryConfig)
async def mem0_memory(config: Mem0MemoryConfig, builder: object) -> AsyncIterator[Mem0Memory]:
    api_key = config.resolved_api_key()
    if api_key is None:
        raise ConfigError("mem0_memory needs an API key: set api_key or the MEM0_API_KEY variable", field="api_key")
    http = config.http(api_key)
    try:
        store = Mem0Memory(http, infer=config.infer, max_concurrency=config.max_concurrency,
                           max_scan=config.max_scan)
        await store.ping()  # like the SDK: a wrong key or host fails the build, with the reason
        yield store
    finally:
        await http.aclose()
