"""The playground's agent: offline extraction and facts in the third person, contradictions with stored
memories, replies in words, facts parsing, the LLM agent against a local streaming OpenAI-compatible server
(reply streamed, the JSON facts stored through add_memory), offline fallback."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest
import yaml

from dashboard.services import playground
from memory_core.access import LOCAL_ADMIN
from memory_core.agent import (
    Change,
    LlmAgent,
    OfflineAgent,
    agent_for,
    display_name,
    extract_preferences,
    offline_answer,
    offline_facts,
    parse_facts,
    recall,
    remember,
    revised,
)
from memory_core.config import parse_config
from memory_core.llm import llm_config
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.records import MemoryRecord
from memory_core.review import CHANGED_CHOICE, Kind, contradiction, contradicts, pair_findings
from memory_core.tools import AddToolConfig, GetToolConfig, bind_tool
from tests.helpers.llm_server import CHUNKS, FACTS, FACTS_PROMPT, Handler, serve


@pytest.fixture(scope="module")
def server():
    with serve() as url:
        yield url


@pytest.mark.parametrize(("text", "facts"), [
    ("I like green tea.", ["I like green tea."]),
    ("Hi there! I really love jazz. What's the weather?", ["I really love jazz."]),
    ("My favourite colour is blue", ["My favourite colour is blue"]),
    ("my favorite city is Porto.", ["my favorite city is Porto."]),
    ("I'm allergic to peanuts. I am allergic to cats!", ["I'm allergic to peanuts.", "I am allergic to cats!"]),
    ("I always take the train. I never eat meat.", ["I always take the train.", "I never eat meat."]),
    ("I don't like mushrooms", ["I don't like mushrooms"]),
    ("I prefer aisle seats\nI hate queues", ["I prefer aisle seats", "I hate queues"]),
    ("Do I like tea?", []),  # a question
    ("What do I like", []),
    ("Tell me what I love", []),  # a request
    ("I would like a summary. I'd like coffee.", []),
    ("It looks like rain. You like tea.", []),  # not the speaker
    ("", []),
])
def test_offline_extraction(text, facts):
    assert extract_preferences(text) == facts


@pytest.mark.parametrize(("text", "facts"), [
    ("Please remember: I now prefer aisle seats.", ["Alice now prefers aisle seats."]),
    ("Remember that I have two cats", ["Alice has two cats."]),
    ("Note that my sister lives in Porto.", ["Alice's sister lives in Porto."]),
    ("FYI, I'm vegetarian!", ["Alice is vegetarian."]),
    ("fyi: I've been vegan since 2020", ["Alice has been vegan since 2020."]),
    ("Please remember this: I moved to Berlin last year.", ["Alice moved to Berlin last year."]),
    ("Remember this. I live in Berlin.", ["Alice lives in Berlin."]),  # the wrapper as a sentence of its own
    ("Could you remember that I do not eat pork?", ["Alice does not eat pork."]),  # a request, not a question
    ("Remember: the team meets on Mondays.", ["The team meets on Mondays."]),
    ("I like green tea.", ["Alice likes green tea."]),
    ("Hi there! I really love jazz. What's the weather?", ["Alice really loves jazz."]),
    ("My favourite colour is blue", ["Alice's favourite colour is blue."]),
    ("I'm allergic to peanuts. I am allergic to cats!",
     ["Alice is allergic to peanuts.", "Alice is allergic to cats."]),
    ("I always take the train. I never eat meat.", ["Alice always takes the train.", "Alice never eats meat."]),
    ("I don't like mushrooms", ["Alice doesn't like mushrooms."]),
    ("I no longer eat meat.", ["Alice no longer eats meat."]),
    ("I’m not a fan of jazz, but I love blues.", ["Alice is not a fan of jazz, but Alice loves blues."]),
    ("I usually watch football and go to the gym.", ["Alice usually watches football and goes to the gym."]),
    ("I like tea and hate coffee.", ["Alice likes tea and hates coffee."]),
    ("I love my dog.", ["Alice loves their dog."]),
    ("My sister and I love Lisbon.", ["Alice's sister and Alice love Lisbon."]),  # a plural subject keeps its verb
    ("I always try to fly direct", ["Alice always tries to fly direct."]),
    ("Actually, I prefer tea, thanks!", ["Alice prefers tea."]),
    ("i like tea\nI hate queues", ["Alice likes tea.", "Alice hates queues."]),
    ("Do I like tea?", []),  # questions
    ("Can you remember my name?", []),
    ("Remember: what is my name?", []),
    ("Please book me a flight.", []),  # requests
    ("I would like a summary.", []),
    ("Remember that you promised me a summary.", []),  # said about the agent
    ("Remember this.", []),
    ("I think so.", []),  # neither a preference nor asked to be remembered
    ("", []),
])
def test_facts_are_sentences_about_the_user_in_the_third_person(text, facts):
    assert offline_facts(text, "alice") == facts


@pytest.mark.parametrize(("user_id", "name", "fact"), [
    ("alice", "Alice", "Alice prefers tea."),
    ("mary_jane", "Mary Jane", "Mary Jane prefers tea."),
    ("Bob", "Bob", "Bob prefers tea."),
    ("user-42", "user-42", "user-42 prefers tea."),  # an id that is not a name stays as it is
])
def test_the_user_is_named_by_their_id(user_id, name, fact):
    assert display_name(user_id) == name
    assert offline_facts("I prefer tea", user_id) == [fact]


@pytest.mark.parametrize(("new", "old", "rule"), [
    ("Alice now prefers aisle seats.", "Alice always books a window seat.", CHANGED_CHOICE),
    ("Alice now prefers aisle seats.", "Alice always books a window seat and avoids flights before 8 am.",
     CHANGED_CHOICE),
    ("Alice's favourite colour is green.", "Alice's favourite colour is blue.", CHANGED_CHOICE),
    ("Alice doesn't like jazz.", "Alice likes jazz.", "likes / dislikes"),
    ("Alice eats meat at barbecues.", "Alice is vegetarian.", "vegetarian / eats meat"),
    ("Alice now prefers aisle seats.", "Alice prefers aisle seats on long flights.", None),  # the same choice
    ("Alice now prefers aisle seats.", "Alice is planning a trip to Lisbon.", None),
    ("Alice likes Italian food.", "Alice likes spicy food.", None),  # liking two things is no contradiction
    ("Alice no longer prefers window seats.", "Alice prefers aisle seats.", None),  # negated: no choice stated
    ("Alice always takes the train.", "Alice always books a window seat.", None),
])
def test_contradiction_between_a_new_fact_and_a_stored_memory(new, old, rule):
    assert contradicts(new, old) == rule
    assert contradicts(old, new) == rule


def test_the_review_queue_flags_a_changed_choice_as_the_pairwise_rule_does():
    """The review scan's index agrees with :func:`contradiction` on choice sentences (each memory's latest
    contradicting earlier memory, none invented), for every ordering of three of them."""
    texts = ["Sam prefers window seats.", "Sam always books an aisle seat.", "Sam prefers window seats on trains.",
             "Sam usually flies economy class.", "Sam prefers business class with aisle seats."]
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for rows in itertools.product(texts, repeat=3):
        records = [MemoryRecord(id=f"m{i}", created_at=t0 + dt.timedelta(minutes=i), updated_at=t0,
                                item=MemoryItem(user_id="u", memory=text, tags=["travel"]))
                   for i, text in enumerate(rows)]
        found = {f.record_id: f for f in pair_findings(records) if f.kind is Kind.CONTRADICTION}
        for j, later in enumerate(records):
            earlier = [r for r in records[:j] if contradiction(r.item, later.item)]
            assert (later.id in found) == bool(earlier), rows
            if earlier:
                assert found[later.id].other_id == earlier[-1].id and found[later.id].detail == CHANGED_CHOICE


SCORE = re.compile(r"\d\.\d")


def test_the_offline_reply_says_what_it_remembers_in_words():
    memories = [MemoryItem(user_id="alice", memory="Alice is vegetarian and does not eat fish.", similarity_score=2.5),
                MemoryItem(user_id="alice", memory="Alice likes spicy food", similarity_score=1.75),
                MemoryItem(user_id="alice", memory="Alice climbs twice a week.", similarity_score=0.4)]
    reply = offline_answer("What do I eat?", memories)
    assert reply == ("From what I remember: Alice is vegetarian and does not eat fish. Alice likes spicy food.")
    assert not SCORE.search(reply)  # the scores stay in the trace
    assert offline_answer("What do I eat?", []) == "I don't remember anything about that yet."


def test_the_offline_reply_acknowledges_facts_and_says_what_they_change():
    change = Change("Alice now prefers aisle seats.", "Alice always books a window seat.")
    said = offline_answer("Please remember: I now prefer aisle seats.", [], [change.fact], [change])
    assert said == ("Noted — this changes what I had: “Alice always books a window seat.” "
                    "I propose to update it to “Alice now prefers aisle seats.”")
    both = offline_answer("I now prefer aisle seats and I hate rain.", [], [change.fact, "Alice hates rain."],
                          [change])
    assert both.endswith("I propose to update it to “Alice now prefers aisle seats.” I'll remember: Alice hates rain.")
    assert offline_answer("I hate rain.", [], ["Alice hates rain."]) == "Noted. I'll remember: Alice hates rain."


@pytest.mark.parametrize(("answer", "facts"), [
    ('["a", "b"]', ["a", "b"]),
    ('Sure! ["a", " a ", "", 3, null, "b"] Anything else?', ["a", "b"]),
    ("[]", []),
    ("nothing to remember", []),
    ('["unterminated', []),
    ('{"facts": ["a"]', ["a"]),  # the array inside
    ("[1, 2]", []),
    (str(["x" * 400]).replace("'", '"'), []),
    (str([f"f{i}" for i in range(9)]).replace("'", '"'), [f"f{i}" for i in range(5)]),
])
def test_facts_parsing_ignores_garbage(answer, facts):
    assert parse_facts(answer) == facts


def cfg(url: str, model: str = "demo-model", **memdash):
    return parse_config(yaml.safe_dump({"memory": {"m": {"_type": "in_memory"}}, "memdash": memdash, "llms": {
        "other": {"_type": "nim", "model_name": "x"},
        "chat": {"_type": "openai", "base_url": url, "model_name": model, "api_key": "sk-test"}}}, sort_keys=False))


def test_agent_choice(server):
    assert agent_for(None).label == "Offline agent (no LLM configured)"
    assert agent_for(cfg(server)).label == "LLM: x at https://integrate.api.nvidia.com/v1"  # the first entry
    chosen = agent_for(cfg(server, playground={"llm": "chat"}))
    assert chosen.label == f"LLM: demo-model at {server}" and "sk-test" not in chosen.label
    broken = agent_for(cfg(server, playground={"llm": "missing"}))
    assert isinstance(broken, OfflineAgent) and "no llm 'missing'" in broken.label


async def test_llm_agent_streams_and_stores_the_facts_through_the_tools(server):
    editor = InMemoryEditor()
    await editor.add_items([MemoryItem(user_id="alice", memory="Alice lives in Lisbon")])
    get_tool = bind_tool(editor, GetToolConfig(memory="m", user_id="alice"))
    add_tool = bind_tool(editor, AddToolConfig(memory="m", user_id="alice"))
    agent = LlmAgent(llm_config(cfg(server), "chat"))
    memories = await recall(get_tool, "Where does Alice live", 3)
    assert [m.memory for m in memories] == ["Alice lives in Lisbon"]
    chunks = [c async for c in agent.reply("Hi, I love green tea", memories, [])]
    assert chunks == CHUNKS and agent.fallback is None
    system = Handler.seen[-1]["body"]["messages"][0]
    assert system["role"] == "system" and "Alice lives in Lisbon" in system["content"]
    facts = await agent.facts("Hi, I love green tea", "alice")
    assert facts == FACTS
    asked = Handler.seen[-1]["body"]["messages"]
    assert asked[0]["content"] == FACTS_PROMPT and asked[1]["content"] == "Alice\nHi, I love green tea"
    await remember(add_tool, facts, "Hi, I love green tea")
    stored = await editor.search("green tea peanuts", top_k=10, user_id="alice")
    assert {m.memory for m in stored} >= set(FACTS)
    tea = next(m for m in stored if m.memory == FACTS[0])
    assert tea.tags == ["preference"] and tea.conversation == [{"role": "user", "content": "Hi, I love green tea"}]


def test_a_turn_through_the_dashboard_streams_the_answer_and_writes_the_facts(make_dash, server):
    dash = make_dash()
    dash.config.write_text(yaml.safe_dump({"memory": {"main": {"_type": "in_memory"}}, "llms": {
        "chat": {"_type": "openai", "base_url": server, "model_name": "demo-model"}}}))
    turn = playground.run_turn(dash.hub, LOCAL_ADMIN, "main", "alice", "I love green tea")
    assert turn.reply == "".join(CHUNKS) and turn.fallback is None and turn.agent.startswith("LLM: demo-model")
    assert sorted(w.item.memory for w in turn.written) == sorted(FACTS)
    assert all(w.id and dash.get(w.id).item.user_id == "alice" for w in turn.written)
    again = playground.run_turn(dash.hub, LOCAL_ADMIN, "main", "alice", "green tea?")
    assert again.retrieved[0].id == turn.written[0].id and again.retrieved[0].score > 0
    replies = [s["body"]["messages"] for s in Handler.seen if s["body"]["messages"][0]["content"] != FACTS_PROMPT]
    assert replies[-1][1:] == [{"role": "user", "content": "green tea?"}]


async def test_the_llm_reply_ends_saying_what_the_new_facts_change(server):
    agent = LlmAgent(llm_config(cfg(server), "chat"))
    change = Change("Alice prefers aisle seats.", "Alice always books a window seat.")
    chunks = [c async for c in agent.reply("I prefer aisle seats", [], [], [change.fact], [change])]
    assert chunks[:len(CHUNKS)] == CHUNKS
    assert "".join(chunks[len(CHUNKS):]) == ("\n\nNoted — this changes what I had: “Alice always books a window "
                                             "seat.” I propose to update it to “Alice prefers aisle seats.”")


@pytest.mark.parametrize(("url", "model", "reason"), [
    ("http://127.0.0.1:9/v1", "demo-model", "unreachable"),
    (None, "unauthorized", "answered 401"),
])
async def test_a_failing_llm_falls_back_to_the_offline_agent_with_the_reason(server, url, model, reason):
    agent = LlmAgent(llm_config(cfg(url or server, model), "chat"))
    memories = [MemoryItem(user_id="bob", memory="Bob likes chess", similarity_score=0.5)]
    reply = "".join([c async for c in agent.reply("I prefer tea.", memories, [], ["Bob prefers tea."])])
    assert reply == offline_answer("I prefer tea.", memories, ["Bob prefers tea."]) == (
        "Noted. I'll remember: Bob prefers tea.")
    assert reason in (agent.fallback or "") and "sk-test" not in agent.fallback
    assert await agent.facts("I prefer tea.", "bob") == ["Bob prefers tea."]


async def test_a_failing_llm_before_the_reply_answers_offline_from_the_facts_on():
    agent = LlmAgent(llm_config(cfg("http://127.0.0.1:9/v1"), "chat"))
    message = "I prefer tea. Do I like chess?"
    assert await agent.facts(message, "bob") == ["Bob prefers tea."]
    memories = [MemoryItem(user_id="bob", memory="Bob likes chess", similarity_score=0.5)]
    reply = "".join([c async for c in agent.reply(message, memories, [], ["Bob prefers tea."])])
    assert reply == "Noted. I'll remember: Bob prefers tea. From what I remember: Bob likes chess."


async def test_offline_agent_answers_and_remembers_in_one_reply():
    memories = [MemoryItem(user_id="a", memory="A likes tea", similarity_score=0.25)]
    agent = OfflineAgent()
    facts = await agent.facts("I hate rain. Hello?", "a")
    reply = "".join([c async for c in agent.reply("I hate rain. Hello?", memories, [], facts)])
    assert reply == "Noted. I'll remember: A hates rain. From what I remember: A likes tea."


def test_a_turn_flags_the_stored_memory_its_fact_contradicts_and_changes_nothing(make_dash):
    dash = make_dash()
    old = dash.add(user="alice", memory="Alice always books a window seat.", tags=["travel"])
    dash.add(user="alice", memory="Alice likes jazz.", minutes=1)
    turn = playground.run_turn(dash.hub, LOCAL_ADMIN, "main", "alice", "Please remember: I now prefer aisle seats.")
    [found] = turn.contradictions
    assert (found.fact, found.old.id, found.rule) == ("Alice now prefers aisle seats.", old, CHANGED_CHOICE)
    assert "“Alice always books a window seat.”" in turn.reply and not SCORE.search(turn.reply)
    assert dash.get(old).item.memory == "Alice always books a window seat."  # kept until the operator decides
    calm = playground.run_turn(dash.hub, LOCAL_ADMIN, "main", "alice", "I love green tea.")
    assert calm.contradictions == [] and calm.reply == "Noted. I'll remember: Alice loves green tea."


@pytest.mark.parametrize(("old", "revised_to"), [
    ("Alice always books a window seat.", "Alice now prefers aisle seats."),
    ("Alice always books a window seat and avoids flights that leave before 8 am.",
     "Alice now prefers aisle seats and avoids flights that leave before 8 am."),
    ("Alice is vegetarian. Alice always books a window seat.", "Alice is vegetarian. Alice now prefers aisle seats."),
    ("Alice likes quiet hotels.", "Alice now prefers aisle seats."),  # no single part contradicts: the fact
])
def test_a_proposed_update_replaces_only_the_contradicted_part_of_a_memory(old, revised_to):
    assert revised(old, "Alice now prefers aisle seats.") == revised_to
