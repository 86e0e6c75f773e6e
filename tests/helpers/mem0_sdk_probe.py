"""Drive the official ``mem0ai`` SDK against ``MEM0_HOST`` and print what it returned, as JSON.

Run by ``tests/memory_core/test_mem0_sdk_compat.py`` with the Python of a separate venv holding one ``mem0ai`` version
(0.1.x speaks v1/v2 endpoints, 2.x the v3 ones); it needs nothing from memdash. The caller sets
``MEM0_TELEMETRY=False`` and ``MEM0_DIR`` (mem0 writes ``config.json`` there on import).
"""

from __future__ import annotations

import asyncio
import json
import os
from importlib.metadata import version
from typing import Any

from mem0 import AsyncMemoryClient, MemoryClient

HOST, KEY = os.environ["MEM0_HOST"], os.environ["MEM0_API_KEY"]
LEGACY = version("mem0ai").startswith("0.")
ADDING = {"output_format": "v1.1"} if LEGACY else {}  # 0.1.x warns without it
CHAT = [{"role": "user", "content": "I love hiking in the Alps"}, {"role": "assistant", "content": "Nice!"}]


def scope(user_id: str) -> dict[str, Any]:
    """How each SDK generation names the user of a listing."""
    return {"user_id": user_id} if LEGACY else {"filters": {"user_id": user_id}}


def searching(user_id: str) -> dict[str, Any]:
    """How each SDK generation asks for ``{"results": [...]}`` search answers for a user."""
    return {"user_id": user_id, "output_format": "v1.1"} if LEGACY else scope(user_id)


def sync_calls(out: dict[str, Any]) -> None:
    client = MemoryClient(api_key=KEY, host=HOST)
    out["memdash_search"] = client.search("memdash wrote this", **searching("sdk-alice"))
    out["add"] = client.add(CHAT, user_id="sdk-alice", metadata={"src": "sdk"}, **ADDING)
    out["search"] = client.search("hiking Alps", **searching("sdk-alice"))
    out["get_all"] = client.get_all(**scope("sdk-alice"))
    out["get_all_page"] = client.get_all(**scope("sdk-alice"), page=1, page_size=1)
    if LEGACY:
        out["get_all_v2"] = client.get_all(version="v2", filters={"user_id": "sdk-alice"})
        out["search_v2"] = client.search("hiking", version="v2", filters={"user_id": "sdk-alice"})
    hiking = next(m for m in out["search"]["results"] if "hiking" in m["memory"])
    out["get"] = client.get(hiking["id"])
    out["update"] = client.update(hiking["id"], text="I love hiking in the Dolomites")
    out["history"] = client.history(hiking["id"])
    out["users"] = client.users()
    out["batch_delete"] = client.batch_delete([{"memory_id": hiking["id"]}])
    client.add([{"role": "user", "content": "Temporary note"}], user_id="sdk-alice", **ADDING)
    temporary = client.search("temporary note", **searching("sdk-alice"))["results"][0]
    out["delete"] = client.delete(temporary["id"])
    out["delete_all"] = client.delete_all(user_id="sdk-alice")
    out["after_delete_all"] = client.get_all(**scope("sdk-alice"))
    client.add([{"role": "user", "content": "The SDK wrote this for bob"}], user_id="sdk-bob", metadata={"n": 1},
               **ADDING)
    try:
        MemoryClient(api_key="m0-not-the-key", host=HOST)
    except ValueError as exc:
        out["wrong_key"] = str(exc)


async def async_calls(out: dict[str, Any]) -> None:
    client = AsyncMemoryClient(api_key=KEY, host=HOST)
    if LEGACY:  # exactly what the toolkit's mem0 editor sends
        out["async_add"] = await client.add(CHAT, user_id="sdk-carol", run_id="run-1", tags=["t"],
                                            metadata={"k": "v"}, output_format="v1.1")
        out["async_search"] = await client.search("hiking", user_id="sdk-carol", top_k=5, output_format="v1.1")
    else:
        out["async_add"] = await client.add(CHAT, user_id="sdk-carol", run_id="run-1", metadata={"k": "v"})
        out["async_search"] = await client.search("hiking", filters={"user_id": "sdk-carol"}, top_k=5)
    out["async_get_all"] = await client.get_all(**scope("sdk-carol"))
    out["async_delete"] = await client.delete(out["async_search"]["results"][0]["id"])
    out["async_delete_all"] = await client.delete_all(user_id="sdk-carol")
    out["async_after"] = await client.get_all(**scope("sdk-carol"))


def main() -> None:
    out: dict[str, Any] = {"version": version("mem0ai")}
    sync_calls(out)
    asyncio.run(async_calls(out))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
