"""Exports streamed to the browser: a page mints a short-lived ticket, a route streams the file.

Streamlit's ``download_button`` keeps a whole file in the server's memory while the session lasts. Under
:mod:`dashboard.server` the Import / export page instead links to ``/memdash/download/<ticket>``: the file is
written a page of records at a time as the browser reads it, so the server's memory does not grow with the
store. A ticket is 256 random bits, minted only for a signed-in session that may export, holds the actor, the
store and the filter, and lapses after :data:`TICKET_LIFETIME` seconds or when the page mints a newer one.
The export is noted in the audit log when the stream ends (with the count sent, also when the browser stops).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from dashboard.services.hub import StoreHub
from dashboard.services.memories import export_stream
from memory_core.access import Actor
from memory_core.records import MemoryFilter

ROUTE = "/memdash/download/{ticket}"
TICKET_LIFETIME = 15 * 60
MIME = {"jsonl": "application/jsonl", "csv": "text/csv"}


@dataclass(frozen=True)
class Ticket:
    """What one download link may stream, and for whom."""

    hub: StoreHub
    actor: Actor
    store: str
    flt: MemoryFilter
    fmt: str
    owner: str
    expires: float = field(default_factory=lambda: time.monotonic() + TICKET_LIFETIME)

    @property
    def file_name(self) -> str:
        return f"{self.store}-memories.{self.fmt}"

    def chunks(self, size: int = 2**16) -> Iterator[bytes]:
        """The export in pieces of about ``size`` bytes (each piece is one trip through the server's threads)."""
        stream = export_stream(self.hub, self.actor, self.store, self.flt, self.fmt)
        try:
            buffer: list[str] = []
            held = 0
            for line in stream:
                buffer.append(line)
                held += len(line)
                if held >= size:
                    yield "".join(buffer).encode()
                    buffer, held = [], 0
            if buffer:
                yield "".join(buffer).encode()
        finally:
            stream.close()  # a browser that went away: the audit entry says how far it got


class _Tickets:
    """The live tickets of this process; one per (session, purpose), the newest replacing the older."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_token: dict[str, Ticket] = {}
        self._by_owner: dict[str, str] = {}
        self.served = False  # True while dashboard.server's app runs (its lifespan)

    def mint(self, ticket: Ticket) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._expire()
            self._by_token.pop(self._by_owner.get(ticket.owner, ""), None)
            self._by_token[token] = ticket
            self._by_owner[ticket.owner] = token
        return token

    def get(self, token: str) -> Ticket | None:
        with self._lock:
            self._expire()
            return self._by_token.get(token)

    def _expire(self) -> None:
        now = time.monotonic()
        for token, ticket in list(self._by_token.items()):
            if ticket.expires <= now:
                del self._by_token[token]
                if self._by_owner.get(ticket.owner) == token:
                    del self._by_owner[ticket.owner]


TICKETS = _Tickets()


def link(ticket: Ticket) -> str:
    """A relative link that streams ``ticket``'s export (valid until it lapses or the page renders again)."""
    return ROUTE.format(ticket=TICKETS.mint(ticket)).lstrip("/")
