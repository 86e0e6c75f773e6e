"""Review detectors: personal data (with false-positive cases), near-duplicates, contradictions, scanning."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.records import MemoryRecord
from memory_core.review import (
    Kind,
    contradiction,
    iban_ok,
    luhn_ok,
    pair_findings,
    personal_data,
    redact,
    scan,
)

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(("text", "what", "match"), [
    ("write to alice.smith+news@example.co.uk please", "e-mail address", "alice.smith+news@example.co.uk"),
    ("card 4111 1111 1111 1111 exp 12/27", "card number", "4111 1111 1111 1111"),
    ("paid with 5500-0000-0000-0004", "card number", "5500-0000-0000-0004"),
    ("IBAN GB82 WEST 1234 5698 7654 32 for rent", "IBAN", "GB82 WEST 1234 5698 7654 32"),
    ("iban DE89370400440532013000", "IBAN", "DE89370400440532013000"),
    ("ssn 123-45-6789", "SSN-shaped number", "123-45-6789"),
    ("call +44 20 7946 0958 tomorrow", "phone number", "+44 20 7946 0958"),
    ("office (415) 555-2671", "phone number", "(415) 555-2671"),
    ("mobile 415-555-2671", "phone number", "415-555-2671"),
])
def test_personal_data_found(text, what, match):
    assert (what, match) in personal_data(text)


@pytest.mark.parametrize("text", [
    "order 4111 1111 1111 1112 arrived",  # fails Luhn
    "tracking 1234567890123456",  # 16 digits, fails Luhn
    "meeting on 2024-05-17 at 14:30",  # a date and a time
    "version 1.2.3 of the app, build 20240517",
    "she was born in 1987 and has 3 kids",
    "GB82 WEST 1234 5698 7654 33 is a typo",  # IBAN check digits wrong
    "ssn-like 000-12-3456 and 666-12-3456 and 900-12-3456",  # impossible areas
    "the score was 10-2-2019",
    "alice at example dot com",
    "room 12345678",  # bare digits are not a phone
    "ISBN 978-3-16-148410-0",
])
def test_no_false_positive(text):
    assert personal_data(text) == []


def test_checksums():
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST12345698765433")


def test_redaction_in_memory_and_conversation():
    item = MemoryItem(user_id="u", memory="mail me at a@b.io", conversation=[{"role": "user", "content": "a@b.io!"}])
    assert redact(item, "a@b.io") == ("mail me at [redacted]", [{"role": "user", "content": "[redacted]!"}])


def item(text: str, *tags: str) -> MemoryItem:
    return MemoryItem(user_id="u", memory=text, tags=list(tags))


@pytest.mark.parametrize(("a", "b", "rule"), [
    (item("Alice likes jazz concerts", "music"), item("Alice hates jazz", "music"), "likes / dislikes"),
    (item("Alice is vegetarian", "diet"), item("Alice eats meat on Sundays", "diet"), "vegetarian / eats meat"),
    (item("Alice doesn't like sushi", "food"), item("Alice loves sushi", "food"), "likes / dislikes"),
])
def test_contradictions(a, b, rule):
    assert contradiction(a, b) == rule


@pytest.mark.parametrize(("a", "b"), [
    (item("Alice likes jazz", "music"), item("Alice hates jazz", "other")),  # no shared tag
    (item("Alice likes jazz", "music"), item("Alice hates opera", "music")),  # different objects
    (item("Alice is vegetarian", "diet"), item("Alice is vegan", "diet")),
])
def test_not_contradictions(a, b):
    assert contradiction(a, b) is None


def record(rid: str, text: str, user: str = "u", minutes: int = 0, **meta) -> MemoryRecord:
    when = T0 + dt.timedelta(minutes=minutes)
    return MemoryRecord(id=rid, created_at=when, updated_at=when,
                        item=MemoryItem(user_id=user, memory=text, tags=["diet"], metadata=meta))


async def test_scan_pages_per_user_and_skips_approved():
    store = InMemoryEditor()
    await store.add_records([
        record("1", "Alice is vegetarian", minutes=1),
        record("2", "Alice eats meat at barbecues", minutes=2),
        record("3", "Alice's email is alice@example.com", minutes=3),
        record("4", "Alice's email is alice@example.com.", minutes=4),
        record("5", "Bob drinks tea", user="bob"),
        *[record(f"x{i}", hashlib.sha1(str(i).encode()).hexdigest(), user="carol", minutes=i) for i in range(450)],
    ])
    found = await scan(store, approved=frozenset({("4", 1), ("3", 2)}))  # 3: approved at a version it is not at
    kinds = {(f.kind, f.record_id, f.other_id) for f in found}
    assert (Kind.CONTRADICTION, "2", "1") in kinds
    assert (Kind.PERSONAL_DATA, "3", None) in kinds
    assert not [f for f in found if f.record_id == "4"]  # approved: neither its e-mail nor the duplicate
    assert not [f for f in found if f.user_id == "bob"]
    only_pii = await scan(store, frozenset({Kind.PERSONAL_DATA}), limit=1)
    assert [f.kind for f in only_pii] == [Kind.PERSONAL_DATA]


SENTENCES = ["Sam likes jazz and tea.", "Sam hates jazz.", "Sam avoids tea.", "Sam is vegetarian.",
             "Sam eats meat at barbecues.", "Sam drinks wine with dinner.", "Sam is teetotal.",
             "Sam enjoys hiking in Osaka.", "Sam dislikes hiking.", "Sam prefers window seats."]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SENTENCES), st.sets(st.sampled_from(["diet", "travel", "music"]),
                                                              min_size=1)), min_size=2, max_size=25))
def test_each_memory_gets_its_latest_contradiction_as_the_pairwise_rule_finds_it(rows):
    """The indexed detector reports, for each memory, an earlier one it contradicts by the pairwise rule
    (:func:`contradiction`), whenever there is one: no pair missed, none invented, one finding per memory."""
    records = [record(f"m{i:02d}", text, minutes=i).model_copy(update={"item": MemoryItem(
        user_id="u", memory=text, tags=sorted(tags))}) for i, (text, tags) in enumerate(rows)]
    found = {f.record_id: f for f in pair_findings(records) if f.kind is Kind.CONTRADICTION}
    by_id = {r.id: r for r in records}
    for j, later in enumerate(records):
        contradicted = [r for r in records[:j] if contradiction(r.item, later.item)]
        if not contradicted:
            assert later.id not in found
            continue
        finding = found[later.id]
        assert contradiction(by_id[finding.other_id].item, later.item) == finding.detail


def test_a_crowd_of_similar_memories_gives_one_finding_each_not_one_per_pair():
    """4,000 templated memories of one user gave 479,849 findings on d5b94e4 (every pair): a flood nobody can
    review, built in time quadratic in the user's memories."""
    texts = [f"Sam likes {w} and tea, reminder number {i}" for i, w in enumerate(["jazz", "rock", "folk"] * 400)]
    records = [record(f"m{i:04d}", text, minutes=i) for i, text in enumerate(texts)]
    found = pair_findings(records)
    assert len(found) <= 2 * len(records)
    assert {f.kind for f in found} == {Kind.NEAR_DUPLICATE}
