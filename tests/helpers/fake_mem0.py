"""A local Mem0 Platform on real sockets (127.0.0.1), with fault injection, for tests.

It follows Mem0's documented REST API (``docs/openapi.json`` and ``docs/api-reference`` of mem0ai/mem0)
for every endpoint memdash's ``mem0`` store or the official ``mem0ai`` SDK (0.1.x and 2.x) calls: paths,
``Authorization: Token <key>`` (401 with Mem0's body otherwise), request and response JSON, the filter
grammar of v2/v3 (``AND``/``OR``/``NOT``, ``*``, ``in``/``ne``/``gte``..., allow-listed keys),
DRF page-number pagination (``count``/``next``/``previous``/``results``, 404 "Invalid page.") and error
bodies.

Semantics are simple and in memory, one project:

* ``infer=false`` stores each non-system message verbatim, one memory per message. With inference on
  (the default) there is no LLM: each *user* message's content becomes one memory, as is.
* Work Mem0 queues (v1 adds in ``async_mode``, inferred v3 adds, delete by filter) is applied before the
  response, which still has Mem0's "queued" shape.
* Search ranks by word overlap: ``0.7 * |q∩m|/|q| + 0.3 * |q∩m|/|m|`` in ``[0, 1]``, higher = more
  relevant; the same number fills ``score_breakdown.semantic`` (no embeddings here).
* Timestamps are written with a fixed -07:00 offset, as Mem0's older answers were, so clients must parse
  offsets. Entities (users, agents, apps, runs) appear on first use and stay after their memories go,
  as on the platform; ``DELETE /v2/entities/...`` removes one with its memories.
* ``DELETE /v1/batch/`` skips ids that do not exist (the platform does not document that case).

Faults: :meth:`FakeMem0.fail` answers the next matching requests with a status (429 with ``Retry-After``,
5xx, 401...), :meth:`FakeMem0.slow` delays them; every request is recorded in :attr:`FakeMem0.calls`.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from tests.helpers.fake_http import Call, FakeService, Fault, Reply

TZ = dt.timezone(dt.timedelta(hours=-7))
ENTITY_FIELDS = ("user_id", "agent_id", "app_id", "run_id")
ENTITY_TYPES = {"user_id": "user", "agent_id": "agent", "app_id": "app", "run_id": "run"}
FILTER_KEYS = ("AND", "OR", "NOT", *ENTITY_FIELDS, "created_at", "updated_at", "timestamp", "expiration_date",
               "text", "categories", "metadata", "keywords_search", "memory_ids", "keywords")
INVALID_KEY = "Invalid API key. You can find your API key on https://app.mem0.ai/dashboard/api-keys."
NO_ENTITY = "One of the filters: app_id, user_id, agent_id, run_id is required!"
NOT_FOUND = {"error": "Memory not found!"}
BAD_UUID = {"error": "memory_id should be a valid UUID"}
_WORDS = re.compile(r"\w+", re.UNICODE)


class ApiError(Exception):
    """An answer other than 200, raised by a handler."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def now() -> dt.datetime:
    return dt.datetime.now(TZ)


def stamp(value: dt.datetime) -> str:
    return value.astimezone(TZ).isoformat(timespec="microseconds")


def words(text: str) -> set[str]:
    return set(_WORDS.findall(text.casefold()))


def score(query: str, text: str) -> float:
    """Word overlap in [0, 1]: mostly how much of the query the memory covers, a little how focused it is."""
    q, m = words(query), words(text)
    if not q or not m:
        return 0.0
    hit = len(q & m)
    return round(0.7 * hit / len(q) + 0.3 * hit / len(m), 6)


def memory_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(400, BAD_UUID) from None


# --- the filter grammar of v2/v3 ------------------------------------------------------------------------


def _when(value: Any) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ApiError(400, {"error": f"Invalid date: {value!r}"}) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _compare(actual: Any, cond: Any, convert: Callable[[Any], Any] = lambda v: v) -> bool:
    """A field against a bare value, ``*`` or an operator dict."""
    if cond == "*":
        return actual is not None
    if not isinstance(cond, dict):
        return actual is not None and actual == convert(cond)
    checks = {
        "eq": lambda v: actual == convert(v), "ne": lambda v: actual != convert(v),
        "in": lambda v: actual in [convert(x) for x in v],
        "gt": lambda v: actual is not None and actual > convert(v),
        "gte": lambda v: actual is not None and actual >= convert(v),
        "lt": lambda v: actual is not None and actual < convert(v),
        "lte": lambda v: actual is not None and actual <= convert(v),
        "contains": lambda v: actual is not None and str(v) in str(actual),
        "icontains": lambda v: actual is not None and str(v).casefold() in str(actual).casefold(),
    }
    unknown = set(cond) - set(checks)
    if unknown:
        raise ApiError(400, {"error": f"Unsupported operator(s): {sorted(unknown)}"})
    return all(checks[op](v) for op, v in cond.items())


def _metadata_matches(metadata: dict[str, Any], cond: Any) -> bool:
    if not isinstance(cond, dict):
        raise ApiError(400, {"error": "metadata filter must be an object"})
    for key, want in cond.items():
        if isinstance(want, dict) and set(want) - {"eq", "ne", "contains"}:
            raise ApiError(400, {"error": "FilterValidationError: metadata supports eq, ne and contains only"})
        if not _compare(metadata.get(key), want):
            return False
    return True


def _field_matches(mem: dict[str, Any], key: str, cond: Any) -> bool:
    if key in ENTITY_FIELDS:
        return _compare(mem[key], cond)
    if key in ("created_at", "updated_at"):
        return _compare(mem[key], cond, _when)
    if key == "categories":
        if isinstance(cond, dict) and "contains" in cond:
            return any(str(cond["contains"]).casefold() in c.casefold() for c in mem["categories"])
        wanted = cond.get("in", []) if isinstance(cond, dict) else [cond]
        return bool(set(wanted) & set(mem["categories"]))
    if key == "metadata":
        return _metadata_matches(mem["metadata"] or {}, cond)
    if key in ("keywords", "text", "keywords_search"):
        return _compare(mem["memory"], cond if isinstance(cond, dict) else {"icontains": cond})
    if key == "memory_ids":
        ids = cond.get("in", []) if isinstance(cond, dict) else cond
        return mem["id"] in {memory_uuid(str(i)) for i in ids}
    return _compare(None, cond)  # timestamp, expiration_date: not kept by the fake


def matches(mem: dict[str, Any], flt: Any) -> bool:
    """Mem0's filter grammar: sibling keys are ANDed; AND/OR take lists, NOT an object or a list."""
    if not isinstance(flt, dict):
        raise ApiError(400, {"error": "filters must be an object"})
    for key, cond in flt.items():
        if key not in FILTER_KEYS:
            raise ApiError(400, {"error": f"Top-level key must be a logical operator or an allowed field: "
                                          f"{list(FILTER_KEYS)}"})
        if key == "AND" and not all(matches(mem, c) for c in cond):
            return False
        if key == "OR" and not any(matches(mem, c) for c in cond):
            return False
        if key == "NOT" and any(matches(mem, c) for c in (cond if isinstance(cond, list) else [cond])):
            return False
        if key not in ("AND", "OR", "NOT") and not _field_matches(mem, key, cond):
            return False
    return True


def scoped(flt: Any) -> bool:
    """Whether a filter names at least one entity outside a NOT (Mem0 requires one)."""
    if not isinstance(flt, dict):
        return False
    return any(k in ENTITY_FIELDS or (k in ("AND", "OR") and any(scoped(c) for c in v)) for k, v in flt.items())


def checked(flt: Any) -> dict[str, Any]:
    """``flt`` once its keys are allowed (else 400 with Mem0's list) and it is scoped to an entity."""
    def keys(node: Any) -> None:
        for key, value in (node.items() if isinstance(node, dict) else ()):
            if key not in FILTER_KEYS:
                raise ApiError(400, {"error": f"Top-level key must be a logical operator or an allowed field: "
                                              f"{list(FILTER_KEYS)}"})
            for child in (value if key in ("AND", "OR", "NOT") and isinstance(value, list) else
                          [value] if key == "NOT" else []):
                keys(child)
    keys(flt)
    if not scoped(flt):
        raise ApiError(400, {"error": f"filters must include an entity ID. {NO_ENTITY}"})
    return flt


# --- the in-memory project ------------------------------------------------------------------------------


class Project:
    """Memories, their history and the entities of one Mem0 project. Callers hold :attr:`lock`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.memories: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.entities: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, text: str, scope: dict[str, Any], metadata: Any, messages: list[Any]) -> dict[str, Any]:
        when = now()
        mem = {"id": str(uuid.uuid4()), "memory": text, **{f: scope.get(f) for f in ENTITY_FIELDS},
               "metadata": metadata, "categories": [], "created_at": when, "updated_at": when,
               "expiration_date": scope.get("expiration_date")}
        self.memories[mem["id"]] = mem
        self._event(mem, "ADD", None, messages)
        for field in ENTITY_FIELDS:
            if scope.get(field):
                self._touch(ENTITY_TYPES[field], scope[field], when)
        return mem

    def update(self, mem: dict[str, Any], text: str | None, metadata: Any, changes: dict[str, Any]) -> None:
        old = mem["memory"]
        if text is not None:
            mem["memory"] = text
        if metadata is not None:
            mem["metadata"] = metadata
        if "expiration_date" in changes:
            mem["expiration_date"] = changes["expiration_date"]
        mem["updated_at"] = now()
        self._event(mem, "UPDATE", old, [])

    def delete(self, memory_id: str) -> None:
        mem = self.memories.pop(memory_id)
        self._event(mem, "DELETE", mem["memory"], [])

    def get(self, memory_id: str) -> dict[str, Any]:
        mem = self.memories.get(memory_uuid(memory_id))
        if mem is None:
            raise ApiError(404, NOT_FOUND)
        return mem

    def select(self, flt: dict[str, Any], *, show_expired: bool = False) -> list[dict[str, Any]]:
        """Matching memories, newest first (the platform's listing order); those past their expiration date only
        with ``show_expired`` (search and list hide them, get does not)."""
        found = [m for m in self.memories.values() if matches(m, flt) and (show_expired or not expired(m))]
        return sorted(found, key=lambda m: m["created_at"], reverse=True)

    def _event(self, mem: dict[str, Any], event: str, old: str | None, messages: list[Any]) -> None:
        when = stamp(now())
        self.history.setdefault(mem["id"], []).append({
            "id": str(uuid.uuid4()), "memory_id": mem["id"], "input": messages, "old_memory": old,
            "new_memory": None if event == "DELETE" else mem["memory"], "user_id": mem["user_id"],
            "agent_id": mem["agent_id"], "app_id": mem["app_id"], "session_id": mem["run_id"],
            "categories": mem["categories"], "event": event, "metadata": mem["metadata"],
            "created_at": when, "updated_at": when})

    def _touch(self, kind: str, name: str, when: dt.datetime) -> None:
        entity = self.entities.setdefault((kind, name), {
            "id": str(uuid.uuid4()), "name": name, "type": kind, "created_at": stamp(when), "owner": "tester",
            "metadata": {}})
        entity["updated_at"] = stamp(when)


def expired(mem: dict[str, Any]) -> bool:
    """Past its ``expiration_date`` (visible through that UTC day); a date that does not parse never expires."""
    try:
        return dt.date.fromisoformat(str(mem.get("expiration_date") or "")) < dt.datetime.now(dt.UTC).date()
    except ValueError:
        return False


# --- response shapes ------------------------------------------------------------------------------------


def listed(mem: dict[str, Any]) -> dict[str, Any]:
    """A memory as get, update and the v2/v3 listings return it (the run id is called session_id)."""
    return {"id": mem["id"], "memory": mem["memory"], "user_id": mem["user_id"], "agent_id": mem["agent_id"],
            "app_id": mem["app_id"], "session_id": mem["run_id"], "metadata": mem["metadata"],
            "categories": mem["categories"], "created_at": stamp(mem["created_at"]),
            "updated_at": stamp(mem["updated_at"]), "expiration_date": mem.get("expiration_date")}


def searched(mem: dict[str, Any], value: float, *, run_key: str = "run_id") -> dict[str, Any]:
    row = {k: v for k, v in listed(mem).items() if k != "session_id"}
    return {**row, run_key: mem["run_id"], "score": value,
            "score_breakdown": {"semantic": value, "bm25": value, "entity": 0.0}}


def page_of(rows: list[Any], page: int, size: int, url: str) -> dict[str, Any]:
    """DRF page-number pagination: 404 "Invalid page." past the end (except an empty first page)."""
    if page < 1 or size < 1 or (page > 1 and (page - 1) * size >= len(rows)):
        raise ApiError(404, {"detail": "Invalid page."})
    more = page * size < len(rows)
    return {"count": len(rows), "next": f"{url}?page={page + 1}&page_size={size}" if more else None,
            "previous": f"{url}?page={page - 1}&page_size={size}" if page > 1 else None,
            "results": rows[(page - 1) * size:page * size]}


def paging(query: dict[str, str], body: dict[str, Any]) -> tuple[int, int]:
    """``page`` and ``page_size`` from the query string, else the body (the query wins, as documented)."""
    return int(query.get("page", body.get("page", 1))), int(query.get("page_size", body.get("page_size", 100)))


# --- endpoints ------------------------------------------------------------------------------------------


class Api:
    """The endpoints, as functions of ``(match, query, body)`` returning the JSON to send."""

    def __init__(self, fake: FakeMem0) -> None:
        self.fake, self.project = fake, fake.project
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("GET", re.compile(r"/v1/ping/"), self.ping),
            ("POST", re.compile(r"/v1/memories/"), self.add_v1),
            ("POST", re.compile(r"/v3/memories/add/"), self.add_v3),
            ("GET", re.compile(r"/v1/memories/"), self.list_v1),
            ("POST", re.compile(r"/v2/memories/"), self.list_v2),
            ("POST", re.compile(r"/v3/memories/"), self.list_v3),
            ("POST", re.compile(r"/v1/memories/search/"), self.search_v1),
            ("POST", re.compile(r"/v2/memories/search/"), self.search_v2),
            ("POST", re.compile(r"/v3/memories/search/"), self.search_v3),
            ("DELETE", re.compile(r"/v1/memories/"), self.delete_all),
            ("GET", re.compile(r"/v1/memories/(?P<id>[^/]+)/history/"), self.history),
            ("GET", re.compile(r"/v1/memories/(?P<id>[^/]+)/"), self.get),
            ("PUT", re.compile(r"/v1/memories/(?P<id>[^/]+)/"), self.update),
            ("DELETE", re.compile(r"/v1/memories/(?P<id>[^/]+)/"), self.delete),
            ("PUT", re.compile(r"/v1/batch/"), self.batch_update),
            ("DELETE", re.compile(r"/v1/batch/"), self.batch_delete),
            ("GET", re.compile(r"/v1/entities/"), self.entities),
            ("DELETE", re.compile(r"/v2/entities/(?P<type>[^/]+)/(?P<name>[^/]+)/"), self.delete_entity),
        ]

    def dispatch(self, method: str, path: str, query: dict[str, str], body: Any) -> Any:
        allowed = []
        for verb, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match and verb == method:
                with self.project.lock:
                    return handler(match, query, body)
            if match:
                allowed.append(verb)
        if allowed:
            raise ApiError(405, {"detail": f'Method "{method}" not allowed.'})
        raise ApiError(404, {"detail": "Not found."})

    def ping(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        return {"status": "ok", "org_id": self.fake.org_id, "project_id": self.fake.project_id,
                "user_email": "tester@example.com"}

    # adding
    def _store(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) for m in body["messages"]):
            raise ApiError(400, {"error": "400 Bad Request", "details": {"message": "Invalid input data. Please "
                                 "refer to the memory creation documentation at https://docs.mem0.ai/platform/"
                                 "quickstart#4-1-create-memories for correct formatting and required fields."}})
        if not any(body.get(f) for f in ENTITY_FIELDS):
            raise ApiError(400, {"error": NO_ENTITY})
        infer = body.get("infer", True)
        wanted = [m for m in body["messages"] if m.get("role") != "system" and (not infer or m.get("role") == "user")]
        return [self.project.add(m["content"], body, body.get("metadata"), body["messages"]) for m in wanted]

    def add_v1(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        added = self._store(body)
        if body.get("async_mode", True):
            rows = [{"message": "Memory processing has been queued for background execution", "status": "PENDING",
                     "event_id": str(uuid.uuid4())}]
        else:
            rows = [{"id": m["id"], "data": {"memory": m["memory"]}, "event": "ADD"} for m in added]
        new_shape = body.get("output_format") == "v1.1" and body.get("version") == "v2"
        return {"results": rows, "relations": []} if new_shape else rows

    def add_v3(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        added = self._store(body)
        event = {"event_id": str(uuid.uuid4())}
        if body.get("infer", True):
            return {**event, "status": "PENDING"}
        return {**event, "status": "SUCCEEDED", "message": "Memories added successfully",
                "results": [{"id": m["id"], "data": {"memory": m["memory"]}, "event": "ADD"} for m in added]}

    # listing
    def list_v1(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        scope = {f: query[f] for f in ENTITY_FIELDS if query.get(f)}
        if not scope:
            raise ApiError(400, [NO_ENTITY])
        rows = [listed(m) for m in self.project.select(scope)]
        if "page" in query and "page_size" in query:
            return page_of(rows, int(query["page"]), int(query["page_size"]), self.fake.origin + "/v1/memories/")
        return rows[:min(int(query.get("limit", 100)), 200)]

    def list_v2(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        body = body or {}
        rows = [listed(m) for m in self.project.select(checked(body.get("filters")))]
        page, size = paging(query, body)
        return rows[(page - 1) * size:page * size]

    def list_v3(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        body = body or {}
        if set(body) & set(ENTITY_FIELDS):
            raise ApiError(400, {"error": "Entity IDs must be passed inside filters, not at the top level."})
        flt = checked(body.get("filters"))
        page, size = paging(query, body)
        if not 1 <= size <= 200:
            raise ApiError(400, {"error": "page_size must be between 1 and 200"})
        shown = self.project.select(flt, show_expired=body.get("show_expired") is True)
        return page_of([listed(m) for m in shown], page, size, self.fake.origin + "/v3/memories/")

    # searching
    def _ranked(self, body: Any, flt: dict[str, Any], threshold: float, top_k: int) -> list[tuple[dict, float]]:
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ApiError(400, {"query": ["This field may not be blank."]})
        if not 1 <= top_k <= 1000:
            raise ApiError(400, {"top_k": ["Ensure this value is between 1 and 1000."]})
        hits = [(m, score(query, m["memory"])) for m in self.project.select(flt)]
        hits = [(m, s) for m, s in hits if s > 0 and s >= threshold]
        return sorted(hits, key=lambda pair: pair[1], reverse=True)[:top_k]

    def search_v1(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        body = body or {}
        flt = {f: body[f] for f in ENTITY_FIELDS if body.get(f)}
        if not flt:
            raise ApiError(400, {"message": "At least one of the filters: agent_id, user_id, app_id, run_id is "
                                            "required!"})
        if body.get("metadata"):
            flt["metadata"] = body["metadata"]
        rows = [searched(m, s) for m, s in self._ranked(body, flt, 0.0, int(body.get("top_k", 10)))]
        return {"results": rows, "relations": []} if body.get("output_format") == "v1.1" else rows

    def search_v2(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        body = body or {}
        flt = checked(body.get("filters"))
        ranked = self._ranked(body, flt, float(body.get("threshold", 0.3)), int(body.get("top_k", 10)))
        return [searched(m, s, run_key="session_id") for m, s in ranked]

    def search_v3(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        body = body or {}
        if set(body) & set(ENTITY_FIELDS):
            raise ApiError(400, {"error": "Entity IDs must be passed inside filters, not at the top level."})
        checked(body.get("filters"))
        threshold = float(body.get("threshold", 0.1))
        if not 0.0 <= threshold <= 1.0:
            raise ApiError(400, {"threshold": ["Ensure this value is between 0 and 1."]})
        flt = {"AND": [body["filters"], *([{"metadata": body["metadata"]}] if body.get("metadata") else [])]}
        return {"results": [searched(m, s) for m, s in self._ranked(body, flt, threshold, int(body.get("top_k", 10)))]}

    # one memory
    def get(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        return listed(self.project.get(match["id"]))

    def update(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        mem = self.project.get(match["id"])
        body = body or {}
        if not ({"text", "metadata", "expiration_date", "timestamp"} & set(body)):
            raise ApiError(400, {"error": "At least one of text, metadata, timestamp or expiration_date is required"})
        if "text" in body and not isinstance(body["text"], str):
            raise ApiError(400, {"text": ["Not a valid string."]})
        self.project.update(mem, body.get("text"), body.get("metadata"), body)
        return listed(mem)

    def delete(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        self.project.delete(self.project.get(match["id"])["id"])
        return {"message": "Memory deleted successfully!"}

    def history(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        events = self.project.history.get(memory_uuid(match["id"]))
        if events is None:
            raise ApiError(404, NOT_FOUND)
        return events

    # many memories
    def delete_all(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        scope = {f: query[f] for f in ENTITY_FIELDS if query.get(f)}
        if not scope:
            raise ApiError(400, {"error": "At least one filter is required: user_id, agent_id, app_id or run_id. "
                                          "Pass '*' to delete memories for all entities of a type."})
        for mem in self.project.select(scope):
            self.project.delete(mem["id"])
        return {"message": "Delete in progress. This may take some time.", "event_id": str(uuid.uuid4())}

    def _batch(self, body: Any, verb: str) -> list[dict[str, Any]]:
        rows = (body or {}).get("memories")
        if not isinstance(rows, list) or not all(isinstance(r, dict) and "memory_id" in r for r in rows):
            raise ApiError(400, {"error": "memories must be a list of objects with memory_id"})
        if len(rows) > 1000:
            raise ApiError(400, {"error": f"Maximum of 1000 memories can be {verb} in a single request"})
        return [{**r, "memory_id": memory_uuid(str(r["memory_id"]))} for r in rows]

    def batch_update(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        rows = [r for r in self._batch(body, "updated") if r["memory_id"] in self.project.memories]
        for row in rows:
            self.project.update(self.project.memories[row["memory_id"]], row.get("text"), row.get("metadata"), row)
        return {"message": f"Successfully updated {len(rows)} memories"}

    def batch_delete(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        ids = {r["memory_id"] for r in self._batch(body, "deleted")} & set(self.project.memories)
        for memory_id in ids:
            self.project.delete(memory_id)
        return {"message": f"Successfully deleted {len(ids)} memories"}

    def entities(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        rows = sorted(self.project.entities.values(), key=lambda e: e["created_at"])
        size = int(query.get("page_size", self.fake.entities_page_size))
        totals = {f"total_{kind}s": sum(e["type"] == kind for e in rows) for kind in ENTITY_TYPES.values()}
        return {**page_of(rows, int(query.get("page", 1)), size, self.fake.origin + "/v1/entities/"), **totals}

    def delete_entity(self, match: re.Match[str], query: dict[str, str], body: Any) -> Any:
        kind, name = match["type"], match["name"]
        if self.project.entities.pop((kind, name), None) is None:
            raise ApiError(404, {"error": "Entity not found"})
        field = {v: k for k, v in ENTITY_TYPES.items()}[kind]
        for mem in self.project.select({field: name}):
            self.project.delete(mem["id"])
        return {"message": "Entity deleted successfully!"}


# --- the server -----------------------------------------------------------------------------------------


class FakeMem0(FakeService):
    """``with FakeMem0() as mem0: ...`` serves on ``mem0.url`` until the block ends."""

    name = "fake-mem0"

    def __init__(self, api_key: str = "m0-test-key", *, org_id: str = "org-fake", project_id: str = "proj-fake",
                 entities_page_size: int = 100) -> None:
        super().__init__(api_key)
        self.org_id, self.project_id = org_id, project_id
        self.entities_page_size = entities_page_size
        self.links_to: str | None = None  # e.g. a proxy's public URL, as a server behind one writes its links
        self.project = Project()
        self._api = Api(self)

    @property
    def origin(self) -> str:
        """What ``next``/``previous`` links start with: :attr:`url` unless :attr:`links_to` names a public one."""
        return self.links_to or self.url

    def auth_error(self, call: Call) -> Reply | None:
        auth = call.headers.get("authorization")
        if auth is None:
            return 401, {"detail": "Authentication credentials were not provided."}, {}
        if auth != f"Token {self.api_key}":
            return 401, {"detail": INVALID_KEY}, {}
        return None

    def respond(self, call: Call) -> Reply:
        try:
            return 200, self._api.dispatch(call.method, call.path, call.query, call.body), {}
        except ApiError as exc:
            return exc.status, exc.body, {}

    def fault_body(self, fault: Fault) -> Any:
        if fault.body is not None:
            return fault.body
        return {
            401: {"detail": INVALID_KEY},
            429: {"detail": f"Request was throttled. Expected available in {fault.retry_after or 1} seconds."},
            500: {"error": "Internal server error"},
        }.get(fault.status, f"<html><body><h1>{fault.status} {HTTPStatus(fault.status).phrase}</h1></body></html>")
