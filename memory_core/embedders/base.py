"""The embedder interface every store uses for vector search."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors.

    ``model_id`` names the vector space (model and dimension): a store that finds vectors made by another
    ``model_id`` must re-embed rather than compare them.
    """

    model_id: str
    dimension: int

    @abstractmethod
    async def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors of shape ``(len(texts), dimension)``, each of unit length."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most embedders hold nothing
        """Release clients or models."""


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale rows to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
