"""A memdash embedder as LangChain ``Embeddings``: the client the toolkit's components (its Redis store, RAG
tools) ask for with ``builder.get_embedder(name, wrapper_type=LANGCHAIN)``. Needs ``langchain-core``."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

from langchain_core.embeddings import Embeddings

from memory_core.embedders.base import Embedder

T = TypeVar("T")


class MemdashEmbeddings(Embeddings):
    """Same vectors as the memdash embedder (unit length), as lists of floats."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return (await self.embedder.embed(list(texts))).tolist()

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.aembed_documents([text]))[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return _run(self.aembed_documents(texts))

    def embed_query(self, text: str) -> list[float]:
        return _run(self.aembed_query(text))


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from synchronous code, even when the calling thread already runs an event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
