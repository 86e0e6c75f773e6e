"""Embedders configured under ``embedders:``; stores get them with ``builder.get_embedder(name)``."""

from memory_core.embedders.base import Embedder

__all__ = ["Embedder"]
