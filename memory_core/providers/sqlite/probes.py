"""Fixed sample items whose treatment by :mod:`memory_core.retrieval` identifies its text functions.

The store records the fingerprint of ``document_fields`` (with the index) and of ``embedding_text`` (with
the vectors). When retrieval is tuned and a fingerprint changes, the next open rebuilds the index or
re-embeds, so stored text is never analysed differently from the queries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from memory_core.models import MemoryItem

PROBES = (
    MemoryItem(user_id="probe", memory="Caroline went running with the dogs; she studies painting.",
               tags=["hobby", "Outdoor"], metadata={"date": "2023-05-08T13:56", "session": 3, "speaker": "Caroline"}),
    MemoryItem(user_id="probe", conversation=[{"role": "Melanie", "content": "I'm swamped with the kids & work!"},
                                              {"role": "assistant", "content": "Crème brûlée at 8:30, 2 cafés?"}],
               metadata={"timestamp": "2024-02-29T07:00:00Z", "dia_id": "D1:2"}),
    MemoryItem(user_id="probe", memory="Flies, cities and happily agreed hopping",
               conversation=[{"role": "user", "content": "Flies, cities and happily agreed hopping"},
                             {"role": "user", "content": "Ich laufe über die Straße"}],
               tags=["x"], metadata={"created_at": "yesterday", "nested": {"date": "2020-01-01"}}),
    MemoryItem(user_id="probe", memory="Cafe\u0301 au lait, ＴＥＡ and ﬁsh in 東京 🚀"),  # Unicode forms
)


def fingerprint(fn: Callable[[MemoryItem], Any]) -> str:
    """A short hash of what ``fn`` makes of every probe."""
    outputs = json.dumps([fn(probe) for probe in PROBES], sort_keys=True, default=str)
    return hashlib.sha256(outputs.encode()).hexdigest()[:16]
