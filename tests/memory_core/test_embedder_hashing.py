"""The deterministic offline feature-hashing embedder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from memory_core.builder import MemoryBuilder
from memory_core.config import parse_config
from memory_core.embedders.hashing import HashingEmbedder, HashingEmbedderConfig


async def test_unit_vectors_of_the_configured_dimension() -> None:
    embedder = HashingEmbedder(HashingEmbedderConfig(dimension=64))
    vectors = await embedder.embed(["I like green tea", "Allergic to peanuts", ""])
    assert vectors.shape == (3, 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-6)
    assert not vectors[2].any()
    assert (await embedder.embed([])).shape == (0, 64)


async def test_similar_texts_are_closer_than_unrelated_ones() -> None:
    embedder = HashingEmbedder()
    tea, teas, cars = await embedder.embed(["the user likes green tea", "User likes green teas!",
                                            "quarterly revenue forecast for trucks"])
    assert tea @ teas > 0.7
    assert tea @ teas > tea @ cars + 0.4


def test_vectors_are_stable_across_processes() -> None:
    """BLAKE2b, not ``hash()``: a fresh interpreter with another hash seed gives identical vectors."""
    code = ("from memory_core.embedders.hashing import HashingEmbedder as H;"
            "print(H().embed_sync(['stable vectors please']).tobytes().hex())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "12345", "PATH": ""}, cwd=Path(__file__).parents[2])
    assert other.stdout.strip() == HashingEmbedder().embed_sync(["stable vectors please"]).tobytes().hex()


async def test_options_change_the_features_and_the_model_id() -> None:
    words_only = HashingEmbedder(HashingEmbedderConfig(char_ngrams=0, word_ngrams=2))
    assert list(words_only.features("Green tea, hot")) == ["w:green", "w:tea", "w:hot", "w:green tea", "w:tea hot"]
    assert "c:<te" in set(HashingEmbedder().features("tea"))
    assert words_only.model_id != HashingEmbedder().model_id
    assert HashingEmbedder().model_id == "hashing|dim=256|words=1|chars=3"


async def test_large_batches_match_small_ones() -> None:
    embedder = HashingEmbedder(HashingEmbedderConfig(dimension=32))
    texts = [f"memory number {i}" for i in range(300)]
    assert np.array_equal(await embedder.embed(texts), embedder.embed_sync(texts))


def test_config_bounds() -> None:
    with pytest.raises(ValidationError):
        HashingEmbedderConfig(dimension=2)


async def test_built_from_yaml() -> None:
    config = parse_config("embedders:\n  small:\n    _type: hashing\n    dimension: 48\n")
    async with MemoryBuilder(config) as builder:
        embedder = await builder.get_embedder("small")
        assert embedder.dimension == 48
        assert (await embedder.embed(["hello"])).shape == (1, 48)
