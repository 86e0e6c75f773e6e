"""Working ``MemoryReader`` and ``MemoryWriter`` over any editor (the toolkit ships only the interfaces).

* :class:`EditorMemoryReader` searches one user's memories with a few queries made from the context (the
  context itself, its last line, its last question) and merges the hits without duplicates.
* :class:`EditorMemoryWriter` stores an observation as one ``MemoryItem`` with the context as its
  conversation and tags from a small, fixed set of keyword rules (:data:`TAG_RULES`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from memory_core.errors import InvalidInputError
from memory_core.interfaces import MemoryEditor, MemoryReader, MemoryWriter
from memory_core.models import MemoryItem

ROLES = {"user": "user", "human": "user", "assistant": "assistant", "ai": "assistant", "system": "system",
         "tool": "tool"}
_ROLE_LINE = re.compile(r"^\s*(" + "|".join(ROLES) + r")\s*:\s?(.*)$", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")

# Tag -> words that earn it (whole words, case-insensitive). Deliberately few and literal: a tag is a hint
# for browsing and filtering, not a classification. "like" also matches comparisons ("looks like").
TAG_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("preference", re.compile(r"\b(prefers?|preferred|preferences?|likes?|liked|loves?|loved|enjoys?|enjoyed|"
                              r"favou?rites?|hates?|hated|dislikes?|disliked)\b", re.IGNORECASE)),
    ("health", re.compile(r"\b(allerg\w*|intoleran\w*|vegan|vegetarian|gluten|medications?|medicine|doctor|"
                          r"diabet\w*|asthma|injur\w*)\b", re.IGNORECASE)),
    ("schedule", re.compile(r"\b(meetings?|appointments?|deadlines?|schedule[sd]?|remind(er)?s?|tomorrow|"
                            r"weekly|daily|every (day|week|month|morning|evening))\b", re.IGNORECASE)),
    ("contact", re.compile(r"\b(e-?mail|phone|address|contact)\b", re.IGNORECASE)),
)


def derive_tags(text: str) -> list[str]:
    """The :data:`TAG_RULES` tags whose words occur in ``text``, in rule order."""
    return [tag for tag, pattern in TAG_RULES if pattern.search(text)]


def sentences(text: str) -> list[str]:
    """Sentences and lines of ``text``, stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def parse_conversation(context: str) -> list[dict[str, str]]:
    """``"role: content"`` lines as messages; anything else is one user message.

    Lines that do not start with a role continue the previous message. Roles ``human``/``ai`` become
    ``user``/``assistant``.
    """
    lines = [line for line in context.strip().splitlines() if line.strip()]
    if not lines or not _ROLE_LINE.match(lines[0]):
        return [{"role": "user", "content": context.strip()}]
    messages: list[dict[str, str]] = []
    for line in lines:
        match = _ROLE_LINE.match(line)
        if match:
            messages.append({"role": ROLES[match.group(1).lower()], "content": match.group(2).strip()})
        else:
            messages[-1]["content"] = f"{messages[-1]['content']}\n{line.strip()}".strip()
    return messages


def context_queries(context: str, *, max_chars: int = 1000) -> list[str]:
    """Search queries for a context: the context (its tail when long), its last line and its last question."""
    text = context.strip()
    if not text:
        return []
    if len(text) > max_chars:
        tail = text[-max_chars:]
        text = tail.split(None, 1)[-1] if " " in tail else tail
    lines = [_strip_role(line) for line in text.splitlines() if line.strip()]
    questions = [s for line in lines for s in sentences(line) if s.endswith("?")]
    candidates = [text, lines[-1] if len(lines) > 1 else "", questions[-1] if questions else ""]
    queries: list[str] = []
    for query in candidates:
        if query and query.casefold() not in {q.casefold() for q in queries}:
            queries.append(query)
    return queries


def _strip_role(line: str) -> str:
    match = _ROLE_LINE.match(line)
    return match.group(2).strip() if match else line.strip()


def _identity(item: MemoryItem) -> str:
    """What makes two search hits the same memory (items have no id)."""
    return json.dumps(item.model_dump(mode="json", exclude={"similarity_score"}), sort_keys=True)


class EditorMemoryReader(MemoryReader):
    """Retrieves one user's memories relevant to a context, through any editor's ``search``."""

    def __init__(self, editor: MemoryEditor, user_id: str, *, similarity_threshold: float | None = None) -> None:
        super().__init__(editor)
        if not user_id.strip():
            raise InvalidInputError("a reader needs a non-empty user_id")
        self.user_id = user_id
        self.similarity_threshold = similarity_threshold

    async def retrieve(self, context: str, top_k: int = 5) -> list[MemoryItem]:
        """Best ``top_k`` hits over every query of :func:`context_queries`, each memory once, best score first."""
        best: dict[str, MemoryItem] = {}
        for query in context_queries(context):
            for item in await self._editor.search(query, top_k=top_k, **self._search_kwargs()):
                key = _identity(item)
                if key not in best or _score(item) > _score(best[key]):
                    best[key] = item
        return sorted(best.values(), key=_score, reverse=True)[:top_k]

    def _search_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"user_id": self.user_id}
        if self.similarity_threshold is not None:
            kwargs["similarity_threshold"] = self.similarity_threshold
        return kwargs


def _score(item: MemoryItem) -> float:
    return item.similarity_score if item.similarity_score is not None else float("-inf")


class EditorMemoryWriter(MemoryWriter):
    """Stores observations for one user through any editor's ``add_items``."""

    def __init__(self, editor: MemoryEditor, user_id: str, *, tags: Sequence[str] = (),
                 metadata: dict[str, Any] | None = None) -> None:
        super().__init__(editor)
        if not user_id.strip():
            raise InvalidInputError("a writer needs a non-empty user_id")
        self.user_id = user_id
        self.tags = list(tags)
        self.metadata = dict(metadata or {})

    async def write(self, observation: str, context: str | None = None) -> list[MemoryItem]:
        """Store ``observation`` as one memory and return it.

        The conversation is ``context`` parsed by :func:`parse_conversation`, or, without context, the
        observation as a user message (as the toolkit's ``add_memory`` tool does).
        """
        memory = observation.strip()
        if not memory:
            raise InvalidInputError("an observation must not be empty")
        conversation = parse_conversation(context) if context and context.strip() else [
            {"role": "user", "content": memory}]
        tags = list(dict.fromkeys([*self.tags, *derive_tags(memory)]))
        item = MemoryItem(user_id=self.user_id, memory=memory, conversation=conversation, tags=tags,
                          metadata=dict(self.metadata))
        await self._editor.add_items([item.model_copy(deep=True)])
        return [item]
