"""EditorMemoryReader and EditorMemoryWriter over the in-memory store (and a recording stub editor)."""

from __future__ import annotations

import pytest

from memory_core.errors import InvalidInputError
from memory_core.interfaces import MemoryEditor, MemoryReader, MemoryWriter
from memory_core.io import (
    EditorMemoryReader,
    EditorMemoryWriter,
    context_queries,
    derive_tags,
    parse_conversation,
)
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.records import MemoryFilter


class RecordingEditor(MemoryEditor):
    """Returns canned hits (without scores, like mem0) and records every search."""

    def __init__(self, hits: list[MemoryItem]) -> None:
        self.hits = hits
        self.searches: list[tuple[str, int, dict]] = []

    async def add_items(self, items: list[MemoryItem], **kwargs) -> None:
        raise AssertionError("not used")

    async def search(self, query: str, top_k: int = 5, **kwargs) -> list[MemoryItem]:
        self.searches.append((query, top_k, kwargs))
        return [h.model_copy() for h in self.hits[:top_k]]

    async def remove_items(self, **kwargs) -> None:
        raise AssertionError("not used")


@pytest.fixture
async def editor() -> InMemoryEditor:
    store = InMemoryEditor()
    await store.add_items([
        MemoryItem(user_id="ann", memory="Ann prefers window seats on flights"),
        MemoryItem(user_id="ann", memory="Ann is allergic to shellfish"),
        MemoryItem(user_id="ann", memory="Ann's dog is called Biscuit"),
        MemoryItem(user_id="ben", memory="Ben is allergic to shellfish too"),
    ])
    return store


# --- writer ------------------------------------------------------------------------------------------------
async def test_write_observation_alone(editor: InMemoryEditor) -> None:
    writer = EditorMemoryWriter(editor, "cat")
    assert isinstance(writer, MemoryWriter)
    [item] = await writer.write("  Cat loves jazz and is allergic to penicillin ")
    assert item.memory == "Cat loves jazz and is allergic to penicillin"
    assert item.conversation == [{"role": "user", "content": item.memory}]
    assert item.tags == ["preference", "health"]
    [stored] = (await editor.list_records(MemoryFilter(user_id="cat"))).records
    assert stored.item == item


async def test_write_with_a_role_context(editor: InMemoryEditor) -> None:
    writer = EditorMemoryWriter(editor, "cat", tags=["travel", "preference"], metadata={"source": "chat"})
    context = "Human: I'm flying to Rome next week.\nI need a hotel.\nAI: Any preferences?\nuser: near the centre"
    [item] = await writer.write("Cat prefers hotels near the centre", context)
    assert item.conversation == [
        {"role": "user", "content": "I'm flying to Rome next week.\nI need a hotel."},
        {"role": "assistant", "content": "Any preferences?"},
        {"role": "user", "content": "near the centre"},
    ]
    assert item.tags == ["travel", "preference"]
    assert item.metadata == {"source": "chat"}


async def test_write_with_a_plain_context(editor: InMemoryEditor) -> None:
    [item] = await EditorMemoryWriter(editor, "cat").write("Cat has a meeting on Friday", "Note: busy week ahead")
    assert item.conversation == [{"role": "user", "content": "Note: busy week ahead"}]
    assert item.tags == ["schedule"]


async def test_writer_rejects_empty_input(editor: InMemoryEditor) -> None:
    with pytest.raises(InvalidInputError):
        await EditorMemoryWriter(editor, "cat").write("   ")
    with pytest.raises(InvalidInputError):
        EditorMemoryWriter(editor, " ")


@pytest.mark.parametrize(("text", "tags"), [
    ("My favourite colour is blue", ["preference"]),
    ("He dislikes cilantro", ["preference"]),
    ("She is lactose intolerant", ["health"]),
    ("Remind me every morning to call", ["schedule"]),
    ("My email is x@example.com", ["contact"]),
    ("The sky is blue", []),
    ("Preferably unlikely", []),
])
def test_derive_tags(text: str, tags: list[str]) -> None:
    assert derive_tags(text) == tags


def test_parse_conversation_without_roles() -> None:
    assert parse_conversation("just text\nmore") == [{"role": "user", "content": "just text\nmore"}]


# --- reader -------------------------------------------------------------------------------------------------
def test_context_queries() -> None:
    assert context_queries("   ") == []
    assert context_queries("Where does Ann sit?") == ["Where does Ann sit?"]
    chat = "user: We talked about food. What is Ann allergic to? Tell me.\nassistant: Let me check"
    assert context_queries(chat) == [chat, "Let me check", "What is Ann allergic to?"]
    long = "word " * 400 + "final question?"
    first = context_queries(long, max_chars=100)[0]
    assert len(first) <= 100 and first.endswith("final question?") and first.startswith("word")


async def test_retrieve_searches_only_the_readers_user(editor: InMemoryEditor) -> None:
    reader = EditorMemoryReader(editor, "ann")
    assert isinstance(reader, MemoryReader)
    hits = await reader.retrieve("user: I'm booking dinner.\nuser: Is Ann allergic to anything?", top_k=3)
    assert hits[0].memory == "Ann is allergic to shellfish"
    assert {h.user_id for h in hits} == {"ann"}
    assert len({h.memory for h in hits}) == len(hits)
    scores = [h.similarity_score for h in hits]
    assert scores == sorted(scores, reverse=True)


async def test_retrieve_respects_top_k_and_threshold(editor: InMemoryEditor) -> None:
    assert len(await EditorMemoryReader(editor, "ann").retrieve("Ann seats dog shellfish", top_k=2)) == 2
    strict = EditorMemoryReader(editor, "ann", similarity_threshold=0.99)
    assert await strict.retrieve("Ann seats dog shellfish") == []
    assert await EditorMemoryReader(editor, "ann").retrieve("") == []


async def test_retrieve_passes_user_and_threshold_and_dedupes_unscored_hits() -> None:
    hits = [MemoryItem(user_id="dee", memory="a"), MemoryItem(user_id="dee", memory="b")]
    stub = RecordingEditor(hits)
    found = await EditorMemoryReader(stub, "dee", similarity_threshold=0.3).retrieve("intro\nwhat now?", top_k=4)
    assert [h.memory for h in found] == ["a", "b"]
    assert [q for q, _, _ in stub.searches] == ["intro\nwhat now?", "what now?"]
    assert all(kw == {"user_id": "dee", "similarity_threshold": 0.3} and k == 4 for _, k, kw in stub.searches)
    await EditorMemoryReader(stub, "dee").retrieve("x")
    assert stub.searches[-1][2] == {"user_id": "dee"}
