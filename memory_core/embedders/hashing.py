"""``hashing``: a deterministic, offline feature-hashing embedder.

Word n-grams and character n-grams of each word are hashed with BLAKE2b (stable across processes and
machines, unlike ``hash()``) into a signed vector, which is then L2-normalised. No model, no network: for
tests, demos and toolkit interop checks that need a small embedder whose vectors never change. Texts that
share words or word fragments get similar vectors; it does not know synonyms.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator

import numpy as np
from pydantic import Field

from memory_core.embedders.base import Embedder, normalise
from memory_core.items import tokens
from memory_core.registry import register_embedder
from memory_core.typed import EmbedderBaseConfig

_THREAD_THRESHOLD = 256  # batches larger than this are hashed in a worker thread


class HashingEmbedderConfig(EmbedderBaseConfig, name="hashing"):
    """Feature hashing of words and word fragments; the same text always gives the same vector."""

    dimension: int = Field(default=256, ge=8, le=65536, description="Length of each vector.")
    word_ngrams: int = Field(default=1, ge=1, le=3, description="Hash word n-grams up to this length.")
    char_ngrams: int = Field(default=3, ge=0, le=6,
                             description="Length of the character n-grams hashed per word (0 turns them off).")


class HashingEmbedder(Embedder):
    """Signed feature hashing: each feature adds ±1 at the bucket its hash picks."""

    def __init__(self, config: HashingEmbedderConfig | None = None) -> None:
        self.config = config or HashingEmbedderConfig()
        self.dimension = self.config.dimension
        self.model_id = f"hashing|dim={self.dimension}|words={self.config.word_ngrams}|chars={self.config.char_ngrams}"

    async def embed(self, texts: list[str]) -> np.ndarray:
        if len(texts) > _THREAD_THRESHOLD:
            return await asyncio.to_thread(self.embed_sync, texts)
        return self.embed_sync(texts)

    def embed_sync(self, texts: list[str]) -> np.ndarray:
        """Vectors without an event loop; empty texts give zero rows."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self.features(text):
                bucket, sign = _bucket(feature, self.dimension)
                vectors[row, bucket] += sign
        return normalise(vectors)

    def features(self, text: str) -> Iterator[str]:
        """The hashed features of a text, prefixed by kind so a word never collides with a fragment."""
        words = tokens(text)
        for n in range(1, self.config.word_ngrams + 1):
            for i in range(len(words) - n + 1):
                yield "w:" + " ".join(words[i:i + n])
        size = self.config.char_ngrams
        if size:
            for word in words:
                padded = f"<{word}>"
                for i in range(max(1, len(padded) - size + 1)):
                    yield "c:" + padded[i:i + size]


def _bucket(feature: str, dimension: int) -> tuple[int, float]:
    """Stable bucket and sign of a feature, from one 64-bit BLAKE2b digest."""
    value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
    return value % dimension, 1.0 if value >> 63 else -1.0


@register_embedder(HashingEmbedderConfig)
async def hashing_embedder(config: HashingEmbedderConfig, builder: object) -> AsyncIterator[HashingEmbedder]:
    yield HashingEmbedder(config)
