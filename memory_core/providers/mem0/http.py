"""How the store talks to Mem0: :class:`~memory_core.http.JsonHttp` with Mem0's auth and errors."""

from __future__ import annotations

import hashlib
from typing import Any

from memory_core.http import JsonHttp, RetryPolicy


class Mem0Http(JsonHttp):
    """JSON over HTTP to one Mem0 host with ``Authorization: Token <key>``, as the official SDK sends it."""

    service = "mem0"
    key_env = "MEM0_API_KEY"

    def __init__(self, *, host: str, api_key: str, timeout: float, policy: RetryPolicy,
                 scope: dict[str, str]) -> None:
        headers = {"Authorization": f"Token {api_key}", "Mem0-User-ID": hashlib.md5(api_key.encode()).hexdigest()}
        super().__init__(root=host, api_key=api_key, headers=headers, timeout=timeout, policy=policy, scope=scope)

    @property
    def host(self) -> str:
        return self.root

    def error_message(self, body: dict[str, Any]) -> Any:
        """Mem0 puts it in ``detail``, ``details.message``, ``message`` or ``error``."""
        nested = body.get("details") if isinstance(body.get("details"), dict) else {}
        return body.get("detail") or nested.get("message") or body.get("message") or body.get("error") or body
