"""A working ``MemoryManager`` for one user over any store that can list, get, update and delete by id.

``forget`` and ``merge`` keep the toolkit's signatures; ``plan_forget`` / ``plan_merge`` are their dry runs
and return typed plans that ``apply_forget`` / ``apply_merge`` carry out exactly (the toolkit-shaped methods
are plan + apply). Forgetting is one ``delete_records`` call. Merging updates each group's oldest record with
``expected_version`` and then deletes every merged duplicate in one call; a record changed since the plan is
reported as a conflict and its group left alone. Summaries and reflections (records whose metadata has
``memdash_derived``) are never merged and never summarised again.

``summarize`` and ``reflect`` are deterministic (extractive summary, counted patterns) unless an ``llm``
(``async (prompt) -> str``) is given, which then writes the text. Each keeps one record per topic, updated in
place, and does nothing when its sources have not changed since it was written.

Records are read with keyset paging, oldest first, ``page_size`` at a time. ``near_duplicate`` finds its
candidate pairs with an exact prefix filter, so merging stays fast on large stores; any other pair criterion is
tried against the keeper of every group formed so far.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import math
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel

from memory_core.errors import InvalidInputError, NotFoundError, UnsupportedError, VersionConflictError
from memory_core.interfaces import Capability, MemoryBrowser, MemoryEditor, MemoryManager
from memory_core.io import TAG_RULES, sentences
from memory_core.items import item_text, tokens
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord, Sort, SortField, utcnow

log = logging.getLogger(__name__)

REQUIRED = frozenset({Capability.LIST, Capability.GET, Capability.UPDATE, Capability.DELETE_BY_IDS})
SUMMARY_TAG = "summary"
REFLECTION_TAG = "reflection"
DERIVED_KEY = "memdash_derived"
MIN_SUMMARY_SOURCES = 2
DUPLICATE_THRESHOLD = 0.85
Llm = Callable[[str], Awaitable[str]]

_STOPWORD_TEXT = (
    "the and for are but not you your yours with this that these those from have has had was were will would "
    "can could should its into onto about than then them they their there what when where which who whom "
    "why how all any both each few more most other some such only own same very just also user users")
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_PREFERENCE = dict(TAG_RULES)["preference"]


# --- text similarity and criteria ------------------------------------------------------------------------
def shingles(text: str, size: int = 3) -> frozenset[str]:
    """Character ``size``-grams of the normalised text (lower-cased words joined by one space)."""
    norm = " ".join(tokens(text))
    if len(norm) <= size:
        return frozenset({norm}) if norm else frozenset()
    return frozenset(norm[i:i + size] for i in range(len(norm) - size + 1))


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' character trigrams, in ``[0, 1]``; empty texts score 0."""
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


class Criterion:
    """A forget criterion that may look at the stored record (ids, timestamps) as well as the item.

    Still callable on a bare ``MemoryItem``, as the toolkit's ``forget`` expects.
    """

    def __call__(self, item: MemoryItem) -> bool:
        raise NotImplementedError

    def matches_record(self, record: MemoryRecord) -> bool:
        return self(record.item)


@dataclasses.dataclass(frozen=True)
class OlderThan(Criterion):
    """Records created more than ``days`` days before ``now`` (default: when evaluated)."""

    days: float
    now: dt.datetime | None = None

    def __call__(self, item: MemoryItem) -> bool:
        return False  # a bare MemoryItem has no timestamp, so it is never old enough to forget

    def matches_record(self, record: MemoryRecord) -> bool:
        return record.created_at < (self.now or utcnow()) - dt.timedelta(days=self.days)


@dataclasses.dataclass(frozen=True)
class HasTag(Criterion):
    tag: str

    def __call__(self, item: MemoryItem) -> bool:
        return self.tag in item.tags


@dataclasses.dataclass(frozen=True)
class NearDuplicate:
    """Pair criterion: the items' texts have trigram Jaccard :func:`similarity` of at least ``threshold``."""

    threshold: float = DUPLICATE_THRESHOLD

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise InvalidInputError(f"near-duplicate threshold must be in (0, 1], got {self.threshold}")

    def __call__(self, a: MemoryItem, b: MemoryItem) -> bool:
        return similarity(item_text(a), item_text(b)) >= self.threshold

    def candidate_pairs(self, texts: Sequence[str]) -> set[tuple[int, int]]:
        """Every ``(i, j)``, ``i < j``, that can reach the threshold (prefix filtering: exact, not sampled)."""
        sets = [shingles(t) for t in texts]
        frequency = Counter(s for shingle_set in sets for s in shingle_set)
        index: dict[str, list[int]] = defaultdict(list)
        pairs: set[tuple[int, int]] = set()
        for j, shingle_set in enumerate(sets):
            prefix = len(shingle_set) - math.ceil(self.threshold * len(shingle_set) - 1e-9) + 1
            for s in sorted(shingle_set, key=lambda s: (frequency[s], s))[:prefix]:
                pairs.update((i, j) for i in index[s])
                index[s].append(j)
        return pairs


def older_than(days: float, *, now: dt.datetime | None = None) -> OlderThan:
    """Forget criterion: created more than ``days`` days ago."""
    return OlderThan(days, now)


def has_tag(tag: str) -> HasTag:
    """Forget criterion: the memory carries ``tag``."""
    return HasTag(tag)


def near_duplicate(threshold: float = DUPLICATE_THRESHOLD) -> NearDuplicate:
    """Merge criterion: near-identical texts (see :func:`similarity`)."""
    return NearDuplicate(threshold)


# --- plans and reports ----------------------------------------------------------------------------------
class ForgetPlan(BaseModel):
    """What ``forget`` would delete."""

    user_id: str
    records: list[MemoryRecord]

    @property
    def record_ids(self) -> list[str]:
        return [r.id for r in self.records]


class ForgetReport(BaseModel):
    record_ids: list[str]
    deleted: int


class MergeGroup(BaseModel):
    """Records to merge into ``keeper`` (the oldest); ``patch`` is what the keeper becomes."""

    keeper: MemoryRecord
    duplicates: list[MemoryRecord]
    patch: MemoryPatch

    @property
    def merged_text(self) -> str | None:
        return self.patch.memory


class MergePlan(BaseModel):
    user_id: str
    groups: list[MergeGroup]


class MergeConflict(BaseModel):
    keeper_id: str
    record_id: str
    message: str


class MergeReport(BaseModel):
    merged: list[str]
    deleted: list[str]
    conflicts: list[MergeConflict]


# --- the manager -----------------------------------------------------------------------------------------
class StoreMemoryManager(MemoryManager):
    """Forget, merge, summarise and reflect over one user's memories in a browsable store."""

    def __init__(self, editor: MemoryEditor, user_id: str, *, llm: Llm | None = None, page_size: int = 200,
                 max_summary_sentences: int = 3) -> None:
        if not isinstance(editor, MemoryBrowser):
            raise UnsupportedError(f"managing memories needs a store that can list, update and delete by id; "
                                   f"{type(editor).__name__} cannot")
        missing = REQUIRED - editor.capabilities
        if missing:
            raise UnsupportedError(f"managing memories needs {', '.join(sorted(missing))}, which "
                                   f"{type(editor).__name__} does not offer")
        if not user_id.strip():
            raise InvalidInputError("a memory manager needs a non-empty user_id")
        self._editor, self._store = editor, editor
        self.user_id, self.llm = user_id, llm
        self.page_size, self.max_summary_sentences = page_size, max_summary_sentences

    # toolkit interface
    async def forget(self, criteria: Callable[[MemoryItem], bool]) -> None:
        """Delete the user's memories that ``criteria`` matches (see :class:`Criterion`)."""
        await self.apply_forget(await self.plan_forget(criteria))

    async def merge(self, criteria: Callable[[MemoryItem, MemoryItem], bool]) -> None:
        """Merge groups of memories that ``criteria`` pairs; conflicts are logged and skipped."""
        report = await self.apply_merge(await self.plan_merge(criteria))
        for conflict in report.conflicts:
            log.warning("merge skipped for memory %s: %s", conflict.keeper_id, conflict.message)

    async def summarize(self) -> None:
        """One ``summary`` memory per tag ("untagged" for none) with at least two memories."""
        groups: dict[str, list[MemoryRecord]] = defaultdict(list)
        async for record in self._sources():
            for tag in dict.fromkeys(record.item.tags or ["untagged"]):
                groups[tag].append(record)
        existing = await self._derived(SUMMARY_TAG)
        for tag in sorted(groups):
            if len(groups[tag]) >= MIN_SUMMARY_SOURCES:
                await self._upsert(SUMMARY_TAG, tag, groups[tag], existing.pop(tag, []))
        await self._delete([r.id for stale in existing.values() for r in stale])

    async def reflect(self) -> None:
        """One ``reflection`` memory with the patterns counted over all the user's memories."""
        records = [r async for r in self._sources()]
        existing = (await self._derived(REFLECTION_TAG)).pop("", [])
        if records:
            await self._upsert(REFLECTION_TAG, "", records, existing)
        else:
            await self._delete([r.id for r in existing])

    # dry runs and their application
    async def plan_forget(self, criteria: Callable[[MemoryItem], bool]) -> ForgetPlan:
        """Every record of the user the criteria match; nothing changes."""
        return ForgetPlan(user_id=self.user_id, records=[r async for r in self._records() if _matches(criteria, r)])

    async def apply_forget(self, plan: ForgetPlan) -> ForgetReport:
        """Delete exactly the plan's records, in one call."""
        self._check_plan(plan.user_id)
        deleted = await self._store.delete_records(plan.record_ids) if plan.records else 0
        return ForgetReport(record_ids=plan.record_ids, deleted=deleted)

    async def plan_merge(self, criteria: Callable[[MemoryItem, MemoryItem], bool]) -> MergePlan:
        """Groups of matching records (each joins the first, oldest group whose keeper it matches)."""
        records = [r async for r in self._sources()]
        members = _group(records, criteria)
        groups = [MergeGroup(keeper=g[0], duplicates=g[1:], patch=merged_patch(g)) for g in members if len(g) > 1]
        return MergePlan(user_id=self.user_id, groups=groups)

    async def apply_merge(self, plan: MergePlan) -> MergeReport:
        """Update each keeper (``expected_version``), then delete the duplicates of every merged group at once."""
        self._check_plan(plan.user_id)
        merged: list[str] = []
        doomed: list[str] = []
        conflicts: list[MergeConflict] = []
        for group in plan.groups:
            problem = await self._changed(group)
            if problem is None:
                try:
                    await self._store.update_record(group.keeper.id, group.patch,
                                                    expected_version=group.keeper.version)
                except (VersionConflictError, NotFoundError) as exc:
                    problem = MergeConflict(keeper_id=group.keeper.id, record_id=group.keeper.id, message=str(exc))
            if problem is not None:
                conflicts.append(problem)
                continue
            merged.append(group.keeper.id)
            doomed.extend(d.id for d in group.duplicates)
        await self._delete(doomed)
        return MergeReport(merged=merged, deleted=doomed, conflicts=conflicts)

    # helpers
    async def _records(self, **where: Any) -> AsyncIterator[MemoryRecord]:
        """The user's records (narrowed by ``MemoryFilter`` fields), oldest first, one page at a time."""
        cursor: str | None = None
        sort = Sort(field=SortField.CREATED, descending=False)
        filter = MemoryFilter(user_id=self.user_id, **where)
        while True:
            page = await self._store.list_records(filter, sort=sort, limit=self.page_size, cursor=cursor)
            for record in page.records:
                yield record
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def _sources(self) -> AsyncIterator[MemoryRecord]:
        """The user's own memories: summaries and reflections left out."""
        async for record in self._records():
            if DERIVED_KEY not in record.item.metadata:
                yield record

    async def _derived(self, kind: str) -> dict[str, list[MemoryRecord]]:
        """Existing summaries or reflections by topic (a reflection's topic is ``""``)."""
        found: dict[str, list[MemoryRecord]] = defaultdict(list)
        async for record in self._records(metadata={DERIVED_KEY: kind}):
            found[str(record.item.metadata.get("summary_of", ""))].append(record)
        return found

    async def _upsert(self, kind: str, topic: str, sources: list[MemoryRecord], existing: list[MemoryRecord]) -> None:
        """Write one derived record for ``topic``, replacing older ones, unless its sources are unchanged."""
        keep, extra = (existing[0], existing[1:]) if existing else (None, [])
        await self._delete([r.id for r in extra])
        digest = _digest(kind, topic, sources, "llm" if self.llm else "extractive")
        if keep is not None and keep.item.metadata.get("source_digest") == digest:
            return
        text = await (self._summary_text(topic, sources) if kind == SUMMARY_TAG else self._reflection_text(sources))
        metadata: dict[str, Any] = {DERIVED_KEY: kind, "source_count": len(sources), "source_digest": digest}
        if kind == SUMMARY_TAG:
            metadata["summary_of"] = topic
        if keep is None:
            await self._editor.add_items([MemoryItem(user_id=self.user_id, memory=text, tags=[kind],
                                                     metadata=metadata)])
        else:
            await self._store.update_record(keep.id, MemoryPatch(memory=text, tags=[kind], metadata=metadata),
                                            expected_version=keep.version)

    async def _summary_text(self, topic: str, sources: list[MemoryRecord]) -> str:
        texts = [item_text(r.item) for r in sources]
        if self.llm is not None:
            key_sentences = representative_sentences(texts, 40)
            prompt = (f"Summarize what these memories say about user {self.user_id} (topic: {topic}) in at most "
                      f"{self.max_summary_sentences} sentences. Keep the facts, drop repetition. Reply with the "
                      "summary only.\n\n" + "\n".join(f"- {s}" for s in key_sentences))
            text = (await self.llm(prompt)).strip()
            if text:
                return text
        body = " ".join(map(_sentence, representative_sentences(texts, self.max_summary_sentences, in_order=True)))
        return f"Summary of {len(sources)} {topic} memories: {body}"

    async def _reflection_text(self, sources: list[MemoryRecord]) -> str:
        patterns = reflection_patterns([r.item for r in sources])
        if self.llm is not None:
            prompt = (f"These patterns were counted in the memories of user {self.user_id}:\n{patterns}\n\n"
                      "Write two to four sentences of insight about this user (what they prefer, what keeps "
                      "coming up). Reply with the insight only.")
            text = (await self.llm(prompt)).strip()
            if text:
                return text
        return patterns

    async def _changed(self, group: MergeGroup) -> MergeConflict | None:
        """A conflict when a duplicate was edited or deleted since the plan (the keeper is checked on update)."""
        for record in group.duplicates:
            try:
                current = await self._store.get_record(record.id)
            except NotFoundError:
                current = None
            if current is None or current.version != record.version:
                return MergeConflict(keeper_id=group.keeper.id, record_id=record.id,
                                     message=str(VersionConflictError(record.id, record.version, current)))
        return None

    async def _delete(self, record_ids: list[str]) -> None:
        if record_ids:
            await self._store.delete_records(record_ids)

    def _check_plan(self, user_id: str) -> None:
        if user_id != self.user_id:
            raise InvalidInputError(f"this plan is for user {user_id!r}, the manager for {self.user_id!r}")


def _matches(criteria: Callable[[MemoryItem], bool], record: MemoryRecord) -> bool:
    if isinstance(criteria, Criterion):
        return criteria.matches_record(record)
    return bool(criteria(record.item))


def _group(records: list[MemoryRecord], criteria: Callable[[MemoryItem, MemoryItem], bool]
           ) -> list[list[MemoryRecord]]:
    """Greedy grouping in creation order: a record joins the first group whose keeper matches it."""
    pairs = criteria.candidate_pairs([item_text(r.item) for r in records]) \
        if isinstance(criteria, NearDuplicate) else None
    neighbours: dict[int, list[int]] = defaultdict(list)
    for i, j in sorted(pairs or ()):
        neighbours[j].append(i)
    group_of: dict[int, int] = {}  # keeper index -> group index
    groups: list[list[MemoryRecord]] = []
    for j, record in enumerate(records):
        keepers = neighbours[j] if pairs is not None else list(group_of)
        target = next((group_of[i] for i in keepers
                       if i in group_of and criteria(records[i].item, record.item)), None)
        if target is None:
            group_of[j] = len(groups)
            groups.append([record])
        else:
            groups[target].append(record)
    return groups


def merged_patch(group: Sequence[MemoryRecord]) -> MemoryPatch:
    """The keeper after a merge: the longest memory text, every tag, the keeper's metadata over the others'
    (plus ``merged_from``), and the conversations joined without repeated messages."""
    keeper, duplicates = group[0], group[1:]
    items = [r.item for r in group]
    texts = [i.memory for i in items if i.memory]
    metadata: dict[str, Any] = {}
    for item in reversed(items):
        metadata.update(item.metadata)
    previous = keeper.item.metadata.get("merged_from")
    metadata["merged_from"] = [*(previous if isinstance(previous, list) else []), *(d.id for d in duplicates)]
    messages = [m for i in items for m in i.conversation or []]
    unique = list({(m.get("role"), m.get("content")): m for m in messages}.values())
    return MemoryPatch(
        memory=max(texts, key=len) if texts else None,
        tags=list(dict.fromkeys(t for i in items for t in i.tags)),
        metadata=metadata,
        conversation=unique if any(i.conversation is not None for i in items) else None,
    )


def content_terms(text: str) -> list[str]:
    """Words that carry meaning: three letters or more, not a stopword."""
    return [t for t in tokens(text) if len(t) > 2 and t not in STOPWORDS]


def representative_sentences(texts: Sequence[str], limit: int, *, in_order: bool = False) -> list[str]:
    """The ``limit`` sentences sharing most terms with the other texts, near-duplicates skipped.

    Score: the number of other texts containing each of the sentence's terms, summed, over the square root
    of its term count. Ties go to the earlier sentence. ``in_order`` returns them in text order.
    """
    frequency = Counter(term for text in texts for term in set(content_terms(text)))
    candidates = [s for text in texts for s in sentences(text)]

    def score(position: int) -> tuple[float, int]:
        terms = set(content_terms(candidates[position]))
        shared = sum(frequency[t] - 1 for t in terms)
        return (-shared / math.sqrt(len(terms)) if terms else 0.0, position)

    picked = _distinct(sorted(range(len(candidates)), key=score), candidates, limit)
    return [candidates[p] for p in (sorted(picked) if in_order else picked)]


def _distinct(ranked: Sequence[int], texts: Sequence[str], limit: int) -> list[int]:
    """The first ``limit`` positions of ``ranked`` whose text is not a near-duplicate of one already taken."""
    picked: list[int] = []
    for position in ranked:
        if len(picked) == limit:
            break
        if all(similarity(texts[position], texts[p]) < DUPLICATE_THRESHOLD for p in picked):
            picked.append(position)
    return picked


def reflection_patterns(items: Sequence[MemoryItem], *, top: int = 5) -> str:
    """Counted patterns: memory count, most frequent tags and terms, the most repeated preference statements."""
    tags = Counter(t for item in items for t in dict.fromkeys(item.tags))
    terms = Counter(t for item in items for t in set(content_terms(item_text(item))))
    statements = [_sentence(s) for item in items for s in sentences(item_text(item)) if _PREFERENCE.search(s)]
    parts = [f"Reflection on {len(items)} memories."]
    if tags:
        parts.append("Most frequent tags: " + _counted(tags, top) + ".")
    recurring = Counter({t: n for t, n in terms.items() if n > 1})
    if recurring:
        parts.append("Recurring terms: " + _counted(recurring, top) + ".")
    if statements:
        counts = Counter(" ".join(tokens(s)) for s in statements)
        ranked = sorted(range(len(statements)), key=lambda i: -counts[" ".join(tokens(statements[i]))])
        chosen = [statements[i].rstrip(".!?") for i in _distinct(ranked, statements, top)]
        parts.append("Preference statements: " + "; ".join(chosen) + ".")
    return " ".join(parts)


def _sentence(text: str) -> str:
    """``text`` ending with a full stop unless it already ends a sentence."""
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _counted(counter: Counter[str], top: int) -> str:
    ranked = sorted(counter.items(), key=lambda pair: (-pair[1], pair[0]))[:top]
    return ", ".join(f"{name} ({count})" for name, count in ranked)


def _digest(kind: str, topic: str, sources: Sequence[MemoryRecord], mode: str) -> str:
    """Identifies a derived record's inputs: which records, at which versions, written how."""
    h = hashlib.sha256(f"{kind}\0{topic}\0{mode}".encode())
    for record in sources:
        h.update(f"\0{record.id}:{record.version}".encode())
    return h.hexdigest()[:16]
