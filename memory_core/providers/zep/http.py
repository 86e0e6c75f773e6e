"""How the store talks to Zep: :class:`~memory_core.http.JsonHttp` with Zep's auth and paging header."""

from __future__ import annotations

from urllib.parse import quote

from memory_core.http import ConflictError, JsonHttp, RetryPolicy

__all__ = ["NEXT_CURSOR", "ConflictError", "ZepHttp", "seg"]

NEXT_CURSOR = "Zep-Next-Cursor"  # the header carrying the opaque cursor of the next page of a listing


def seg(value: str) -> str:
    """One path segment, percent-encoded: user and thread ids may hold ``/``, ``?``, spaces..."""
    return quote(str(value), safe="")


class ZepHttp(JsonHttp):
    """JSON over HTTP to Zep's v3 API root (``<host>/api/v2``) with ``Authorization: Api-Key <key>``, as the
    official ``zep-cloud`` SDK sends it. Error bodies are ``{"message": ...}``."""

    service = "zep"
    key_env = "ZEP_API_KEY"

    def __init__(self, *, api_root: str, api_key: str, timeout: float, follow_redirects: bool,
                 policy: RetryPolicy) -> None:
        super().__init__(root=api_root, api_key=api_key, headers={"Authorization": f"Api-Key {api_key}"},
                         timeout=timeout, policy=policy, follow_redirects=follow_redirects)

    @property
    def api_root(self) -> str:
        return self.root
