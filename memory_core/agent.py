"""A small memory agent over the toolkit's ``get_memory`` / ``add_memory`` tools (the dashboard's Playground).

One turn: :func:`recall` the user's memories with ``get_memory``, decide the facts worth keeping
(:meth:`Agent.facts`), stream a reply (:meth:`Agent.reply`; it is told which stored memories the new facts
change, :class:`Change`), then :func:`remember` the facts with ``add_memory``. Two agents:

* :class:`OfflineAgent`: deterministic. Facts are the user's statements about themselves (a preference, an
  allergy, a habit) or anything they ask it to remember, rewritten as third-person sentences about the user
  (:func:`offline_facts`); the reply is a sentence or two built from the best memories it was given
  (:func:`offline_answer`), no scores.
* :class:`LlmAgent`: an OpenAI-compatible model (:mod:`memory_core.llm`); the memories go in a system message,
  the facts are a JSON list the model is asked for (garbage is ignored). When the endpoint fails before the
  reply starts (unreachable, 401, ...) the turn falls back to the offline agent and :attr:`LlmAgent.fallback`
  says why.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from memory_core.config import MemdashConfig
from memory_core.errors import ConfigError, StoreUnavailableError
from memory_core.io import derive_tags, sentences
from memory_core.llm import LlmConfig, chat, llm_config, stream_chat
from memory_core.models import MemoryItem
from memory_core.review import contradicts
from memory_core.tools import MemoryTool

Message = dict[str, str]
MAX_FACTS = 5
MAX_FACT_CHARS = 300
MAX_RECALLED_IN_REPLY = 3
_FIRST_PERSON = r"(?:i|i[’']m|i am|my)"
_TRIGGER = (r"(?:like|likes|love|loves|prefer|prefers|hate|hates|dislike|dislikes|enjoy|enjoys|allergic|always|"
            r"never|usually|no longer|eat|drink|vegetarian|vegan|favou?rite)")
_PREFERENCE = re.compile(rf"\b{_FIRST_PERSON}\s+(?:[\w’'-]+\s+){{0,3}}?{_TRIGGER}\b", re.IGNORECASE)
_NOT_A_STATEMENT = re.compile(r"^(?:what|who|when|where|why|how|which|do|does|did|can|could|would|will|should|"
                              r"tell|remind|show|list|please|let[’']?s)\b|\b(?:would|[’']d) like\b|"
                              r"\b(?:want|need) you to\b", re.IGNORECASE)
# "Please remember: ...", "Remember that ...", "Note that ...", "FYI, ...", "Could you remember that ..."
_WRAPPER = re.compile(
    r"^(?:please[,\s]+)?(?:(?:can|could|would|will) you\s+(?:please\s+)?)?"
    r"(?:remember|note|keep in mind|bear in mind|don[’']?t forget|do not forget|make a note|take note|"
    r"for the record|fyi|f\.y\.i\.?|for your information|just so you know|btw|by the way|heads up)"
    r"(?:\s+(?:of\s+)?(?:this|that))?(?:\s*[:,;–—-]+\s*|\s*[.!]+$|\s+|$)", re.IGNORECASE)
_OPENER = re.compile(r"^(?:(?:hi|hello|hey|ok|okay|well|oh|yes|yeah|no|actually|anyway|also|so)\s*[,!]+|"
                     r"(?:and|but|also|so|plus)\s)\s*", re.IGNORECASE)
_TRAILER = re.compile(r"(?:,?\s+(?:please|thanks|thank you))?\s*[.!?…]*\s*$", re.IGNORECASE)
_ASKED_TO_REMEMBER = re.compile(r"\b(?:remember|note|forget)\s*(?:that\b|:)", re.IGNORECASE)  # "Could you ...?"
_SECOND_PERSON = re.compile(r"\b(?:you|your|yours|yourself)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z]+(?:[’'][A-Za-z]+)*")
# Words allowed between the subject and its verb ("I now prefer", "I no longer eat").
_ADVERBS_TEXT = (
    "now also really usually always never often sometimes still just only actually definitely absolutely "
    "generally mostly rarely seldom normally typically totally truly genuinely honestly personally "
    "particularly especially strongly no longer hardly barely currently recently finally already even "
    "certainly probably occasionally frequently regularly mainly simply")
_ADVERBS = frozenset(_ADVERBS_TEXT.split())
# First-person verb forms that stay as they are (modals, past forms, contractions of them).
_UNCHANGED_TEXT = (
    "can can't cannot could couldn't will won't would wouldn't should shouldn't shall must mustn't might "
    "may was wasn't were weren't did didn't had hadn't used went got took made saw came ate drank bought "
    "flew left met ran sat spent told thought wrote gave found lost knew grew began broke brought built "
    "caught chose drove fell felt forgot heard held kept led paid said sold sent slept spoke stood swam "
    "taught understood woke won wore became")
_UNCHANGED = frozenset(_UNCHANGED_TEXT.split())
_IRREGULAR = {"am": "is", "have": "has", "haven't": "hasn't", "do": "does", "don't": "doesn't", "dont": "doesn't",
              "go": "goes", "be": "is"}
# Verbs that take the user's person again after "and"/"or"/"but" ("I like tea and hate coffee").
_COORDINATED_TEXT = ("like love prefer hate dislike enjoy avoid eat drink want need have don't own speak know wear "
                     "take go")
_COORDINATED = frozenset(_COORDINATED_TEXT.split())
_MEMORIES_PREFIX = "Memories as a JSON:"
SYSTEM_PROMPT = ("You are a helpful assistant with a long-term memory of this user. What you remember about "
                 "them (JSON, best match first):\n{memories}\nUse it when it helps; do not invent memories.")
FACTS_PROMPT = ("From the user's message below, list the facts about the user worth remembering in later "
                "conversations (preferences, allergies, habits, favourites), each a short sentence in the third "
                "person that names the user (the name is on the message's first line), e.g. \"Alice prefers "
                "aisle seats.\". Answer with a JSON array of strings only, [] when there is nothing to remember.")


@dataclasses.dataclass(frozen=True)
class Change:
    """A new fact that contradicts what a stored memory says (the text of that memory is ``was``); the memory
    would say ``revised`` after the update (:func:`revised`)."""

    fact: str
    was: str
    revised: str = ""

    @property
    def proposal(self) -> str:
        return self.revised or self.fact


class Agent(Protocol):
    label: str

    def reply(self, message: str, memories: Sequence[MemoryItem], history: Sequence[Message],
              facts: Sequence[str] = (), changes: Sequence[Change] = ()) -> AsyncIterator[str]:
        """The answer to ``message``, as text chunks; ``facts`` are what will be remembered from it,
        ``changes`` the stored memories they contradict."""
        ...

    async def facts(self, message: str, user_id: str) -> list[str]:
        """What to remember from ``message``, sent by ``user_id``."""
        ...


def extract_preferences(text: str) -> list[str]:
    """The sentences of ``text`` in which the speaker states a preference, an allergy or a habit."""
    return [s for s in sentences(text)
            if _PREFERENCE.search(s) and not s.endswith("?") and not _NOT_A_STATEMENT.search(s)]


def display_name(user_id: str) -> str:
    """A user id as the name facts use: ``alice`` → ``Alice``, ``mary_jane`` → ``Mary Jane``; an id with
    capitals, digits or other signs stays as it is."""
    if re.fullmatch(r"[a-z]+(?:[ ._-][a-z]+)*", user_id):
        return re.sub(r"[a-z]+", lambda m: m.group().capitalize(), re.sub(r"[._]", " ", user_id))
    return user_id


def _third_person(verb: str) -> str:
    """``verb`` after he/she: prefer → prefers, watch → watches, try → tries; past forms and modals unchanged."""
    lower = verb.lower().replace("’", "'")
    if lower in _IRREGULAR:
        return _IRREGULAR[lower]
    if lower in _UNCHANGED or lower.endswith("ed") or "'" in lower:
        return verb
    if re.search(r"(?:s|sh|ch|x|z|o)$", lower):
        return verb + "es"
    if re.search(r"[^aeiou]y$", lower):
        return verb[:-1] + "ies"
    return verb + "s"


def third_person(sentence: str, name: str) -> str:
    """``sentence`` with the speaker (I, me, my, mine, myself and their contractions) as ``name`` in the
    third person: the first mention by name ("my" → "Alice's"), a later possessive as "their", the subject's
    verb agreeing ("I'm" → "Alice is", "I don't" → "Alice doesn't", "I now prefer" → "Alice now prefers"),
    and a second verb after "and"/"or"/"but" when it is a common one ("... and hate queues"). "My sister and
    I ..." keeps its verb."""
    parts = re.split(rf"({_WORD.pattern})", sentence)
    out: list[str] = []
    named = verb_due = in_clause = coordinated = subject = False
    for index, part in enumerate(parts):
        if index % 2 == 0:  # what lies between two words
            out.append(part)
            continue
        lower = part.lower().replace("’", "'")
        if lower in _SUBJECT:
            compound = index >= 2 and parts[index - 2].lower() in {"and", "or"} and not (subject or in_clause)
            out.append(name + _SUBJECT[lower])
            verb_due = lower == "i" and not compound
            named = subject = True
            coordinated = False
        elif lower in _OBJECT:
            first, later = _OBJECT[lower]
            out.append(later if named else first.format(name=name))
            named = True
        elif (verb_due or coordinated) and lower in _ADVERBS:
            out.append(part)
        elif verb_due or (coordinated and lower in _COORDINATED):
            out.append(_third_person(part))
            verb_due, coordinated, in_clause = False, False, True
        else:
            out.append(part)
            coordinated = in_clause and lower in {"and", "or", "but"}
    return "".join(out)


_SUBJECT = {"i": "", "i'm": " is", "i've": " has", "i'll": " will", "i'd": " would"}
_OBJECT = {"my": ("{name}'s", "their"), "mine": ("{name}'s", "theirs"), "me": ("{name}", "them"),
           "myself": ("{name}", "themselves")}


def _strip_wrapper(sentence: str) -> tuple[str, bool]:
    """The sentence without greetings, request wrappers ("Please remember:") and a closing "please"; whether
    a wrapper asked to remember it."""
    text, wrapped = sentence.strip(), False
    for _ in range(4):
        before = text
        text = _OPENER.sub("", text, count=1)
        stripped = _WRAPPER.sub("", text, count=1)
        wrapped, text = wrapped or stripped != text, stripped
        if text == before:
            break
    return text.strip(), wrapped


def as_fact(sentence: str, user_id: str) -> str | None:
    """One sentence of a user's message as a fact about them, or ``None`` when it is none: a question, a
    request, something said to the agent ("you ..."), or, unless the user asked to remember it, not a
    preference, allergy or habit of theirs (:func:`extract_preferences`). The fact is in the third person
    (:func:`third_person`, the user named by :func:`display_name`), capitalised, ending with a period."""
    text, wrapped = _strip_wrapper(sentence)
    asks = sentence.rstrip().endswith("?") and not _ASKED_TO_REMEMBER.search(sentence)
    if not text or asks or _NOT_A_STATEMENT.search(text):
        return None
    if _SECOND_PERSON.search(text) or len(_WORD.findall(text)) < 2:
        return None
    if not wrapped and not _PREFERENCE.search(text):
        return None
    name = display_name(user_id)
    fact = re.sub(r"\s+", " ", third_person(_TRAILER.sub("", text), name)).strip()
    if not fact.startswith(name):  # an id that is not a name ("user-42") is never changed
        fact = fact[:1].upper() + fact[1:]
    return fact + "." if fact else None


def offline_facts(message: str, user_id: str) -> list[str]:
    """The facts of ``message`` (:func:`as_fact`), one per sentence, each once, at most :data:`MAX_FACTS`. A
    sentence that is only a wrapper ("Please remember this:") makes the next one count as asked for."""
    facts: list[str] = []
    asked = False
    for sentence in sentences(message):
        rest, wrapped = _strip_wrapper(sentence)
        if wrapped and not _WORD.search(rest):
            asked = True
            continue
        fact = as_fact(f"remember: {sentence}" if asked else sentence, user_id)
        asked = False
        if fact and fact not in facts and len(fact) <= MAX_FACT_CHARS:
            facts.append(fact)
    return facts[:MAX_FACTS]


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


def revised(old: str, fact: str) -> str:
    """``old`` with the part that ``fact`` contradicts replaced by ``fact``, the rest kept: "Alice always books a
    window seat and avoids early flights." + "Alice now prefers aisle seats." → "Alice now prefers aisle seats
    and avoids early flights." Parts are sentences and their clauses joined by "and"; when no single part
    contradicts the fact, the whole memory is the fact."""
    replaced, kept = False, []
    for sentence in sentences(old):
        parts = re.split(r"\s+and\s+", sentence.rstrip(".!"))
        left = [part for part in parts if replaced or not contradicts(fact, part)]
        if len(left) < len(parts):
            replaced = True
            left.insert(0, fact.rstrip("."))
        kept.append(" and ".join(left))
    return " ".join(_as_sentence(s) for s in kept if s) if replaced else fact


def _as_sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if text.endswith((".", "!", "?", "…", "”", '"')) else text + "."


def relevant(memories: Sequence[MemoryItem], limit: int = MAX_RECALLED_IN_REPLY) -> list[MemoryItem]:
    """The memories worth saying, best first: at most ``limit``, none scoring below half the best score (or 0)
    when the store gives scores, none without text."""
    scores = [m.similarity_score for m in memories if m.similarity_score is not None]
    floor = max(scores) / 2 if scores and max(scores) > 0 else 0.0
    kept = [m for m in memories if m.memory and m.memory.strip()
            and (m.similarity_score is None or (m.similarity_score > 0 and m.similarity_score >= floor))]
    return kept[:limit]


def recollection(memories: Sequence[MemoryItem]) -> str:
    """What the agent remembers that bears on the message, in words (no scores), or that it remembers nothing."""
    best = relevant(memories)
    if not best:
        return "I don't remember anything about that yet."
    return "From what I remember: " + " ".join(_as_sentence(m.memory or "") for m in best)


def acknowledgement(facts: Sequence[str], changes: Sequence[Change] = ()) -> str:
    """What the agent says about the facts of a turn: the stored memories they change (each proposed as an
    update of that memory, not a second memory), then the facts it will remember as new memories."""
    changes = list(dict.fromkeys(changes))
    said = []
    if changes:
        was = " ".join(f"“{_as_sentence(c.was)}”" for c in changes)
        now = " ".join(f"“{_as_sentence(c.proposal)}”" for c in changes)
        said.append(f"Noted — this changes what I had: {was} I propose to update it to {now}")
    else:
        said.append("Noted.")
    changed = {c.fact for c in changes}
    new = [f for f in facts if f not in changed]
    if new:
        said.append("I'll remember: " + " ".join(_as_sentence(f) for f in new))
    return " ".join(said)


def offline_answer(message: str, memories: Sequence[MemoryItem], facts: Sequence[str] = (),
                   changes: Sequence[Change] = ()) -> str:
    """The offline agent's reply: when the message states facts, that it will remember them (and which stored
    memories they change); when it asks something, or states nothing, what it remembers about it."""
    said = [acknowledgement(facts, changes)] if facts else []
    if not facts or any(s.endswith("?") for s in sentences(message)):
        said.append(recollection(memories))
    return " ".join(said)


async def _words(text: str) -> AsyncIterator[str]:
    for word in re.split(r"(?<=\s)", text):
        yield word


class OfflineAgent:
    """Rule-based and deterministic: no model, no network. ``reason`` says why no model is used."""

    def __init__(self, reason: str = "no LLM configured") -> None:
        self.reason = reason

    @property
    def label(self) -> str:
        return f"Offline agent ({self.reason})"

    async def reply(self, message: str, memories: Sequence[MemoryItem], history: Sequence[Message] = (),
                    facts: Sequence[str] = (), changes: Sequence[Change] = ()) -> AsyncIterator[str]:
        async for word in _words(offline_answer(message, memories, facts, changes)):
            yield word

    async def facts(self, message: str, user_id: str) -> list[str]:
        return offline_facts(message, user_id)


class LlmAgent:
    """An OpenAI-compatible model; falls back to :class:`OfflineAgent` for the turn when the endpoint fails."""

    def __init__(self, config: LlmConfig) -> None:
        self.config = config
        self.fallback: str | None = None  # why this turn ran offline
        self._offline = OfflineAgent("the LLM failed")

    @property
    def label(self) -> str:
        return f"LLM: {self.config.model_name} at {self.config.url.removesuffix('/chat/completions')}"

    async def reply(self, message: str, memories: Sequence[MemoryItem], history: Sequence[Message] = (),
                    facts: Sequence[str] = (), changes: Sequence[Change] = ()) -> AsyncIterator[str]:
        """The model's streamed answer, then, when the facts change stored memories, a sentence saying which
        (the same words as the offline agent's)."""
        if self.fallback is not None:
            async for chunk in self._offline.reply(message, memories, history, facts, changes):
                yield chunk
            return
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
            async for chunk in self._offline.reply(message, memories, history, facts, changes):
                yield chunk
            return
        if changes:
            yield "\n\n" + acknowledgement(facts, changes)

    async def facts(self, message: str, user_id: str) -> list[str]:
        """The model's facts; the message goes with the user's name on its first line."""
        if self.fallback is not None:
            return await self._offline.facts(message, user_id)
        try:
            answer = await chat(self.config, [{"role": "system", "content": FACTS_PROMPT}, {
                "role": "user", "content": f"{display_name(user_id)}\n{message}"}])
        except StoreUnavailableError as exc:
            self.fallback = str(exc)
            return await self._offline.facts(message, user_id)
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
