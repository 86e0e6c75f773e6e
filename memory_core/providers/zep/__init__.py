"""``zep_memory``: Zep Cloud (its v3 API), over httpx.

```yaml
memory:
  zep:
    _type: zep_memory
    # base_url: https://api.getzep.com   # the default (or ZEP_API_URL); ".../api/v2" is accepted too
    # api_key: ${ZEP_API_KEY}            # the default source of the key
    # search_mode: facts                 # or "aggregated": one item joining every fact, as the toolkit returns
```

Config fields follow the toolkit's ``ZepMemoryClientConfig`` (``base_url``, ``timeout``, ``follow_redirects``) and
its ``RetryMixin`` (``num_retries``, ``retry_on_status_codes``, ``do_auto_retry``). See ``docs/stores/zep.md``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from memory_core.errors import ConfigError
from memory_core.http import RetrySettings
from memory_core.providers.zep.codec import EpisodePage, MessagePage, ZepEpisode, ZepMessage, ZepThread, api_root
from memory_core.providers.zep.http import ZepHttp
from memory_core.providers.zep.store import DEFAULT_THREAD, ZepMemory
from memory_core.registry import register_memory
from memory_core.typed import MemoryBaseConfig

__all__ = ["EpisodePage", "MessagePage", "ZepEpisode", "ZepMemory", "ZepMemoryConfig", "ZepMessage", "ZepThread"]

DEFAULT_URL = "https://api.getzep.com"
DEFAULT_TIMEOUT = 60.0  # the zep-cloud SDK's default


class ZepMemoryConfig(MemoryBaseConfig, RetrySettings, name="zep_memory"):
    """A Zep Cloud project, reached with its API key."""

    base_url: str | None = Field(default=None, description="Zep's host; else ZEP_API_URL, else Zep Cloud. The "
                                                           "SDK's form ending in /api/v2 works too.")
    api_key: SecretStr | None = Field(default=None, description="Project API key; else the ZEP_API_KEY variable.")
    timeout: float | None = Field(default=None, gt=0, description="Seconds per request (60 when unset, as in the "
                                                                  "SDK; connect at most 10).")
    follow_redirects: bool | None = Field(default=None, description="Follow HTTP redirects (off when unset).")
    search_mode: Literal["facts", "aggregated"] = Field(
        default="facts", description="facts: one item per search result with its score; aggregated: one item "
                                     "joining every result, as the toolkit's editor returns.")
    scope: Literal["edges", "nodes", "episodes"] = Field(default="edges", description="What graph search "
                                                                                      "returns: facts, entities or "
                                                                                      "episodes.")
    reranker: Literal["cross_encoder", "rrf", "mmr"] = Field(
        default="cross_encoder", description="Zep's reranker; only cross_encoder scores are similarities in "
                                             "[0, 1], the others rank.")
    default_thread_id: str = Field(default=DEFAULT_THREAD, description="Thread of a conversation with no "
                                                                       "thread_id; {user_id} is replaced.")
    max_concurrency: int = Field(default=8, ge=1, le=64, description="Requests in flight at once per call.")
    max_scan: int = Field(default=10_000, ge=1, description="Most facts (or users) one list or count call reads.")

    @field_validator("default_thread_id")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("default_thread_id must not be empty")
        return value

    def resolved_api_key(self) -> str | None:
        if self.api_key is not None:
            return self.api_key.get_secret_value() or None
        return os.environ.get("ZEP_API_KEY") or None

    def resolved_base_url(self) -> str:
        return self.base_url or os.environ.get("ZEP_API_URL") or DEFAULT_URL

    def http(self, api_key: str) -> ZepHttp:
        """The HTTP client these settings describe."""
        return ZepHttp(api_root=api_root(self.resolved_base_url()), api_key=api_key,
                       timeout=self.timeout or DEFAULT_TIMEOUT, follow_redirects=bool(self.follow_redirects),
                       policy=self.retry_policy())


@register_memory(ZepMemoryConfig)
async def zep_memory(config: ZepMemoryConfig, builder: object) -> AsyncIterator[ZepMemory]:
    api_key = config.resolved_api_key()
    if api_key is None:
        raise ConfigError("zep_memory needs an API key: set api_key or the ZEP_API_KEY variable", field="api_key")
    http = config.http(api_key)
    try:
        store = ZepMemory(http, search_mode=config.search_mode, scope=config.scope, reranker=config.reranker,
                          default_thread_id=config.default_thread_id, max_concurrency=config.max_concurrency,
                          max_scan=config.max_scan)
        await store.ping()  # a wrong key or host fails the build, with the reason
        yield store
    finally:
        await http.aclose()
