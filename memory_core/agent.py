"""A small memory agent over the toolkit's ``get_memory`` / ``add_memory`` tools (the dashboard's Playground).

One turn: :func:`recall` the user's memories with ``get_memory``, stream a reply (:meth:`Agent.reply`), then
:func:`remember` the facts worth keeping (:meth:`Agent.facts`) with ``add_memory``. Two agents:

* :class:`OfflineAgent`: deterministic. Facts are the user's sentences that state a preference
  (:func:`extract_preferences`); the reply is a template citing the memories it was given.
* :class:`LlmAgent`: an OpenAI-compatible model (:mod:`memory_core.llm`); the memories go in a system message,
  the facts are a JSON list the model is asked for (garbage is ignored). When the endpoint fails before the
  reply starts (unreachable, 401, ...) the turn falls back to the offline agent and :attr:`LlmAgent.fallback`
  says why.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from memory_core.config import MemdashConfig
from memory_core.errors import ConfigError, StoreUnavailableError
from memory_core.io import derive_tags, sentences
from memory_core.llm import LlmConfig, chat, llm_config, stream_chat
from memory_core.models import MemoryItem
from memory_core.tools import MemoryTool

Message = dict[str, str]
MAX_FACTS = 5
MAX_FACT_CHARS = 300
_FIRST_PERSON = r"(?:i|i[’']m|i am|my)"
_TRIGGER = (r"(?:like|likes|love|loves|prefer|prefers|hate|hates|dislike|dislikes|enjoy|enjoys|allergic|always|"
            r"never|favou?rite)")
_PREFERENCE = re.compile(rf"\b{_FIRST_PERSON}\s+(?:[\w’'-]+\s+){{0,3}}?{_TRIGGER}\b", re.IGNORECASE)
_NOT_A_STATEMENT = re.compile(r"^(?:what|who|when|where|why|how|which|do|does|did|can|could|would|will|should|"
                              r"tell|remind|show|list)\b|\b(?:would|[’']d) like\b", re.IGNORECASE)
_MEMORIES_PREFIX = "Memories as a JSON:"
SYSTEM_PROMPT = ("You are a helpful assistant with a long-term memory of this user. What you remember about "
                 "them (JSON, best match first):\n{memories}\nUse it when it helps; do not invent memories.")
FACTS_PROMPT = ("From the user's message below, list the facts about the user worth remembering in later "
                "conversations (preferences, allergies, habits, favourites), each a short sentence. Answer with "
                "a JSON array of strings only, [] when there is nothing to remember.")


class Agent(Protocol):
    label: str

    def reply(self, message: str, memories: Sequence[MemoryItem], history: Sequence[Message]) -> AsyncIterator[str]:
        """The answer to ``message``, as text chunks."""
        ...

    async def facts(self, message: str) -> list[str]:
        """What to remember from ``message``."""
        ...


def extract_preferences(text: str) -> list[str]:
    """The sentences of ``text`` in which the speaker states a preference, an allergy or a habit."""
    return [s for s in sentences(text)
            if _PREFERENCE.search(s) and not s.endswith("?") and not _NOT_A_STATEMENT.search(s)]


def parse_facts(text: str) -> list[str]:
    """The strings of the first JSON array in ``text`` (a model's answer), at most :data:`MAX_FACTS`; ``[]`` for
    anything else."""
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return []
    try:
        values = json.loads(text[start:end + 1])
    except ValueError:
        return []
    if not isinstance(values, list):
        return []
    facts = [v.strip() for v in values if isinstance(v, str) and v.strip() and len(v) <= MAX_FACT_CHARS]
    return list(dict.fromkeys(facts))[:MAX_FACTS]


def parse_memories(tool_output: str) -> list[MemoryItem]:
    """The items of a ``get_memory`` answer (``"Memories as a JSON: \\n[...]"``)."""
    payload = tool_output.removeprefix(_MEMORIES_PREFIX)
    return [MemoryItem.model_validate(value) for value in json.loads(payload)]


async def recall(get_tool: MemoryTool, message: str, top_k: int) -> list[MemoryItem]:
    """The user's memories relevant to ``message``, through the ``get_memory`` tool."""
    return parse_memories(await get_tool.ainvoke({"query": message, "top_k": top_k}))


async def remember(add_tool: MemoryTool, facts: Sequence[str], message: str) -> None:
    """Store each fact through the ``add_memory`` tool, the user's message as its conversation, tags from
    :data:`memory_core.io.TAG_RULES`."""
    for fact in facts:
        await add_tool.ainvoke({"memory": fact, "tags": derive_tags(fact), "metadata": {"source": "playground"},
                                "conversation": [{"role": "user", "content": message}]})


def _score(item: MemoryItem) -> str:
    return f" (score {item.similarity_score:.2f})" if item.similarity_score is not None else ""


def offline_answer(message: str, memories: Sequence[MemoryItem]) -> str:
    """The offline agent's templated reply: what it remembers, and what it will remember from ``message``."""
    if memories:
        lines = ["Here is what I remember about you:", *(f"- {m.memory}{_score(m)}" for m in memories)]
    else:
        lines = ["I don't remember anything about you that matches this yet."]
    facts = extract_preferences(message)
    if facts:
        lines.append("I'll remember: " + " ".join(facts))
    return "\n".join(lines)


class OfflineAgent:
    """Rule-based and deterministic: no model, no network. ``reason`` says why no model is used."""

    def __init__(self, reason: str = "no LLM configured") -> None:
        self.reason = reason

    @property
    def label(self) -> str:
        return f"Offline agent ({self.reason})"

    async def reply(self, message: str, memories: Sequence[MemoryItem],
                    history: Sequence[Message] = ()) -> AsyncIterator[str]:
        for word in re.split(r"(?<=\s)", offline_answer(message, memories)):
            yield word

    async def facts(self, message: str) -> list[str]:
        return extract_preferences(message)


class LlmAgent:
    """An OpenAI-compatible model; falls back to :class:`OfflineAgent` for the turn when the endpoint fails."""

    def __init__(self, config: LlmConfig) -> None:
        self.config = config
        self.fallback: str | None = None  # why this turn ran offline
        self._offline = OfflineAgent("the LLM failed")

    @property
    def label(self) -> str:
        return f"LLM: {self.config.model_name} at {self.config.url.removesuffix('/chat/completions')}"

    async def reply(self, message: str, memories: Sequence[MemoryItem],
                    history: Sequence[Message] = ()) -> AsyncIterator[str]:
        memories_json = json.dumps([m.model_dump(mode="json", include={"memory", "tags", "similarity_score"})
                                    for m in memories], ensure_ascii=False)
        messages = [{"role": "system", "content": SYSTEM_PROMPT.format(memories=memories_json)}, *history,
                    {"role": "user", "content": message}]
        started = False
        try:
            async for chunk in stream_chat(self.config, messages):
                started = True
                yield chunk
        except StoreUnavailableError as exc:
            if started:
                yield f"\n[the reply was cut: {exc}]"
                return
            self.fallback = str(exc)
            async for chunk in self._offline.reply(message, memories, history):
                yield chunk

    async def facts(self, message: str) -> list[str]:
        if self.fallback is not None:
            return await self._offline.facts(message)
        try:
            answer = await chat(self.config, [{"role": "system", "content": FACTS_PROMPT},
                                              {"role": "user", "content": message}])
        except StoreUnavailableError as exc:
            self.fallback = str(exc)
            return await self._offline.facts(message)
        return parse_facts(answer)


def agent_for(config: MemdashConfig | None) -> Agent:
    """The model named by ``memdash: {playground: {llm: NAME}}``, else the config's first ``llms:`` entry; the
    offline agent, saying why, when there is none or it is misconfigured."""
    if config is None or not config.llms:
        return OfflineAgent()
    section = (config.sections.get("memdash") or {}).get("playground") or {}
    name = str(section.get("llm") or next(iter(config.llms)))
    try:
        return LlmAgent(llm_config(config, name))
    except ConfigError as exc:
        return OfflineAgent(f"LLM not usable: {exc}")
