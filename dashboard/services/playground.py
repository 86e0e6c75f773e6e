"""The Playground's services: chat as a user with an agent that uses the toolkit's memory tools.

The agent (:mod:`memory_core.agent`) calls ``get_memory`` and ``add_memory`` exactly as a real agent does
(:func:`memory_core.tools.bind_tool`, 1.9 configs with the chosen ``user_id``). The editor the tools are bound
to is a :class:`TracingEditor`: its ``search`` goes through :func:`memories.search_memories` (``search_records``
where the store has it, so hits carry ids and scores) and its ``add_items`` through
:func:`memories.add_memory` (role check, ``MemoryEvent``, audit entry, the new id). It records both, so each
turn can show what was retrieved and written.

Before the reply, each new fact is compared with the memories recalled for the message and for the fact itself:
a fact a recalled memory already says (same words) is not stored twice; a fact that contradicts a recalled
memory (:func:`memory_core.review.contradicts`, the review queue's rule) is not added either: the agent proposes
to update that memory to the fact, says so in the reply, and the operator decides. :func:`apply_update` edits the
old memory through the audited write path (one audit batch, so the edit can be undone), :func:`keep_both` adds
the fact as a memory of its own. Nothing changes without the operator's click.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from dashboard.services import insights, memories
from dashboard.services.hub import StoreHub
from dashboard.services.memories import SearchHit
from dashboard.services.runner import AsyncRunner
from memory_core.access import Actor, Role
from memory_core.agent import Agent, Change, LlmAgent, agent_for, recall, remember, revised
from memory_core.errors import InvalidInputError, UnsupportedError
from memory_core.interfaces import MemoryEditor
from memory_core.io import derive_tags
from memory_core.items import item_text, tokens
from memory_core.models import MemoryItem
from memory_core.records import MemoryPatch, MemoryRecord
from memory_core.review import contradicts
from memory_core.tools import AddToolConfig, GetToolConfig, bind_tool


@dataclasses.dataclass
class Written:
    item: MemoryItem
    id: str | None  # None: the store chose the id and did not say


FACT_RECALL = 10  # memories recalled per new fact to compare it with


class Outcome(enum.StrEnum):
    """What the operator chose for a contradiction."""

    PENDING = "pending"
    UPDATED = "updated"  # the old memory now says the fact (audit batch ``Contradiction.batch``)
    KEPT_BOTH = "kept both"  # the fact was added as a memory of its own


@dataclasses.dataclass
class Contradiction:
    """A new fact of a turn that contradicts a stored memory (``old``, as recalled), by ``rule``. With the old
    memory's id the agent proposes an update of it (``proposed``); without one the fact is simply stored."""

    fact: str
    old: SearchHit
    rule: str
    outcome: Outcome = Outcome.PENDING
    batch: str | None = None  # the audit batch of the update, to undo it

    @property
    def proposed(self) -> bool:
        return self.old.id is not None

    @property
    def revised(self) -> str:
        """What the old memory would say after the update: its contradicted part replaced by the fact."""
        return revised(item_text(self.old.item), self.fact)


@dataclasses.dataclass
class Turn:
    """One exchange and its memory trace."""

    user_id: str
    message: str
    reply: str = ""
    retrieved: list[SearchHit] = dataclasses.field(default_factory=list)
    facts: list[str] = dataclasses.field(default_factory=list)
    contradictions: list[Contradiction] = dataclasses.field(default_factory=list)
    known: list[str] = dataclasses.field(default_factory=list)  # facts a recalled memory already says
    written: list[Written] = dataclasses.field(default_factory=list)
    agent: str = ""
    fallback: str | None = None  # why the LLM agent answered offline
    id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)


class TracingEditor(MemoryEditor):
    """An editor over the hub's store that routes the tools' calls through ``services`` and records them.

    Its coroutines run on the hub's loop thread; the (synchronous) services run in a worker thread, where
    their own ``hub.runner.run`` calls wait for that loop without blocking it.
    """

    def __init__(self, hub: StoreHub, actor: Actor, store: str) -> None:
        self.hub, self.actor, self.store = hub, actor, store
        self.retrieved: list[SearchHit] = []
        self.written: list[Written] = []

    async def search(self, query: str, top_k: int = 5, **kwargs: Any) -> list[MemoryItem]:
        hits = await asyncio.to_thread(memories.search_memories, self.hub, self.store, user_id=kwargs["user_id"],
                                       query=query, top_k=top_k, threshold=kwargs.get("similarity_threshold"))
        self.retrieved.extend(hits)
        await asyncio.to_thread(insights.note_agent_retrieval, self.hub, self.store, [h.id for h in hits if h.id],
                                query)
        return [hit.item.model_copy(update={"similarity_score": hit.score}) for hit in hits]

    async def add_items(self, items: list[MemoryItem], **kwargs: Any) -> None:
        for item in items:
            memory_id = await asyncio.to_thread(memories.add_memory, self.hub, self.actor, self.store, item)
            self.written.append(Written(item=item, id=memory_id))

    async def remove_items(self, **kwargs: Any) -> None:
        raise UnsupportedError("the playground's agent does not delete memories")


def require_chat(hub: StoreHub, actor: Actor, store: str) -> None:
    """Refuse a chat before it starts unless the actor may write to ``store`` (the agent adds memories)."""
    memories.allow(hub, actor, Role.EDITOR, store, "chat in the playground (its agent adds memories)")


def agent(hub: StoreHub) -> Agent:
    """The agent the hub's config asks for (see :func:`memory_core.agent.agent_for`)."""
    return agent_for(hub.config)


def sync_stream(runner: AsyncRunner, chunks: AsyncIterator[str]) -> Iterator[str]:
    """An async iterator as a sync one, each step pulled on the runner's loop (where the iterator lives)."""
    try:
        while True:
            try:
                yield runner.run(anext_of(chunks))
            except StopAsyncIteration:
                return
    finally:
        runner.run(aclose_of(chunks))


async def anext_of(chunks: AsyncIterator[str]) -> str:
    return await anext(chunks)


async def aclose_of(chunks: AsyncIterator[str]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


def find_contradictions(facts: Sequence[str], hits: Sequence[SearchHit]) -> list[Contradiction]:
    """Each (fact, recalled memory) pair the review queue's rule says contradict, each memory once per fact."""
    found: list[Contradiction] = []
    seen: set[tuple[str, str]] = set()
    for fact in facts:
        for hit in hits:
            text = item_text(hit.item)
            key = (fact, hit.id or text)
            if key in seen or text.strip() == fact.strip():
                continue
            seen.add(key)
            rule = contradicts(fact, text)
            if rule:
                found.append(Contradiction(fact=fact, old=hit, rule=rule))
    return found


def already_said(facts: Sequence[str], hits: Sequence[SearchHit]) -> list[str]:
    """The facts a recalled memory already says in the same words (any order, case and punctuation)."""
    said = {frozenset(tokens(item_text(hit.item))) for hit in hits}
    return [fact for fact in facts if frozenset(tokens(fact)) in said]


def proposals(turn: Turn) -> dict[str, Contradiction]:
    """Per fact, the contradiction whose old memory the agent proposes to update (the best recalled one)."""
    chosen: dict[str, Contradiction] = {}
    for found in turn.contradictions:
        if found.proposed:
            chosen.setdefault(found.fact, found)
    return chosen


def new_facts(turn: Turn) -> list[str]:
    """The facts the agent stores as new memories: neither already said nor proposed as an update."""
    skipped = {*turn.known, *proposals(turn)}
    return [fact for fact in turn.facts if fact not in skipped]


class ChatTurn:
    """One turn in four steps (recall, facts and their contradictions, streamed reply, remember), each run on
    the hub's loop."""

    def __init__(self, hub: StoreHub, actor: Actor, store: str, user_id: str, message: str, *, top_k: int = 5,
                 chat_agent: Agent | None = None) -> None:
        require_chat(hub, actor, store)
        self.hub, self.agent = hub, chat_agent or agent(hub)
        self.editor = TracingEditor(hub, actor, store)
        self.get_tool = bind_tool(self.editor, GetToolConfig(memory=store, user_id=user_id))
        self.add_tool = bind_tool(self.editor, AddToolConfig(memory=store, user_id=user_id))
        self.turn = Turn(user_id=user_id, message=message, agent=self.agent.label)
        self.top_k = top_k
        self._memories: list[MemoryItem] = []

    def recall(self) -> list[SearchHit]:
        self._memories = self.hub.runner.run(recall(self.get_tool, self.turn.message, self.top_k))
        self.turn.retrieved = list(self.editor.retrieved)
        return self.turn.retrieved

    def check_facts(self) -> list[Contradiction]:
        """The facts to remember (the agent's), and the stored memories they contradict: those recalled for the
        message and, through ``get_memory`` again, for each fact (up to :data:`FACT_RECALL` each)."""
        self.turn.facts = self.hub.runner.run(self.agent.facts(self.turn.message, self.turn.user_id))
        for fact in self.turn.facts:
            self.hub.runner.run(recall(self.get_tool, fact, max(self.top_k, FACT_RECALL)))
        self.turn.known = already_said(self.turn.facts, self.editor.retrieved)
        fresh = [fact for fact in self.turn.facts if fact not in self.turn.known]
        self.turn.contradictions = find_contradictions(fresh, self.editor.retrieved)
        return self.turn.contradictions

    def reply_chunks(self, history: Sequence[dict[str, str]] = ()) -> Iterator[str]:
        """The reply as it streams; the whole text ends up in ``turn.reply``."""
        changes = [Change(fact=c.fact, was=item_text(c.old.item), revised=c.revised)
                   for c in proposals(self.turn).values()]
        facts = [fact for fact in self.turn.facts if fact not in self.turn.known]
        chunks = self.agent.reply(self.turn.message, self._memories, list(history), facts, changes)
        for chunk in sync_stream(self.hub.runner, chunks):
            self.turn.reply += chunk
            yield chunk

    def remember(self) -> Turn:
        self.hub.runner.run(remember(self.add_tool, new_facts(self.turn), self.turn.message))
        self.turn.written = list(self.editor.written)
        if isinstance(self.agent, LlmAgent):
            self.turn.fallback = self.agent.fallback
        return self.turn


def run_turn(hub: StoreHub, actor: Actor, store: str, user_id: str, message: str, *, top_k: int = 5,
             history: Sequence[dict[str, str]] = (), chat_agent: Agent | None = None) -> Turn:
    """A whole turn without a page (tests, scripts)."""
    turn = ChatTurn(hub, actor, store, user_id, message, top_k=top_k, chat_agent=chat_agent)
    turn.recall()
    turn.check_facts()
    for _ in turn.reply_chunks(history):
        pass
    return turn.remember()


def history_messages(turns: Sequence[Turn], user_id: str) -> list[dict[str, str]]:
    """The earlier turns with ``user_id`` as chat messages for the model."""
    messages: list[dict[str, str]] = []
    for turn in turns:
        if turn.user_id == user_id:
            messages += [{"role": "user", "content": turn.message}, {"role": "assistant", "content": turn.reply}]
    return messages


def apply_update(hub: StoreHub, actor: Actor, store: str, found: Contradiction) -> MemoryRecord:
    """The agent's proposal, accepted: the old memory now says the fact in place of the part it contradicted
    (its tags kept, the fact's added), one audited edit in its own batch. Refused when the memory changed since
    the turn (its text is not the one shown) or was never identified."""
    record = _unchanged_old(hub, store, found)
    tags = list(dict.fromkeys([*record.item.tags, *derive_tags(found.fact)]))
    batch = uuid.uuid4().hex
    updated = memories.update_memory(hub, actor, store, record.id, MemoryPatch(memory=found.revised, tags=tags),
                                     expected_version=record.version, batch=batch)
    found.outcome, found.batch = Outcome.UPDATED, batch
    return updated


def keep_both(hub: StoreHub, actor: Actor, store: str, turn: Turn, found: Contradiction) -> None:
    """The agent's proposal, declined: the fact is added as a memory of its own, as the agent adds any fact."""
    memories.allow(hub, actor, Role.EDITOR, store, "add a memory")
    editor = TracingEditor(hub, actor, store)
    add_tool = bind_tool(editor, AddToolConfig(memory=store, user_id=turn.user_id))
    hub.runner.run(remember(add_tool, [found.fact], turn.message))
    turn.written += editor.written
    found.outcome = Outcome.KEPT_BOTH


def undone(found: Contradiction) -> None:
    """The update was reverted: the proposal waits for the operator again."""
    found.outcome, found.batch = Outcome.PENDING, None


def _unchanged_old(hub: StoreHub, store: str, found: Contradiction) -> MemoryRecord:
    if found.old.id is None:
        raise InvalidInputError("the store did not say which memory this was; find it on the Search page")
    record = memories.get_memory(hub, store, found.old.id)
    if item_text(record.item) != item_text(found.old.item):
        raise InvalidInputError("that memory changed since this turn; open it to decide")
    return record
