"""Build a toolkit config with the toolkit's own loader and ``WorkflowBuilder`` and call its functions.

Run by ``tests/memory_core/test_nat_stores.py`` with the Python of ``tests/helpers/nat_venv.py``'s venv: ``python
nat_toolkit_probe.py CONFIG`` reads a JSON list of calls from stdin, ``{"function": name, "input": {...}}``, and
prints a JSON list of what each returned (a failed call gives ``{"error": "..."}``). Needs nothing from the tests.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from nat.builder.workflow_builder import WorkflowBuilder
from nat.runtime.loader import load_config


async def run(config_file: str, calls: list[dict[str, Any]]) -> list[Any]:
    config = load_config(config_file)
    results: list[Any] = []
    async with WorkflowBuilder(general_config=config.general) as builder:
        await builder.populate_builder(config, skip_workflow=True)
        for call in calls:
            function = await builder.get_function(call["function"])
            try:
                results.append(await function.ainvoke(call["input"]))
            except Exception as exc:  # the toolkit's ToolException, reported to the test
                results.append({"error": str(exc)})
    return results


def main() -> None:
    print(json.dumps(asyncio.run(run(sys.argv[1], json.loads(sys.stdin.read())))))


if __name__ == "__main__":
    main()
