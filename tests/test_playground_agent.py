"""The playground's agent: offline extraction, facts parsing, the LLM agent against a local streaming
OpenAI-compatible server (reply streamed, the JSON facts stored through add_memory), offline fallback."""

from __future__ import annotations

import pytest
import yaml
from llm_server import CHUNKS, FACTS, Handler, serve

from dashboard.services import playground
from memory_core.access import LOCAL_ADMIN
from memory_core.agent import (
    LlmAgent,
    OfflineAgent,
    agent_for,
    extract_preferences,
    offline_answer,
    parse_facts,
    recall,
    remember,
)
from memory_core.config import parse_config
from memory_core.llm import llm_config
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.tools import AddToolConfig, GetToolConfig, bind_tool


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
    facts = await agent.facts("Hi, I love green tea")
    assert facts == FACTS
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
    assert Handler.seen[-2]["body"]["messages"][1:] == [{"role": "user", "content": "green tea?"}]


@pytest.mark.parametrize(("url", "model", "reason"), [
    ("http://127.0.0.1:9/v1", "demo-model", "unreachable"),
    (None, "unauthorized", "answered 401"),
])
async def test_a_failing_llm_falls_back_to_the_offline_agent_with_the_reason(server, url, model, reason):
    agent = LlmAgent(llm_config(cfg(url or server, model), "chat"))
    memories = [MemoryItem(user_id="bob", memory="Bob likes chess", similarity_score=0.5)]
    reply = "".join([c async for c in agent.reply("I prefer tea.", memories, [])])
    assert reply == offline_answer("I prefer tea.", memories)
    assert reason in (agent.fallback or "") and "sk-test" not in agent.fallback
    assert await agent.facts("I prefer tea.") == ["I prefer tea."]


async def test_offline_agent_cites_what_it_remembers():
    memories = [MemoryItem(user_id="a", memory="a likes tea", similarity_score=0.25)]
    reply = "".join([c async for c in OfflineAgent().reply("I hate rain. Hello?", memories)])
    assert reply == "Here is what I remember about you:\n- a likes tea (score 0.25)\nI'll remember: I hate rain."
