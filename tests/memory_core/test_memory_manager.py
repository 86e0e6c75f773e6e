"""StoreMemoryManager over the in-memory store: dry runs, exact application, conflicts, summaries, reflections."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory_core.errors import InvalidInputError, UnsupportedError
from memory_core.interfaces import Capability, MemoryManager
from memory_core.manager import (
    DERIVED_KEY,
    MergePlan,
    StoreMemoryManager,
    has_tag,
    merged_patch,
    near_duplicate,
    older_than,
    representative_sentences,
    similarity,
)
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.records import MemoryFilter, MemoryPatch, MemoryRecord, utcnow

NOW = utcnow()


def rec(rid: str, memory: str | None, *, user: str = "ann", days_ago: float = 0, tags: tuple[str, ...] = (),
        **fields) -> MemoryRecord:
    when = NOW - dt.timedelta(days=days_ago)
    item = MemoryItem(user_id=user, memory=memory, tags=list(tags), **fields)
    return MemoryRecord(id=rid, item=item, created_at=when, updated_at=when)


async def snapshot(store: InMemoryEditor) -> list[tuple[str, int, dict]]:
    page = await store.list_records(MemoryFilter(), limit=1000)
    return sorted((r.id, r.version, r.item.model_dump()) for r in page.records)


async def records_of(store: InMemoryEditor, user: str = "ann", **where) -> list[MemoryRecord]:
    return (await store.list_records(MemoryFilter(user_id=user, **where), limit=1000)).records


@pytest.fixture
async def store() -> InMemoryEditor:
    editor = InMemoryEditor()
    await editor.add_records([
        rec("a1", "Ann prefers window seats on long flights", days_ago=40, tags=("travel", "preference")),
        rec("a2", "ann prefers window seats on long flights!", days_ago=30, tags=("preference",)),
        rec("a3", "Ann is allergic to shellfish", days_ago=20, tags=("health",)),
        rec("a4", "Ann prefers a window seat on long flights", days_ago=10, tags=("travel",)),
        rec("a5", "Ann's dog Biscuit loves the beach", days_ago=1),
        rec("b1", "Ann prefers window seats on long flights", user="ben", days_ago=50, tags=("preference",)),
    ])
    return editor


@pytest.fixture
def manager(store: InMemoryEditor) -> StoreMemoryManager:
    return StoreMemoryManager(store, "ann", page_size=2)


# --- construction ------------------------------------------------------------------------------------------
class NoUpdates(InMemoryEditor):
    @property
    def capabilities(self) -> frozenset[Capability]:
        return super().capabilities - {Capability.UPDATE}


def test_needs_a_browsable_store() -> None:
    from memory_core.interfaces import MemoryEditor

    class Bare(MemoryEditor):
        async def add_items(self, items, **kwargs): ...
        async def search(self, query, top_k=5, **kwargs): return []
        async def remove_items(self, **kwargs): ...

    with pytest.raises(UnsupportedError, match="Bare cannot"):
        StoreMemoryManager(Bare(), "ann")
    with pytest.raises(UnsupportedError, match="needs update"):
        StoreMemoryManager(NoUpdates(), "ann")
    assert isinstance(StoreMemoryManager(InMemoryEditor(), "ann"), MemoryManager)


# --- criteria ---------------------------------------------------------------------------------------------
def test_ready_made_criteria() -> None:
    old, fresh = rec("x", "old", days_ago=31), rec("y", "new", days_ago=29)
    assert older_than(30).matches_record(old) and not older_than(30).matches_record(fresh)
    assert not older_than(30)(old.item)  # a bare item has no timestamp
    assert has_tag("health")(MemoryItem(user_id="u", tags=["health"]))
    assert not has_tag("health").matches_record(fresh)
    same = near_duplicate()
    assert same(MemoryItem(user_id="u", memory="Likes green tea."), MemoryItem(user_id="u", memory="likes green TEA"))
    assert not same(MemoryItem(user_id="u", memory="Likes green tea"), MemoryItem(user_id="u", memory="Hates tea"))
    assert similarity("", "") == 0.0 and similarity("abc", "abc") == 1.0
    with pytest.raises(InvalidInputError):
        near_duplicate(0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ab c", min_size=0, max_size=12), max_size=12),
       st.sampled_from([0.3, 0.5, 0.85, 1.0]))
def test_candidate_pairs_never_miss_a_near_duplicate(texts: list[str], threshold: float) -> None:
    pairs = near_duplicate(threshold).candidate_pairs(texts)
    for i, j in itertools.combinations(range(len(texts)), 2):
        if similarity(texts[i], texts[j]) >= threshold:
            assert (i, j) in pairs


# --- forget ------------------------------------------------------------------------------------------------
async def test_plan_forget_is_a_dry_run(store: InMemoryEditor, manager: StoreMemoryManager) -> None:
    before = await snapshot(store)
    plan = await manager.plan_forget(older_than(15))
    assert plan.record_ids == ["a1", "a2", "a3"]  # oldest first, ben's older record untouched
    assert (await manager.plan_forget(has_tag("travel"))).record_ids == ["a1", "a4"]
    assert await snapshot(store) == before


async def test_apply_forget_deletes_exactly_the_plan(store: InMemoryEditor, manager: StoreMemoryManager) -> None:
    plan = await manager.plan_forget(has_tag("preference"))
    await store.add_records([rec("a6", "Ann prefers aisle seats now", tags=("preference",))])
    report = await manager.apply_forget(plan)
    assert report.record_ids == ["a1", "a2"] and report.deleted == 2
    assert [r.id for r in await records_of(store)] == ["a6", "a5", "a4", "a3"]
    assert len(await records_of(store, "ben")) == 1


async def test_forget_with_a_plain_item_callable(store: InMemoryEditor, manager: StoreMemoryManager) -> None:
    before = {r.id for r in await records_of(store)}
    await manager.forget(lambda item: "dog" in (item.memory or ""))
    assert {r.id for r in await records_of(store)} == before - {"a5"}  # exactly the dog memory
    nothing = await manager.apply_forget(await manager.plan_forget(lambda item: False))
    assert (nothing.deleted, nothing.record_ids) == (0, [])
    assert {r.id for r in await records_of(store)} == before - {"a5"}


async def test_a_plan_for_another_user_is_refused(store: InMemoryEditor, manager: StoreMemoryManager) -> None:
    ben_plan = await StoreMemoryManager(store, "ben").plan_forget(has_tag("preference"))
    with pytest.raises(InvalidInputError, match="for user 'ben'"):
        await manager.apply_forget(ben_plan)


# --- merge ------------------------------------------------------------------------------------------------
async def test_plan_merge_groups_near_duplicates_without_changing_anything(
        store: InMemoryEditor, manager: StoreMemoryManager) -> None:
    before = await snapshot(store)
    plan = await manager.plan_merge(near_duplicate(0.6))
    assert await snapshot(store) == before
    [group] = plan.groups
    assert group.keeper.id == "a1" and [d.id for d in group.duplicates] == ["a2", "a4"]
    assert group.merged_text == "ann prefers window seats on long flights!"
    assert group.patch.tags == ["travel", "preference"]
    assert group.patch.metadata == {"merged_from": ["a2", "a4"]}
    assert MergePlan.model_validate_json(plan.model_dump_json()) == plan


async def test_apply_merge_does_exactly_the_plan(store: InMemoryEditor, manager: StoreMemoryManager) -> None:
    plan = await manager.plan_merge(near_duplicate(0.6))
    await store.add_records([rec("a7", "Ann prefers window seats on long flights")])
    report = await manager.apply_merge(plan)
    assert report.merged == ["a1"] and report.deleted == ["a2", "a4"] and report.conflicts == []
    ids = {r.id: r for r in await records_of(store)}
    assert set(ids) == {"a1", "a3", "a5", "a7"}
    assert ids["a1"].version == 2 and ids["a1"].item.memory == "ann prefers window seats on long flights!"


async def test_merge_conflicts_are_reported_not_overwritten(store: InMemoryEditor,
                                                            manager: StoreMemoryManager) -> None:
    await store.add_records([rec("a8", "Ann's dog Biscuit loves the beach.", days_ago=0.5)])
    plan = await manager.plan_merge(near_duplicate(0.6))
    assert [g.keeper.id for g in plan.groups] == ["a1", "a5"]
    await store.update_record("a1", MemoryPatch(memory="Ann now prefers aisle seats"), expected_version=1)
    await store.update_record("a8", MemoryPatch(tags=["pets"]), expected_version=1)
    report = await manager.apply_merge(plan)
    assert report.merged == [] and report.deleted == []
    assert [(c.keeper_id, c.record_id) for c in report.conflicts] == [("a1", "a1"), ("a5", "a8")]
    assert "expected version 1, now 2" in report.conflicts[0].message
    assert (await store.get_record("a1")).item.memory == "Ann now prefers aisle seats"
    assert {r.id for r in await records_of(store)} == {"a1", "a2", "a3", "a4", "a5", "a8"}


async def test_merge_with_a_generic_pair_criterion(store: InMemoryEditor, manager: StoreMemoryManager) -> None:
    await manager.merge(lambda a, b: set(a.tags) & set(b.tags) != set())
    remaining = await records_of(store)
    assert sorted(r.id for r in remaining) == ["a1", "a3", "a5"]


def test_merged_patch_joins_conversations_and_keeps_keeper_metadata() -> None:
    keeper = rec("k", None, metadata={"src": "keeper", "merged_from": ["old"]},
                 conversation=[{"role": "user", "content": "hi"}])
    dup = rec("d", "longer text", metadata={"src": "dup", "extra": 1},
              conversation=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    patch = merged_patch([keeper, dup])
    assert patch.memory == "longer text"
    assert patch.metadata == {"src": "keeper", "extra": 1, "merged_from": ["old", "d"]}
    assert patch.conversation == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]


# --- summarize and reflect ---------------------------------------------------------------------------------
async def derived(store: InMemoryEditor, kind: str) -> list[MemoryRecord]:
    return await records_of(store, metadata={DERIVED_KEY: kind})


async def test_summarize_writes_one_summary_per_tag_and_is_idempotent(
        store: InMemoryEditor, manager: StoreMemoryManager) -> None:
    await manager.summarize()
    summaries = {r.item.metadata["summary_of"]: r for r in await derived(store, "summary")}
    assert set(summaries) == {"preference", "travel"}  # health and untagged have one memory each
    travel = summaries["travel"].item
    assert travel.tags == ["summary"] and travel.metadata["source_count"] == 2
    assert travel.memory.startswith("Summary of 2 travel memories: Ann prefers")
    before = await snapshot(store)
    await manager.summarize()
    assert await snapshot(store) == before


async def test_summarize_replaces_and_removes_older_summaries(store: InMemoryEditor,
                                                              manager: StoreMemoryManager) -> None:
    await manager.summarize()
    first = {r.item.metadata["summary_of"]: r for r in await derived(store, "summary")}
    await store.add_records([rec("a9", "Ann would like a train to Rome", tags=("travel",))])
    await store.delete_records(["a2"])  # preference drops to one memory
    await manager.summarize()
    now = {r.item.metadata["summary_of"]: r for r in await derived(store, "summary")}
    assert set(now) == {"travel"}
    assert now["travel"].id == first["travel"].id and now["travel"].version == 2
    assert now["travel"].item.metadata["source_count"] == 3


async def test_summarize_and_reflect_with_an_llm(store: InMemoryEditor) -> None:
    prompts: list[str] = []

    async def llm(prompt: str) -> str:
        prompts.append(prompt)
        return f" written by the model #{len(prompts)} "

    manager = StoreMemoryManager(store, "ann", llm=llm)
    await manager.summarize()
    await manager.reflect()
    assert len(prompts) == 3
    assert "topic: preference" in prompts[0] and "- Ann prefers window seats on long flights" in prompts[0]
    assert "Reflection on 5 memories" in prompts[2]
    texts = sorted(r.item.memory for r in await records_of(store, tags_any=("summary", "reflection")))
    assert texts == ["written by the model #1", "written by the model #2", "written by the model #3"]
    await manager.summarize()
    await manager.reflect()
    assert len(prompts) == 3  # sources unchanged: no new calls


async def test_reflect_counts_patterns(store: InMemoryEditor, manager: StoreMemoryManager) -> None:
    await manager.reflect()
    await manager.summarize()
    await manager.reflect()  # summaries are not counted as the user's memories
    [reflection] = await derived(store, "reflection")
    text = reflection.item.memory
    assert text.startswith("Reflection on 5 memories. Most frequent tags: preference (2), travel (2), health (1).")
    assert "Recurring terms: ann (5), flights (3), long (3), prefers (3), window (3)." in text
    assert "Preference statements: Ann prefers window seats on long flights;" in text
    assert "flights!" not in text  # the near-duplicate statement is listed once
    assert reflection.item.tags == ["reflection"] and reflection.version == 1


async def test_summaries_are_never_merged(store: InMemoryEditor, manager: StoreMemoryManager) -> None:
    await manager.summarize()
    plan = await manager.plan_merge(lambda a, b: True)
    assert all(DERIVED_KEY not in r.item.metadata for g in plan.groups for r in [g.keeper, *g.duplicates])


async def test_reflect_without_memories_removes_the_reflection() -> None:
    store = InMemoryEditor()
    await store.add_records([rec("z1", "Zed likes chess")])
    manager = StoreMemoryManager(store, "ann")
    await manager.reflect()
    assert len(await derived(store, "reflection")) == 1
    await store.delete_records(["z1"])
    await manager.reflect()
    assert await derived(store, "reflection") == []


def test_representative_sentences_prefer_shared_terms() -> None:
    texts = ["Ann loves hiking. She owns a red car.", "Ann went hiking in the Alps.",
             "Hiking with Ann in the Alps is fun."]
    assert representative_sentences(texts, 1) == ["Ann went hiking in the Alps."]
    assert representative_sentences(texts, 3, in_order=True) == [
        "Ann loves hiking.", "Ann went hiking in the Alps.", "Hiking with Ann in the Alps is fun."]
    repeated = ["Ann loves tea.", "ann loves tea", "Ann drinks tea daily."]
    assert representative_sentences(repeated, 2) == ["Ann loves tea.", "Ann drinks tea daily."]
