"""A local MemMachine server for the toolkit's ``memmachine_memory`` (``nvidia-nat-memmachine`` 1.9 over
``memmachine-client`` 0.3): the ``/api/v2`` endpoints that client calls, requests parsed and answers built with
MemMachine's own API models (``memmachine_common.api.spec``), so the fake follows the published schema.

Episodic memory only, in one process: episodes kept per (org, project) with their metadata, ``filter`` strings of
the form ``key='value' AND ...`` (what the client sends), and a word-overlap ranking. No semantic memory (no
LLM here): searches answer an empty ``semantic_memory``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from memmachine_common.api.spec import (
    AddMemoriesResponse,
    AddMemoriesSpec,
    AddMemoryResult,
    CreateProjectSpec,
    DeleteEpisodicMemorySpec,
    GetProjectSpec,
    ProjectResponse,
    SearchMemoriesSpec,
)
from pydantic import ValidationError

from tests.helpers.fake_http import Call, FakeService, Fault, Reply

_CONDITION = re.compile(r"^\s*([\w.]+)\s*=\s*'((?:[^']|'')*)'\s*$")


class FakeMemMachine(FakeService):
    name = "memmachine"
    prefix = "/api/v2"

    def __init__(self) -> None:
        super().__init__(api_key="")
        self.projects: dict[tuple[str, str], dict[str, Any]] = {}
        self.episodes: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def auth_error(self, call: Call) -> Reply | None:
        return None  # a self-hosted MemMachine needs no key

    def fault_body(self, fault: Fault) -> Any:
        return fault.body if fault.body is not None else {"detail": "injected failure"}

    def respond(self, call: Call) -> Reply:
        routes = {("GET", "/health"): self._health, ("POST", "/projects"): self._create_project,
                  ("POST", "/projects/get"): self._get_project, ("POST", "/memories"): self._add,
                  ("POST", "/memories/search"): self._search, ("POST", "/memories/episodic/delete"): self._delete}
        route = routes.get((call.method, call.path))
        if route is None:
            return 404, {"detail": "Not Found"}, {}
        try:
            return route(call.body)
        except ValidationError as exc:
            return 422, {"detail": exc.errors(include_url=False, include_context=False)}, {}

    def _health(self, body: Any) -> Reply:
        return 200, {"status": "healthy"}, {}

    def _create_project(self, body: Any) -> Reply:
        spec = CreateProjectSpec.model_validate(body)
        key = (spec.org_id, spec.project_id)
        if key in self.projects:
            return 409, {"detail": f"project {spec.project_id} exists"}, {}
        self.projects[key] = ProjectResponse(org_id=spec.org_id, project_id=spec.project_id,
                                             description=spec.description, config=spec.config).model_dump(mode="json")
        return 201, self.projects[key], {}

    def _get_project(self, body: Any) -> Reply:
        spec = GetProjectSpec.model_validate(body)
        found = self.projects.get((spec.org_id, spec.project_id))
        return (200, found, {}) if found else (404, {"detail": "project not found"}, {})

    def _add(self, body: Any) -> Reply:
        spec = AddMemoriesSpec.model_validate(body)
        stored, results = self.episodes.setdefault((spec.org_id, spec.project_id), []), []
        for message in spec.messages:
            uid = str(uuid.uuid4())
            stored.append({"uid": uid, "content": message.content, "producer_id": message.producer,
                           "producer_role": message.role or "user", "produced_for_id": message.produced_for,
                           "episode_type": "message", "metadata": dict(message.metadata),
                           "created_at": (message.timestamp or dt.datetime.now(dt.UTC)).isoformat()})
            results.append(AddMemoryResult(uid=uid))
        return 200, AddMemoriesResponse(results=results).model_dump(mode="json"), {}

    def _search(self, body: Any) -> Reply:
        spec = SearchMemoriesSpec.model_validate(body)
        wanted = _conditions(spec.filter or "")
        words = set(re.findall(r"\w+", spec.query.lower()))
        scored = []
        for episode in self.episodes.get((spec.org_id, spec.project_id), []):
            fields = {f"metadata.{k}": v for k, v in episode["metadata"].items()}
            if all(fields.get(key) == value for key, value in wanted.items()):
                overlap = len(words & set(re.findall(r"\w+", episode["content"].lower())))
                if overlap or not words:
                    scored.append({**episode, "score": overlap / max(len(words), 1)})
        scored.sort(key=lambda e: -e["score"])
        content = {"episodic_memory": {"long_term_memory": {"episodes": scored[:spec.top_k]},
                                       "short_term_memory": {"episodes": [], "episode_summary": []}},
                   "semantic_memory": []}
        return 200, {"status": 0, "content": content}, {}

    def _delete(self, body: Any) -> Reply:
        spec = DeleteEpisodicMemorySpec.model_validate(body)
        doomed = {spec.episodic_id, *(spec.episodic_ids or [])} - {None, ""}
        key = (spec.org_id, spec.project_id)
        self.episodes[key] = [e for e in self.episodes.get(key, []) if e["uid"] not in doomed]
        return 204, None, {}


def _conditions(text: str) -> dict[str, str]:
    """``key='value' AND key='value'`` as a dict (the only filter form the client writes)."""
    found = {}
    for part in filter(str.strip, re.split(r"\s+AND\s+", text)):
        match = _CONDITION.match(part)
        if match is None:
            raise ValueError(f"unsupported filter {part!r}")
        found[match.group(1)] = match.group(2).replace("''", "'")
    return found
