"""A small, fixed demo data set (5 users, 40 memories) and the seeding that fills an empty store with it.

Nothing here is random: :func:`demo_items` returns the same items on every call, so the dashboard,
screenshots and tests always see the same store. ``seed_if_empty`` is what ``memdash run`` and the
dashboard call on first start.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Callable

from memory_core.errors import NotFoundError
from memory_core.interfaces import Capability, MemoryEditor, capabilities_of
from memory_core.items import new_id
from memory_core.models import MemoryItem
from memory_core.records import MemoryFilter, MemoryRecord, utcnow

if typing.TYPE_CHECKING:
    from memory_core.audit.writer import AuditedWriter

# (user, days ago, session, tags, memory, conversation turns (user/assistant alternating), extra metadata)
_DEMO: list[tuple[str, int, str, tuple[str, ...], str, tuple[str, ...], dict[str, str]]] = [
    # alice: product manager in Berlin, vegetarian, short answers
    ("alice", 41, "alice-onboarding", ("preference", "diet"), "Alice is vegetarian and does not eat fish.", (
        "I'm vegetarian, and no fish either please.",
        "Noted: vegetarian, no fish. I'll keep that in mind for restaurant suggestions."), {"source": "onboarding"}),
    ("alice", 41, "alice-onboarding", ("preference", "communication"),
     "Alice prefers short answers as bullet points, no more than five bullets.", (), {"source": "onboarding"}),
    ("alice", 33, "alice-lisbon-trip", ("travel", "preference"),
     "Alice always books a window seat and avoids flights that leave before 8 am.", (
         "Can you find me a flight to Lisbon on the 14th?",
         "Sure. Any seat or time preferences?",
         "Window seat, and nothing before 8 in the morning.",
         "Got it: window seat, departures after 8:00."), {}),
    ("alice", 33, "alice-lisbon-trip", ("travel",), "Alice is planning a trip to Lisbon in May with her sister.",
     (), {}),
    ("alice", 20, "alice-standup", ("work", "tools"),
     "Alice tracks her team's work in Linear and writes specs in Notion.", (), {}),
    ("alice", 12, "alice-standup", ("work",), "Alice's team ships a release every second Thursday.", (), {}),
    ("alice", 6, "alice-weekend", ("preference", "hobby"), "Alice climbs at a bouldering gym twice a week.", (
        "Any ideas for a rest day? My fingers are sore from bouldering.",
        "Try an easy yoga session or a long walk; both help recovery."), {}),
    ("alice", 1, "alice-dinner", ("diet", "preference"),
     "Alice likes spicy food, especially Sichuan and Thai dishes.", (), {"importance": "low"}),
    # bob: sales lead in Toronto, lactose intolerant, travels a lot
    ("bob", 38, "bob-onboarding", ("diet", "health"), "Bob is lactose intolerant.", (
        "Heads up, I'm lactose intolerant.",
        "Thanks, I'll avoid suggesting dishes with dairy."), {"source": "onboarding", "importance": "high"}),
    ("bob", 38, "bob-onboarding", ("preference", "communication"),
     "Bob wants a short summary first and the details after it.", (), {"source": "onboarding"}),
    ("bob", 30, "bob-chicago", ("travel",), "Bob flies to Chicago every month to meet clients.", (), {}),
    ("bob", 30, "bob-chicago", ("travel", "preference"),
     "Bob prefers aisle seats and hotels within walking distance of the client's office.", (
         "Book me the usual for Chicago next week.",
         "An aisle seat and a hotel close to the client's office, as before?",
         "Yes, exactly."), {}),
    ("bob", 22, "bob-pipeline", ("work", "tools"), "Bob keeps his sales pipeline in Salesforce.", (), {}),
    ("bob", 15, "bob-pipeline", ("work", "schedule"), "Bob blocks Friday afternoons for pipeline reviews.", (), {}),
    ("bob", 9, "bob-family", ("personal",), "Bob's daughter Maya plays hockey on Saturday mornings.", (), {}),
    ("bob", 2, "bob-chicago", ("travel", "preference"),
     "Bob has Air Canada Aeroplan status and prefers Star Alliance airlines.", (), {"importance": "low"}),
    # carmen: UX designer in Madrid, vegan, trains over planes
    ("carmen", 36, "carmen-onboarding", ("diet", "preference"), "Carmen is vegan.", (
        "Just so you know, I'm vegan.",
        "Thanks! I'll only suggest vegan options."), {"source": "onboarding", "importance": "high"}),
    ("carmen", 36, "carmen-onboarding", ("communication", "preference"),
     "Carmen writes in Spanish or English and likes replies in the language she used.", (),
     {"source": "onboarding"}),
    ("carmen", 27, "carmen-paris", ("travel", "preference"),
     "Carmen takes the train instead of flying for trips under six hours.", (
         "How do I get from Madrid to Barcelona on Friday?",
         "The fastest option is a 45-minute flight, or there is a high-speed train.",
         "Train please, I avoid short flights.",
         "The AVE takes about 2.5 hours; I'll look at morning departures."), {}),
    ("carmen", 27, "carmen-paris", ("travel",), "Carmen is going to a design conference in Paris in June.", (), {}),
    ("carmen", 18, "carmen-studio", ("work", "tools"),
     "Carmen designs in Figma and hands off to developers with Storybook.", (), {}),
    ("carmen", 11, "carmen-studio", ("work",), "Carmen is redesigning the onboarding flow of a banking app.", (),
     {}),
    ("carmen", 5, "carmen-weekend", ("hobby",), "Carmen paints watercolours and visits the Prado on Sundays.", (),
     {}),
    ("carmen", 0, "carmen-studio", ("work", "schedule"), "Carmen does not take meetings before 10 am.", (),
     {"importance": "low"}),
    # dmitri: data engineer in Tallinn, gluten-free, remote
    ("dmitri", 40, "dmitri-onboarding", ("diet", "health"), "Dmitri has coeliac disease and eats gluten-free.", (
        "I need gluten-free food, I have coeliac disease.",
        "Understood, I'll only recommend places with proper gluten-free options."),
     {"source": "onboarding", "importance": "high"}),
    ("dmitri", 40, "dmitri-onboarding", ("communication", "preference"),
     "Dmitri wants code examples in Python with type hints.", (), {"source": "onboarding"}),
    ("dmitri", 31, "dmitri-pipeline", ("work", "tools"),
     "Dmitri runs data pipelines on Airflow and stores results in PostgreSQL.", (), {}),
    ("dmitri", 24, "dmitri-pipeline", ("work", "tools"), "Dmitri uses Neovim and works in a tmux session.", (
        "Which editor setup would you suggest for Python?",
        "Do you prefer a terminal editor or an IDE?",
        "Terminal. I live in Neovim inside tmux."), {}),
    ("dmitri", 16, "dmitri-remote", ("work", "schedule"),
     "Dmitri works remotely, on Eastern European Time (UTC+2).", (), {}),
    ("dmitri", 10, "dmitri-travel", ("travel", "preference"),
     "Dmitri takes the ferry from Tallinn to Helsinki for team meetings.", (), {}),
    ("dmitri", 4, "dmitri-weekend", ("hobby",), "Dmitri plays chess online in the evenings.", (), {}),
    ("dmitri", 1, "dmitri-travel", ("travel",), "Dmitri's passport expires in August.", (),
     {"importance": "high"}),
    # emi: researcher in Osaka, pescatarian, detailed answers
    ("emi", 35, "emi-onboarding", ("diet", "preference"), "Emi is pescatarian and allergic to peanuts.", (
        "I eat fish but no meat. Also I'm allergic to peanuts.",
        "Noted: pescatarian, and no peanuts in anything I suggest."), {"source": "onboarding", "importance": "high"}),
    ("emi", 35, "emi-onboarding", ("communication", "preference"),
     "Emi likes detailed explanations with links to papers.", (), {"source": "onboarding"}),
    ("emi", 28, "emi-lab", ("work", "tools"),
     "Emi writes papers in LaTeX on Overleaf and manages references in Zotero.", (), {}),
    ("emi", 21, "emi-lab", ("work",), "Emi researches protein folding at a university lab in Osaka.", (), {}),
    ("emi", 14, "emi-conference", ("travel",), "Emi is presenting a poster at a conference in Vancouver.", (
        "I need to get to Vancouver for a conference in September.",
        "Would you like a direct flight from Kansai or via Tokyo?",
        "Direct if possible, I get jet lag badly.",
        "I'll look for direct flights and an arrival two days early to adjust."), {}),
    ("emi", 14, "emi-conference", ("travel", "preference"), "Emi prefers to arrive two days early to get over jet lag.",
     (), {}),
    ("emi", 7, "emi-weekend", ("hobby",), "Emi plays the violin in an amateur orchestra.", (), {}),
    ("emi", 3, "emi-lab", ("work", "schedule"), "Emi's grant report is due at the end of the month.", (),
     {"importance": "high"}),
]

DEMO_USERS: tuple[str, ...] = tuple(dict.fromkeys(row[0] for row in _DEMO))


def _item(user: str, session: str, tags: tuple[str, ...], memory: str, turns: tuple[str, ...],
          extra: dict[str, str]) -> MemoryItem:
    conversation = [{"role": ("user", "assistant")[i % 2], "content": text} for i, text in enumerate(turns)]
    return MemoryItem(user_id=user, memory=memory, tags=list(tags), conversation=conversation or None,
                      metadata={"source": "chat", "session": session, **extra})


def demo_items() -> list[MemoryItem]:
    """The demo memories, grouped by user; a new list of new items on every call."""
    return [_item(user, session, tags, memory, turns, extra) for user, _, session, tags, memory, turns, extra in _DEMO]


def demo_ages() -> list[dt.timedelta]:
    """How long ago each item of :func:`demo_items` was remembered, so a seeded store looks lived in."""
    return [dt.timedelta(days=days, minutes=7 * i) for i, (_, days, *_) in enumerate(_DEMO)]


DATASETS: dict[str, Callable[[], list[MemoryItem]]] = {"demo": demo_items}


def dataset(name: str) -> list[MemoryItem]:
    """The items of a named data set; ``NotFoundError`` lists the known names."""
    if name not in DATASETS:
        raise NotFoundError(f"no demo data set named '{name}'; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]()


async def is_empty(editor: MemoryEditor) -> bool:
    """Whether the store holds no memories: counted when it can count, else probed by searching the demo users."""
    if Capability.COUNT in capabilities_of(editor):
        return await editor.count_records(MemoryFilter()) == 0  # type: ignore[attr-defined]
    items = demo_items()
    for user in DEMO_USERS:
        probe = next(i.memory for i in items if i.user_id == user)
        if await editor.search(probe or user, top_k=1, user_id=user):
            return False
    return True


async def seed(writer: AuditedWriter, data: str = "demo") -> int:
    """Add a data set to the store through the audited write path; returns how many memories were added.

    A store that keeps ids gets records with spread-out timestamps (the newest a few minutes old); any other
    store gets the same items through the toolkit's ``add_items``.
    """
    items = dataset(data)
    if writer.keeps_ids and data == "demo":
        now = utcnow()
        records = [MemoryRecord(id=new_id(), item=item, created_at=now - age, updated_at=now - age)
                   for item, age in zip(items, demo_ages(), strict=True)]
        return (await writer.import_records(records)).added
    return len(await writer.add(items))


async def seed_if_empty(writer: AuditedWriter, data: str = "demo") -> int:
    """Seed the store only when it has no memories at all; returns how many were added (0 if none)."""
    if not await is_empty(writer.reader):
        return 0
    return await seed(writer, data)
