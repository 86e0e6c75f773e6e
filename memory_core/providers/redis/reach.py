"""What the agent's own search can find in a Redis store: the toolkit's ``redis_memory`` runs KNN on its
vector index, so a document without a vector of that index's dimension is never returned to the agent."""

from __future__ import annotations

import collections
import json
from collections.abc import Sequence
from typing import Any

from memory_core.providers.redis.access import CHUNK, Documents
from memory_core.providers.redis.schema import VectorIndex, existing_vector_index
from memory_core.reach import Reach, Unfindable

NO_INDEX = "no vector index of the toolkit's shape covers these documents, so the agent's search has nothing to run on"


def reason(dim: int | None, index: VectorIndex | None) -> str | None:
    """Why a document whose vector has ``dim`` dimensions (``None``: no vector) is not found, or ``None``."""
    if index is None:
        return NO_INDEX
    if dim is None:
        return f"no vector: the agent's search (KNN on {index.name}) never returns it"
    if dim != index.dim:
        return f"a {dim}-dimensional vector, where the agent's index {index.name} holds {index.dim}"
    return None


async def vector_dims(docs: Documents, keys: Sequence[str]) -> dict[str, int | None]:
    """Each JSON document's vector length (``None``: none); keys that are not memory documents left out."""
    async def pipelined(client: Any) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.execute_command("JSON.ARRLEN", key, "$.embedding")
        return await pipe.execute(raise_on_error=False)

    found: dict[str, int | None] = {}
    for key, reply in zip(keys, await docs.link.run(pipelined), strict=True):
        if isinstance(reply, list):
            found[key] = reply[0] if reply and isinstance(reply[0], int) else None
    return found


async def unfindable_reason(docs: Documents, index: VectorIndex | None, key: str) -> str | None:
    dims = await vector_dims(docs, [key])
    return reason(dims[key], index) if key in dims else None


async def reach(docs: Documents, index: VectorIndex | None, examples: int, repairable: bool) -> Reach:
    """Counts over every document under the prefix (by ``SCAN``, a chunk of keys per round trip)."""
    index = index or await existing_vector_index(docs.link, docs.space)
    total, reasons, found = 0, collections.Counter[str](), []
    async for keys in docs.scan():
        for start in range(0, len(keys), CHUNK):
            for key, dim in (await vector_dims(docs, keys[start:start + CHUNK])).items():
                total += 1
                why = reason(dim, index)
                if why:
                    reasons[_kind(dim, index)] += 1
                    if len(found) < examples:
                        found.append(Unfindable(docs.space.id_of(key) or key, why))
    return Reach(total, sum(reasons.values()), dict(reasons), found, repairable and index is not None)


def _kind(dim: int | None, index: VectorIndex | None) -> str:
    if index is None:
        return "no vector index"
    return "no vector" if dim is None else f"{dim}-dimensional vector (the index holds {index.dim})"


def vector_json(vector: Any) -> str:
    return json.dumps([float(x) for x in vector])
