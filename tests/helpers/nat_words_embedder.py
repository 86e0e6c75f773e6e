"""A toolkit embedder of the tests' own, registered the toolkit's way (a provider and a LangChain client), so a test
can use an embedder that only the toolkit knows. Its vectors are those of memdash's ``hashing`` embedder."""

from __future__ import annotations

from collections.abc import AsyncIterator

from langchain_core.embeddings import Embeddings
from nat.builder.builder import Builder
from nat.builder.embedder import EmbedderProviderInfo
from nat.builder.framework_enum import LLMFrameworkEnum
from nat.cli.register_workflow import register_embedder_client, register_embedder_provider
from nat.data_models.embedder import EmbedderBaseConfig

from memory_core.embedders.hashing import HashingEmbedder, HashingEmbedderConfig


class WordsEmbedderConfig(EmbedderBaseConfig, name="nat_test_words"):
    dimension: int = 64


class WordsEmbeddings(Embeddings):
    def __init__(self, dimension: int) -> None:
        self._hashing = HashingEmbedder(HashingEmbedderConfig(dimension=dimension))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._hashing.embed_sync(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


@register_embedder_provider(config_type=WordsEmbedderConfig)
async def words_provider(config: WordsEmbedderConfig, builder: Builder) -> AsyncIterator[EmbedderProviderInfo]:
    yield EmbedderProviderInfo(config=config, description="memdash tests' hashing words")


@register_embedder_client(config_type=WordsEmbedderConfig, wrapper_type=LLMFrameworkEnum.LANGCHAIN)
async def words_client(config: WordsEmbedderConfig, builder: Builder) -> AsyncIterator[WordsEmbeddings]:
    yield WordsEmbeddings(config.dimension)
