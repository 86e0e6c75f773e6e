"""Items, editors and embedders across the two APIs: the toolkit's classes and memdash's have the same fields
and methods but are different classes, so each side gets its own objects (and its own copies of metadata)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np
from nat.memory.interfaces import MemoryEditor as ToolkitEditor
from nat.memory.models import MemoryItem as ToolkitItem
from pydantic import BaseModel

from memory_core.embedders.base import Embedder, normalise
from memory_core.errors import MemdashError
from memory_core.interfaces import MemoryEditor
from memory_core.items import validate_items
from memory_core.models import MemoryItem
from memory_core.provenance import stamped


def toolkit_model_id(config: BaseModel) -> str:
    """The ``model_id`` of a toolkit embedder: its type and a digest of its settings (secrets masked), the same
    whichever side builds it, so a store opened by both never mixes vector spaces."""
    settings = json.dumps(config.model_dump(mode="json", exclude={"type"}), sort_keys=True)
    return f"{type(config).full_type}|{hashlib.sha256(settings.encode()).hexdigest()[:16]}"


def to_toolkit_item(item: MemoryItem) -> ToolkitItem:
    return ToolkitItem.model_validate(item.model_dump())


def to_memdash_item(item: BaseModel | dict[str, Any]) -> MemoryItem:
    return MemoryItem.model_validate(item.model_dump() if isinstance(item, BaseModel) else item)


class ToolkitFacade(ToolkitEditor):
    """A memdash store as the toolkit's ``MemoryEditor`` (what ``memdash_*`` stores are in a toolkit workflow).

    ``store`` is the memdash store itself, for its browsing interface."""

    def __init__(self, store: MemoryEditor) -> None:
        self.store = store

    async def add_items(self, items: list[ToolkitItem], **kwargs: Any) -> None:
        await self.store.add_items([stamped(to_memdash_item(item)) for item in items], **kwargs)

    async def search(self, query: str, top_k: int = 5, **kwargs: Any) -> list[ToolkitItem]:
        return [to_toolkit_item(item) for item in await self.store.search(query, top_k, **kwargs)]

    async def remove_items(self, **kwargs: Any) -> None:
        await self.store.remove_items(**kwargs)


# What memdash found a toolkit plugin's own editor to get wrong, shown beside the store
# (tests/memory_core/test_nat_stores.py)
KNOWN_LIMITS = {
    "memmachine_memory": "The toolkit's MemMachine editor (nvidia-nat-memmachine 1.9 with memmachine-client 0.3) "
                         "does not scope memories by user: the client drops the user_id it is given, so every "
                         "user's search returns every user's memories, and it cannot delete a user's memories.",
}


class ToolkitStore(MemoryEditor):
    """A toolkit plugin's editor as a memdash store: add, search and remove only, so it declares no browsing
    capabilities and the dashboard says what it cannot do (and, in ``notes``, what memdash knows it gets wrong).
    Its failures (any exception type) become ``MemdashError`` naming the original, which the dashboard reports
    as messages."""

    def __init__(self, editor: ToolkitEditor, toolkit_type: str = "") -> None:
        self.editor = editor
        self.notes = [KNOWN_LIMITS[toolkit_type]] if toolkit_type in KNOWN_LIMITS else []

    async def add_items(self, items: list[MemoryItem], **kwargs: Any) -> None:
        converted = [to_toolkit_item(item) for item in validate_items(items)]
        with _reported("add_items"):
            await self.editor.add_items(converted, **kwargs)

    async def search(self, query: str, top_k: int = 5, **kwargs: Any) -> list[MemoryItem]:
        with _reported("search"):
            found = await self.editor.search(query, top_k, **kwargs)
        return [to_memdash_item(item) for item in found]

    async def remove_items(self, **kwargs: Any) -> None:
        with _reported("remove_items"):
            await self.editor.remove_items(**kwargs)


@contextlib.contextmanager
def _reported(method: str) -> Iterator[None]:
    try:
        yield
    except MemdashError:
        raise
    except Exception as exc:  # a toolkit plugin may raise anything; the caller gets one error type
        raise MemdashError(f"the toolkit's store failed in {method}: {type(exc).__name__}: {exc}") from exc


class AsyncEmbeddings(Protocol):
    """The part of LangChain's ``Embeddings`` memdash uses."""

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]: ...

    async def aembed_query(self, text: str) -> list[float]: ...


class ToolkitEmbedder(Embedder):
    """A toolkit embedder (its LangChain client) as a memdash ``Embedder``; vectors are L2-normalised."""

    def __init__(self, client: AsyncEmbeddings, model_id: str, dimension: int) -> None:
        self.client = client
        self.model_id = model_id
        self.dimension = dimension

    @classmethod
    async def open(cls, client: AsyncEmbeddings, model_id: str) -> ToolkitEmbedder:
        """Finds the dimension by embedding "test", as the toolkit's stores do."""
        return cls(client, model_id, len(await client.aembed_query("test")))

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return normalise(np.asarray(await self.client.aembed_documents(list(texts)), dtype=np.float32))
