"""Review queue: detectors that flag memories a person should look at.

* **Personal data** (:data:`PII_PATTERNS`): e-mail addresses; phone numbers (``+`` and 8-15 digits, or 10
  digits in the usual groupings — bare digit runs, dates and times are not phones); payment card numbers
  (13-19 digits, optionally grouped, that pass the Luhn check); IBANs (country code, check digits, 11-30
  letters/digits, grouped by 4 or not, that pass the ISO 7064 mod-97 check); US SSN shapes (``AAA-GG-SSSS``
  with area not 000, 666 or 9xx, group not 00, serial not 0000). Found in the memory text and conversation.
* **Near-duplicates**: :class:`memory_core.manager.NearDuplicate` (trigram Jaccard >= 0.85) within one user,
  candidate pairs from its exact prefix filter.
* **Contradictions**: two memories of one user sharing a tag, one matching the positive side of a
  :data:`OPPOSITES` rule and the other its negative side; for like/dislike rules the rest of the two sentences
  must share a content word ("likes jazz" / "hates jazz"); or both choosing the same thing differently
  (:func:`choices`: "always books a window seat" / "prefers aisle seats"). A flag only: it knows no negation
  ("does not dislike"), sarcasm, time ("used to") or synonyms beyond the listed words.
  :func:`contradicts` is the rule on two texts (the Playground checks a new fact with it).

Stores are read one user at a time, a page of records at a time; only one user's memories are held. A
memory a person approved is not flagged again while it stays at the approved version; approvals are memdash's
own state (audit entries, :mod:`memory_core.audit.writer`), never written into the memory the agent reads.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import dataclasses
import enum
import functools
import math
import multiprocessing
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

from memory_core.interfaces import MemoryBrowser
from memory_core.items import item_text
from memory_core.manager import NearDuplicate, content_terms, shingles
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter, MemoryRecord, Sort, SortField

REDACTED = "[redacted]"
CANDIDATES_PER_TRIGRAM = 8
EXCERPT_CHARS = 160


class Kind(enum.StrEnum):
    PERSONAL_DATA = "personal_data"
    NEAR_DUPLICATE = "near_duplicate"
    CONTRADICTION = "contradiction"


Approved = frozenset[tuple[str, int]]  # (memory id, version) pairs a person approved


@dataclasses.dataclass(frozen=True)
class Finding:
    """One flagged memory; ``match`` is the text to redact (personal data), ``other_id`` the second memory of a
    pair (the older one)."""

    kind: Kind
    record_id: str
    version: int  # of the flagged memory when it was scanned: an approval is for what the person saw
    user_id: str
    detail: str
    match: str | None = None
    other_id: str | None = None
    excerpt: str = ""


# --- personal data -----------------------------------------------------------------------------------------
def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a digit string (payment cards)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """ISO 13616 check digits: the rearranged IBAN read as a number is 1 modulo 97."""
    compact = re.sub(r"\s", "", text).upper()
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


_NOT_DIGIT = r"(?<![\w+-])"
PII_PATTERNS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool]], ...] = (
    ("e-mail address", re.compile(r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
     lambda m: True),
    ("card number", re.compile(_NOT_DIGIT + r"\d(?:[ -]?\d){12,18}(?![\w-])"),
     lambda m: luhn_ok(_digits(m))),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), iban_ok),
    ("SSN-shaped number", re.compile(_NOT_DIGIT + r"(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])"),
     lambda m: True),
    ("phone number", re.compile(
        r"(?:(?<![\w+])\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}"
        r"|(?<![\w-])\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})(?![\w-])"),
     lambda m: 8 <= len(_digits(m)) <= 15),
)


def personal_data(text: str) -> list[tuple[str, str]]:
    """``(what, matched text)`` for every personal-data pattern found, each span once (first pattern wins)."""
    found: list[tuple[str, str]] = []
    taken: list[range] = []
    for what, pattern, check in PII_PATTERNS:
        for match in pattern.finditer(text):
            span = range(*match.span())
            if check(match.group()) and not any(set(span) & set(t) for t in taken):
                found.append((what, match.group()))
                taken.append(span)
    return found


def _texts(item: MemoryItem) -> Iterator[str]:
    if item.memory:
        yield item.memory
    for message in item.conversation or []:
        if message.get("content"):
            yield message["content"]


def redact(item: MemoryItem, match: str) -> tuple[str | None, list[dict[str, str]] | None]:
    """The memory text and conversation with every occurrence of ``match`` replaced by ``[redacted]``."""
    memory = item.memory.replace(match, REDACTED) if item.memory else item.memory
    conversation = [{**m, "content": (m.get("content") or "").replace(match, REDACTED)}
                    for m in item.conversation] if item.conversation is not None else None
    return memory, conversation


def personal_data_findings(record: MemoryRecord) -> list[Finding]:
    found = dict.fromkeys((what, text) for part in _texts(record.item) for what, text in personal_data(part))
    return [Finding(Kind.PERSONAL_DATA, record.id, record.version, record.user_id, what, match=text,
                    excerpt=_excerpt(record)) for what, text in found]


def _excerpt(record: MemoryRecord) -> str:
    return item_text(record.item)[:EXCERPT_CHARS]


# --- pairs within one user -----------------------------------------------------------------------------------
_LIKE = re.compile(r"\b(likes?|loves?|enjoys?|prefers?|adores?)\b", re.IGNORECASE)
_DISLIKE = re.compile(r"\b(dislikes?|hates?|detests?|avoids?|(?:does ?n[o']t|do ?n[o']t|never) "
                      r"(?:like|enjoy|eat|drink)s?)\b", re.IGNORECASE)
OPPOSITES: tuple[tuple[str, re.Pattern[str], re.Pattern[str], bool], ...] = (
    ("likes / dislikes", _LIKE, _DISLIKE, True),
    ("vegetarian / eats meat", re.compile(r"\b(vegetarian|vegan)\b", re.IGNORECASE),
     re.compile(r"\b(eats? (?:meat|steak|chicken|pork|beef|fish)|meat[- ]eater|carnivore)\b", re.IGNORECASE), False),
    ("teetotal / drinks alcohol", re.compile(r"\b(teetotal(?:er)?|does ?n[o']t drink|sober)\b", re.IGNORECASE),
     re.compile(r"\b(drinks? (?:wine|beer|alcohol|whisky|cocktails))\b", re.IGNORECASE), False),
)


def _object_terms(text: str, pattern: re.Pattern[str]) -> set[str]:
    """Content words after the first polarity word (what is liked or disliked, not who)."""
    match = pattern.search(text)
    return set(content_terms(text[match.end():])) if match else set()


CHANGED_CHOICE = "one choice / another"
_CHOICE = re.compile(r"\b(?:prefers?|preferred|always|usually|only|favou?rite)\b", re.IGNORECASE)
_NEGATED = re.compile(r"(?:\bnot|n[o'’]t|\bno longer|\bnever)\s+(?:[\w'’]+\s+)?$", re.IGNORECASE)
_FAVOURITE = re.compile(r"\bfavou?rite\s+([\w'’-]+)\s+(?:is|are)\s+([\w'’-]+(?:\s+[\w'’-]+)?)", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[,.;:!?()\n]|\b(?:and|or|but)\b", re.IGNORECASE)
_PHRASE_BREAK_TEXT = (
    "a an the to in on at for with of as that which who when where while before after by from near over "
    "under than then is are was were be been not no her his their its my your our this these those every "
    "each")
_PHRASE_BREAK = frozenset(_PHRASE_BREAK_TEXT.split())


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def choices(text: str) -> dict[str, str]:
    """``{thing: which}`` a statement says someone chooses: after *prefers, always, usually, only, favourite*
    (not negated just before), each two-word noun phrase up to the end of the clause gives its last word as the
    thing and the word before as which one ("always books a window seat" → ``{"seat": "window"}``); "favourite
    X is Y" gives ``{X: Y}``. Lower-cased, a plural's ``s`` dropped from the thing; the first phrase of a thing
    wins."""
    found: dict[str, str] = {}
    for match in _CHOICE.finditer(text):
        if _NEGATED.search(text[max(0, match.start() - 30):match.start()]):
            continue
        favourite = _FAVOURITE.match(text, match.start())
        if favourite:
            found.setdefault(_singular(favourite.group(1).lower()), favourite.group(2).lower())
            continue
        clause = _CLAUSE_END.split(text[match.end():], maxsplit=1)[0]
        phrase: list[str] = []
        for word in [*re.findall(r"[\w'’-]+", clause.lower()), None]:
            if word is not None and word not in _PHRASE_BREAK:
                phrase.append(word)
                continue
            if len(phrase) >= 2 and len(phrase[-1]) > 2:
                found.setdefault(_singular(phrase[-1]), phrase[-2])
            phrase = []
    return found


def contradicts(text: str, other: str) -> str | None:
    """The rule two statements about one person contradict by, or ``None``: an :data:`OPPOSITES` rule, else
    :data:`CHANGED_CHOICE` (both choose the same thing, differently: "always books a window seat" / "prefers
    aisle seats"). Texts only; :func:`contradiction` adds the shared tag the review scan asks for."""
    for name, positive, negative, needs_object in OPPOSITES:
        for x, y in ((text, other), (other, text)):
            opposed = positive.search(x) and negative.search(y) and not negative.search(x)
            if opposed and (not needs_object or _object_terms(x, _LIKE) & _object_terms(y, _DISLIKE)):
                return name
    mine, theirs = choices(text), choices(other)
    if any(thing in theirs and theirs[thing] != which for thing, which in mine.items()):
        return CHANGED_CHOICE
    return None


def contradiction(a: MemoryItem, b: MemoryItem) -> str | None:
    """The rule two items of one user contradict by (:func:`contradicts`), or ``None``; they must share a tag."""
    if not set(a.tags) & set(b.tags):
        return None
    return contradicts(item_text(a), item_text(b))


def pair_findings(records: Sequence[MemoryRecord], threshold: float = NearDuplicate().threshold) -> list[Finding]:
    """Near-duplicates and contradictions among one user's records (oldest first): for each memory, at most one
    of each, with the closest earlier memory. Work grows with the number of memories, not with its square."""
    texts = [item_text(r.item) for r in records]
    found = [_pair(Kind.NEAR_DUPLICATE, records[i], records[j], f"{score:.0%} similar")
             for j, (i, score) in _near_duplicates(texts, threshold).items()]
    found += [_pair(Kind.CONTRADICTION, records[i], records[j], rule)
              for j, (i, rule) in _contradictions(records, texts).items()]
    return found


def _near_duplicates(texts: Sequence[str], threshold: float) -> dict[int, tuple[int, float]]:
    """``{later: (most similar earlier, score)}`` above ``threshold``. Candidates come from prefix filtering on
    each text's rarest trigrams, each trigram offering its :data:`CANDIDATES_PER_TRIGRAM` most recent texts, so a
    trigram every memory shares cannot make the scan quadratic."""
    sets = [shingles(t) for t in texts]
    frequency = Counter(s for shingle_set in sets for s in shingle_set)
    index: dict[str, list[int]] = defaultdict(list)
    best: dict[int, tuple[int, float]] = {}
    for j, shingle_set in enumerate(sets):
        prefix = len(shingle_set) - math.ceil(threshold * len(shingle_set) - 1e-9) + 1
        rare = sorted(shingle_set, key=lambda s: (frequency[s], s))[:prefix]
        candidates = {i for s in rare for i in index[s][-CANDIDATES_PER_TRIGRAM:]}
        for i in sorted(candidates, reverse=True):
            score = len(sets[i] & shingle_set) / len(sets[i] | shingle_set)
            if score >= threshold and score > best.get(j, (0, 0.0))[1]:
                best[j] = (i, score)
        for s in rare:
            index[s].append(j)
    return best


def _contradictions(records: Sequence[MemoryRecord], texts: Sequence[str]) -> dict[int, tuple[int, str]]:
    """``{later: (latest earlier memory it contradicts, rule)}``: the latest memory on the other side of a rule
    that shares a tag (and, for likes/dislikes, a word of what is liked), found in an index, not by pairs."""
    latest: dict[tuple[object, ...], int] = {}
    choice_index: dict[tuple[str, str], dict[str, int]] = {}  # (tag, thing) -> {which: latest memory}
    found: dict[int, tuple[int, str]] = {}
    for j, (record, text) in enumerate(zip(records, texts, strict=True)):
        for name, positive, negative, needs_object in OPPOSITES:
            side = "-" if negative.search(text) else "+" if positive.search(text) else None
            if side is None:
                continue
            pattern = _DISLIKE if side == "-" else _LIKE
            objects = sorted(_object_terms(text, pattern)) if needs_object else [None]
            keys = [(name, tag, term) for tag in record.item.tags for term in objects]
            other = "+" if side == "-" else "-"
            matches = [latest[(other, *key)] for key in keys if (other, *key) in latest]
            if matches and j not in found:
                found[j] = (max(matches), name)
            latest.update({(side, *key): j for key in keys})
        chosen = [(choice_index.setdefault((tag, thing), {}), which)
                  for thing, which in choices(text).items() for tag in record.item.tags]
        others = [i for seen, which in chosen for other_which, i in seen.items() if other_which != which]
        if others and j not in found:
            found[j] = (max(others), CHANGED_CHOICE)
        for seen, which in chosen:
            seen[which] = j
    return found


def _pair(kind: Kind, earlier: MemoryRecord, later: MemoryRecord, detail: str) -> Finding:
    return Finding(kind, later.id, later.version, later.user_id, detail, other_id=earlier.id,
                   excerpt=f"{_excerpt(later)}  ⟷  {_excerpt(earlier)}")


# --- scanning ------------------------------------------------------------------------------------------------
async def user_records(store: MemoryBrowser, user_id: str, page_size: int = 200) -> list[MemoryRecord]:
    """One user's records, oldest first, read a page at a time."""
    records, cursor = [], None
    flt, sort = MemoryFilter(user_id=user_id), Sort(field=SortField.CREATED, descending=False)
    while True:
        page = await store.list_records(flt, sort=sort, limit=page_size, cursor=cursor)
        records += page.records
        if not (cursor := page.next_cursor):
            return records


async def users(store: MemoryBrowser, page_size: int = 200) -> AsyncIterator[str]:
    cursor = None
    while True:
        page = await store.list_users(limit=page_size, cursor=cursor)
        for user in page.users:
            yield user.user_id
        if not (cursor := page.next_cursor):
            return


async def scan_user(store: MemoryBrowser, user_id: str, kinds: frozenset[Kind] = frozenset(Kind),
                    approved: Approved = frozenset()) -> list[Finding]:
    """Every finding of one user; memories approved at their current version are left out. The detectors run
    in a worker process: a big user's seconds of CPU never hold the event loop, nor the GIL, that the other
    operators' pages wait on."""
    records = await user_records(store, user_id)
    found = await asyncio.get_running_loop().run_in_executor(_detectors(), findings, records, kinds)
    return [f for f in found if (f.record_id, f.version) not in approved]


@functools.cache
def _detectors() -> concurrent.futures.ProcessPoolExecutor:
    """One worker process for the detectors, started on first use ("spawn": the dashboard has threads)."""
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    atexit.register(pool.shutdown, cancel_futures=True)  # before the interpreter tears its modules down
    return pool


def findings(records: Sequence[MemoryRecord], kinds: frozenset[Kind] = frozenset(Kind)) -> list[Finding]:
    """What the chosen detectors find among one user's records (oldest first)."""
    found = [f for r in records if Kind.PERSONAL_DATA in kinds for f in personal_data_findings(r)]
    if kinds & {Kind.NEAR_DUPLICATE, Kind.CONTRADICTION}:
        found += [f for f in pair_findings(records) if f.kind in kinds]
    return found


async def scan(store: MemoryBrowser, kinds: frozenset[Kind] = frozenset(Kind), *, limit: int = 500,
               approved: Approved = frozenset()) -> list[Finding]:
    """Findings of every user, one user at a time, until ``limit`` findings."""
    found: list[Finding] = []
    async for user_id in users(store):
        found += await scan_user(store, user_id, kinds, approved)
        if len(found) >= limit:
            return found[:limit]
    return found
