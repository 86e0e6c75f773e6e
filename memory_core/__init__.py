"""memdash's memory library: the NeMo Agent Toolkit memory API with real stores."""

from memory_core.interfaces import MemoryBrowser, MemoryEditor, MemoryManager, MemoryReader, MemoryWriter
from memory_core.models import DeleteMemoryInput, MemoryItem, SearchMemoryInput

__all__ = [
    "DeleteMemoryInput",
    "MemoryBrowser",
    "MemoryEditor",
    "MemoryItem",
    "MemoryManager",
    "MemoryReader",
    "MemoryWriter",
    "SearchMemoryInput",
]
