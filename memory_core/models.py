"""The toolkit's memory models, field for field (``nat.memory.models``, v1.5-1.9).

Only ``user_id`` is required; there is no id field and ``add_items`` returns ``None``.
Browsing additions (ids, versions, timestamps) live in :mod:`memory_core.records`.
"""

import typing

from pydantic import BaseModel, ConfigDict, Field


class MemoryItem(BaseModel):
    """A single memory: a conversation and/or a memory text, with tags and metadata, for one user."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "conversation": [
                        {"role": "user", "content": "Hi, I'm into rock hiking. Any recommendations?"},
                        {"role": "assistant", "content": "Sure, what's your favourite place to hike?"},
                    ],
                    "user_id": "user_abc",
                    "metadata": {"key_value_pairs": {"type": "technology", "relevance": "high"}},
                    "memory": "User enjoys rock hiking.",
                }
            ]
        },
        arbitrary_types_allowed=True,
        populate_by_name=True,
    )

    conversation: list[dict[str, str]] | None = Field(
        default=None,
        description='List of conversation messages. Each message must have a "role" key (user or assistant. '
        'It must also have a "content" key.',
    )
    tags: list[str] = Field(default_factory=list, description="List of tags applied to the item.")
    metadata: dict[str, typing.Any] = Field(description="Metadata about the memory item.", default={})
    user_id: str = Field(description="The user's ID.")
    memory: str | None = Field(default=None)
    similarity_score: float | None = Field(
        description="Similarity to semantic search query. Distance metric is implementation-dependent.",
        default=None,
    )


class SearchMemoryInput(BaseModel):
    """Input of the 1.8-shaped ``get_memory`` tool."""

    model_config = ConfigDict(
        json_schema_extra={"example": {"query": "What is the user's favourite food?", "top_k": 1,
                                       "user_id": "user_abc"}}
    )

    query: str = Field(description="Search query for which to retrieve memory.")
    top_k: int = Field(description="Maximum number of memories to return")
    user_id: str = Field(description="ID of the user to search for")


class DeleteMemoryInput(BaseModel):
    """Input of the 1.8-shaped ``delete_memory`` tool."""

    model_config = ConfigDict(json_schema_extra={"example": {"user_id": "user_abc"}})

    user_id: str = Field(
        description="ID of the user to delete memory for. Careful when using this tool; "
        "make sure you use the username present in the conversation."
    )
