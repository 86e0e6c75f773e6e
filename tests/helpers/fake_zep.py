"""A local Zep Cloud (the v3 API, served under ``/api/v2``) on real sockets (127.0.0.1), for tests.

It follows Zep's documented API for every endpoint memdash's ``zep`` store or the official ``zep-cloud`` SDK (3.x)
calls: paths, ``Authorization: Api-Key <key>`` (401 ``{"message": "unauthorized"}`` otherwise), request and response
JSON (the SDK parses every answer into its models), numbered pages (users, threads, messages), cursor pages with the
``Zep-Next-Cursor`` header (edges, episodes), documented limits (30 messages per call, 10,000 characters per
``graph.add``, search ``limit`` at most 50, 10 metadata keys) and error bodies ``{"message": ...}``: 404 for an
unknown user, thread, edge or episode, 409 for an existing thread, 400 for an existing user or a refused body.

Semantics are simple, deterministic and synchronous (Zep ingests asynchronously):

* Every message becomes an episode; each *user* message (unless its role is in ``ignore_roles``) becomes one fact
  whose text is the message content. A ``graph.add`` becomes an episode and one fact (its data).
* A fact is an edge from the user's node to a node of its own; search ranks a user's facts (or nodes, or
  episodes) by word overlap ``0.7 * |q∩f|/|q| + 0.3 * |q∩f|/|f|`` and returns only overlapping ones. With the
  ``cross_encoder`` reranker that number in [0, 1] is the score; other rerankers give RRF scores ``1/(60+rank)``.
* Deletes cascade as documented: a user takes their threads and graph, a thread its messages, episodes and their
  facts, an episode its facts. Timestamps are Go's RFC 3339 with nanoseconds and strictly increase.

Faults: :meth:`FakeZep.fail` answers the next matching requests with a status (429 with ``Retry-After``, 5xx, 401),
:meth:`FakeZep.slow` delays them, :meth:`FakeZep.drop` closes their connection unanswered; every request is
recorded in :attr:`FakeZep.calls`.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import unquote

from tests.helpers.fake_http import Call, FakeService, Fault, Reply

API = "/api/v2"
ROLES = frozenset({"norole", "system", "assistant", "user", "function", "tool"})
DATA_TYPES = frozenset({"text", "json", "message"})
RERANKERS = frozenset({"rrf", "mmr", "node_distance", "episode_mentions", "cross_encoder"})
SCOPES = frozenset({"edges", "nodes", "episodes", "thread_summaries", "observations", "auto"})
MAX_DATA, MAX_MESSAGES, MAX_SEARCH, MAX_METADATA_KEYS = 10_000, 30, 50, 10
NOT_FOUND = "not found"
_WORDS = re.compile(r"\w+", re.UNICODE)


class ApiError(Exception):
    """An answer other than 2xx, raised by a handler: ``{"message": ...}``, or plain text from the router."""

    def __init__(self, status: int, message: str, *, plain: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.plain = status, message, plain

    @property
    def body(self) -> Any:
        return self.message if self.plain else {"message": self.message}


def bad(message: str) -> ApiError:
    return ApiError(400, f"bad request: {message}")


def stamp(value: dt.datetime) -> str:
    """Go's RFC 3339 with nanoseconds, as Zep writes it."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def words(text: str) -> set[str]:
    return set(_WORDS.findall(text.casefold()))


def overlap(query: str, text: str) -> float:
    q, t = words(query), words(text)
    if not q or not t:
        return 0.0
    hit = len(q & t)
    return round(0.7 * hit / len(q) + 0.3 * hit / len(t), 6)


def check_metadata(metadata: Any) -> dict[str, Any] | None:
    """Zep's rule: at most 10 keys; strings, numbers, booleans or arrays of scalars."""
    if metadata is None:
        return None
    scalar = (str, int, float, bool)
    if not isinstance(metadata, dict) or len(metadata) > MAX_METADATA_KEYS or not all(
            isinstance(v, scalar) or (isinstance(v, list) and all(isinstance(x, scalar) for x in v))
            for v in metadata.values()):
        raise bad("metadata must have at most 10 keys whose values are strings, numbers, booleans or arrays of "
                  "scalars")
    return metadata


def encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def decode(cursor: str) -> list[Any]:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise bad("invalid cursor") from None


# --- the project's state --------------------------------------------------------------------------------------


class Project:
    """Users, threads, messages and graphs of one Zep project. Callers hold :attr:`lock`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.users: dict[str, dict[str, Any]] = {}
        self.threads: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.episodes: dict[str, dict[str, Any]] = {}
        self.edges: dict[str, dict[str, Any]] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._last = dt.datetime.now(dt.UTC)

    def now(self) -> str:
        """Strictly increasing timestamps, so orderings by time are deterministic."""
        self._last = max(dt.datetime.now(dt.UTC), self._last + dt.timedelta(microseconds=1))
        return stamp(self._last)

    def user(self, user_id: str) -> dict[str, Any]:
        if user_id not in self.users:
            raise ApiError(404, NOT_FOUND)
        return self.users[user_id]

    def thread(self, thread_id: str) -> dict[str, Any]:
        if thread_id not in self.threads:
            raise ApiError(404, NOT_FOUND)
        return self.threads[thread_id]

    def add_user(self, body: dict[str, Any]) -> dict[str, Any]:
        user_id = body.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise bad("user_id is required")
        if user_id in self.users:
            raise bad(f"user already exists with user_id: {user_id}")
        when = self.now()
        node = self._node(user_id, user_id, f"{user_id} is a user", ["Entity", "User"], when)
        self.users[user_id] = {
            "id": next(self._ids), "uuid": str(uuid.uuid4()), "user_id": user_id, "email": body.get("email"),
            "first_name": body.get("first_name"), "last_name": body.get("last_name"),
            "metadata": check_metadata(body.get("metadata")), "created_at": when, "updated_at": when,
            "project_uuid": PROJECT_UUID, "node_uuid": node["uuid"]}
        return self.users[user_id]

    def delete_user(self, user_id: str) -> None:
        self.user(user_id)
        for thread_id in [t for t, row in self.threads.items() if row["user_id"] == user_id]:
            self.delete_thread(thread_id)
        for table in (self.episodes, self.edges, self.nodes):
            for key in [k for k, row in table.items() if row["_user"] == user_id]:
                del table[key]
        del self.users[user_id]

    def add_thread(self, thread_id: Any, user_id: Any) -> dict[str, Any]:
        if not isinstance(thread_id, str) or not thread_id or not isinstance(user_id, str) or not user_id:
            raise bad("thread_id and user_id are required")
        user = self.user(user_id)
        if thread_id in self.threads:
            raise ApiError(409, f"thread already exists with thread_id: {thread_id}")
        self.threads[thread_id] = {"uuid": str(uuid.uuid4()), "thread_id": thread_id, "user_id": user_id,
                                   "user_uuid": user["uuid"], "created_at": self.now(), "project_uuid": PROJECT_UUID}
        self.messages[thread_id] = []
        return self.threads[thread_id]

    def delete_thread(self, thread_id: str) -> None:
        self.thread(thread_id)
        for episode_id in [k for k, row in self.episodes.items() if row["thread_id"] == thread_id]:
            self.delete_episode(episode_id)
        del self.threads[thread_id], self.messages[thread_id]

    def delete_episode(self, episode_id: str) -> None:
        for edge_id in [k for k, row in self.edges.items() if episode_id in row["episodes"]]:
            self.nodes.pop(self.edges.pop(edge_id)["target_node_uuid"], None)
        del self.episodes[episode_id]

    def add_messages(self, thread_id: str, messages: list[dict[str, Any]], ignore: set[str]) -> list[str]:
        thread = self.thread(thread_id)
        ids = []
        for message in messages:
            when = message.get("created_at") or self.now()
            row = {"uuid": str(uuid.uuid4()), "role": message["role"], "name": message.get("name"),
                   "content": message["content"], "created_at": when, "metadata": message.get("metadata"),
                   "processed": True}
            self.messages[thread_id].append(row)
            episode = self._episode(thread["user_id"], row["content"], "message", thread_id, row)
            if row["role"] == "user" and "user" not in ignore:
                self._fact(thread["user_id"], row["content"], episode, valid_at=when)
            ids.append(row["uuid"])
        return ids

    def add_data(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        episode = self._episode(user_id, body["data"], body["type"], None, {"metadata": body.get("metadata")},
                                source_description=body.get("source_description"))
        self._fact(user_id, body["data"], episode, valid_at=body.get("created_at") or episode["created_at"])
        return episode

    def _episode(self, user_id: str, content: str, source: str, thread_id: str | None, message: dict[str, Any],
                 source_description: str | None = None) -> dict[str, Any]:
        row = {"uuid": str(uuid.uuid4()), "content": content, "created_at": self.now(), "source": source,
               "source_description": source_description, "role": message.get("name"),
               "role_type": message.get("role"), "thread_id": thread_id, "metadata": message.get("metadata"),
               "processed": True, "_user": user_id}
        self.episodes[row["uuid"]] = row
        return row

    def _fact(self, user_id: str, text: str, episode: dict[str, Any], valid_at: str) -> None:
        when = self.now()
        target = self._node(user_id, " ".join(text.split()[:3]) or "fact", text, ["Entity"], when)
        edge = {"uuid": str(uuid.uuid4()), "fact": text, "name": "STATES", "created_at": when, "valid_at": valid_at,
                "invalid_at": None, "expired_at": None, "episodes": [episode["uuid"]], "attributes": {},
                "source_node_uuid": self.users[user_id]["node_uuid"], "target_node_uuid": target["uuid"],
                "_user": user_id}
        self.edges[edge["uuid"]] = edge

    def _node(self, user_id: str, name: str, summary: str, labels: list[str], when: str) -> dict[str, Any]:
        node = {"uuid": str(uuid.uuid4()), "name": name, "summary": summary, "labels": labels, "created_at": when,
                "attributes": {}, "_user": user_id}
        self.nodes[node["uuid"]] = node
        return node


PROJECT_UUID = "00000000-0000-4000-8000-00000000fa7e"


def public(row: dict[str, Any]) -> dict[str, Any]:
    """A row without the fake's private fields."""
    return {k: v for k, v in row.items() if not k.startswith("_") and k != "node_uuid"}


def numbered(rows: list[Any], number: int, size: int) -> list[Any]:
    if number < 1 or size < 1:
        raise bad("pageNumber and pageSize must be positive")
    return rows[(number - 1) * size:number * size]


def cursor_page(rows: list[dict[str, Any]], body: dict[str, Any], limit: int, default_order: str = "uuid"
                ) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a cursor listing: ``order_by``/``direction``, the opaque ``cursor`` (or ``uuid_cursor``), and
    the cursor of the next page (for the ``Zep-Next-Cursor`` header)."""
    order, direction = body.get("order_by") or default_order, body.get("direction") or "desc"
    if order not in ("uuid", "created_at", "valid_at") or direction not in ("asc", "desc"):
        raise bad("order_by must be uuid, created_at or valid_at and direction asc or desc")
    if body.get("cursor"):
        order, direction, *after = decode(body["cursor"])
    else:
        after = None
    def key(row: dict[str, Any]) -> list[str]:
        return [str(row.get(order) or "1970-01-01T00:00:00Z") if order != "uuid" else "", row["uuid"]]
    rows = sorted(rows, key=key, reverse=direction == "desc")
    if after is not None:
        rows = [r for r in rows if (key(r) < after if direction == "desc" else key(r) > after)]
    elif body.get("uuid_cursor"):
        ids = [r["uuid"] for r in rows]
        rows = rows[ids.index(body["uuid_cursor"]) + 1:] if body["uuid_cursor"] in ids else []
    page = rows[:limit]
    more = len(rows) > limit
    return page, encode([order, direction, *key(page[-1])]) if more else None


def positive(value: Any, name: str, default: int) -> int:
    try:
        number = default if value is None else int(value)
    except (TypeError, ValueError):
        raise bad(f"{name} must be an integer") from None
    if number < 1:
        raise bad(f"{name} must be positive")
    return number


# --- endpoints ------------------------------------------------------------------------------------------------




class Api:
    """The endpoints, as functions of ``(match, query, body)`` returning ``(status, json, headers)``."""

    def __init__(self, fake: FakeZep) -> None:
        self.fake, self.p = fake, fake.project
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = [
            (method, re.compile(pattern), handler) for method, pattern, handler in (
                ("GET", r"/users-ordered", self.list_users),
                ("POST", r"/users", self.add_user),
                ("GET", r"/users/(?P<user>[^/]+)", self.get_user),
                ("DELETE", r"/users/(?P<user>[^/]+)", self.delete_user),
                ("GET", r"/users/(?P<user>[^/]+)/threads", self.user_threads),
                ("GET", r"/threads", self.list_threads),
                ("POST", r"/threads", self.add_thread),
                ("DELETE", r"/threads/(?P<thread>[^/]+)", self.delete_thread),
                ("GET", r"/threads/(?P<thread>[^/]+)/messages", self.get_messages),
                ("POST", r"/threads/(?P<thread>[^/]+)/messages", self.add_messages),
                ("GET", r"/threads/(?P<thread>[^/]+)/context", self.thread_context),
                ("POST", r"/graph", self.add_data),
                ("POST", r"/graph/search", self.search),
                ("POST", r"/graph/edge/user/(?P<user>[^/]+)", self.user_edges),
                ("GET", r"/graph/edge/(?P<uuid>[^/]+)", self.get_edge),
                ("DELETE", r"/graph/edge/(?P<uuid>[^/]+)", self.delete_edge),
                ("GET", r"/graph/episodes/user/(?P<user>[^/]+)", self.last_episodes),
                ("POST", r"/graph/episodes/user/(?P<user>[^/]+)", self.list_episodes),
                ("GET", r"/graph/episodes/(?P<uuid>[^/]+)", self.get_episode),
                ("DELETE", r"/graph/episodes/(?P<uuid>[^/]+)", self.delete_episode),
            )]

    def dispatch(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        allowed = False
        for verb, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match:
                allowed = True
                if verb == method:
                    with self.p.lock:
                        return handler({k: unquote(v) for k, v in match.groupdict().items()}, query, body)
        raise ApiError(405, "method not allowed") if allowed else ApiError(404, "404 page not found", plain=True)

    # users
    def list_users(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        term = query.get("search", "").casefold()
        users = [u for u in self.p.users.values() if not term or any(
            term in str(u.get(f) or "").casefold() for f in ("user_id", "email", "first_name", "last_name"))]
        order = query.get("order_by") or "created_at"
        if order not in ("created_at", "user_id", "email"):
            raise bad("order_by must be created_at, user_id or email")
        users.sort(key=lambda u: (str(u.get(order) or ""), u["id"]), reverse=query.get("asc") != "true")
        size = min(positive(query.get("pageSize"), "pageSize", 10), self.fake.max_page_size)
        page = numbered(users, positive(query.get("pageNumber"), "pageNumber", 1), size)
        return 200, {"users": [public(u) for u in page], "total_count": len(users), "row_count": len(page)}, {}

    def add_user(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        return 201, public(self.p.add_user(self._object(body))), {}

    def get_user(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        return 200, public(self.p.user(match["user"])), {}

    def delete_user(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        self.p.delete_user(match["user"])
        return 200, {"message": "OK"}, {}

    def user_threads(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        threads = [public(t) for t in self.p.threads.values() if t["user_id"] == match["user"]]
        return 200, threads, {}

    # threads and messages
    def list_threads(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        order = query.get("order_by") or "created_at"
        threads = sorted(self.p.threads.values(), key=lambda t: str(t.get(order) or ""),
                         reverse=query.get("asc") != "true")
        page = numbered(threads, positive(query.get("page_number"), "page_number", 1),
                        positive(query.get("page_size"), "page_size", 10))
        return 200, {"threads": [public(t) for t in page], "total_count": len(threads),
                     "response_count": len(page)}, {}

    def add_thread(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        body = self._object(body)
        return 201, public(self.p.add_thread(body.get("thread_id"), body.get("user_id"))), {}

    def delete_thread(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        self.p.delete_thread(match["thread"])
        return 200, {"message": "OK"}, {}

    def get_messages(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        thread = self.p.thread(match["thread"])
        rows = self.p.messages[thread["thread_id"]]
        if query.get("lastn"):
            page = rows[-positive(query["lastn"], "lastn", 1):]
        elif query.get("limit"):
            page = numbered(rows, positive(query.get("cursor"), "cursor", 1), positive(query["limit"], "limit", 1))
        else:
            page = rows
        return 200, {"messages": page, "total_count": len(rows), "row_count": len(page),
                     "user_id": thread["user_id"], "user_uuid": thread["user_uuid"],
                     "thread_created_at": thread["created_at"]}, {}

    def add_messages(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        body = self._object(body)
        thread = self.p.thread(match["thread"])
        messages, ignore = body.get("messages"), body.get("ignore_roles") or []
        if not isinstance(messages, list) or not messages or len(messages) > MAX_MESSAGES:
            raise bad(f"messages must be a list of 1 to {MAX_MESSAGES} messages")
        if not isinstance(ignore, list) or not set(ignore) <= ROLES:
            raise bad(f"ignore_roles must be a list of: {', '.join(sorted(ROLES))}")
        for message in messages:
            self._check_message(message)
        ids = self.p.add_messages(thread["thread_id"], messages, set(ignore))
        context = self._context(thread["user_id"]) if body.get("return_context") else None
        return 200, {"message_uuids": ids, "context": context, "task_id": None}, {}

    def thread_context(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        return 200, {"context": self._context(self.p.thread(match["thread"])["user_id"])}, {}

    def _check_message(self, message: Any) -> None:
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise bad(f"each message needs a role, one of: {', '.join(sorted(ROLES))}")
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            raise bad("message content is required")
        if len(content) > self.fake.max_message_chars:
            raise bad(f"message content exceeds {self.fake.max_message_chars} characters")
        check_metadata(message.get("metadata"))

    def _context(self, user_id: str) -> str:
        facts = [e["fact"] for e in self.p.edges.values() if e["_user"] == user_id]
        return "FACTS and ENTITIES represent relevant context to the current conversation.\n" + "\n".join(
            f"  - {fact}" for fact in facts[-10:])

    # graph
    def add_data(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        body = self._object(body)
        if body.get("type") not in DATA_TYPES:
            raise bad(f"type must be one of: {', '.join(sorted(DATA_TYPES))}")
        data = body.get("data")
        if not isinstance(data, str) or not data.strip() or len(data) > MAX_DATA:
            raise bad(f"data is required and at most {MAX_DATA} characters")
        check_metadata(body.get("metadata"))
        user_id = self._graph_owner(body)
        return 202, public(self.p.add_data(user_id, body)), {}

    def search(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        body = self._object(body)
        text = body.get("query")
        if not isinstance(text, str) or not text.strip():
            raise bad("query is required")
        limit = positive(body.get("limit"), "limit", 10)
        if limit > MAX_SEARCH:
            raise bad(f"limit must be at most {MAX_SEARCH}")
        scope, reranker = body.get("scope") or "edges", body.get("reranker") or "rrf"
        if scope not in SCOPES or reranker not in RERANKERS:
            raise bad("unknown scope or reranker")
        user_id = self._graph_owner(body)
        table = {"edges": self.p.edges, "nodes": self.p.nodes, "episodes": self.p.episodes}.get(scope, {})
        field = {"edges": "fact", "nodes": "summary"}.get(scope, "content")
        ranked = sorted(((overlap(text, row[field]), row["created_at"], row) for row in table.values()
                         if row["_user"] == user_id), key=lambda hit: (hit[0], hit[1]), reverse=True)
        results = []
        for rank, (value, _, row) in enumerate([hit for hit in ranked if hit[0] > 0][:limit], start=1):
            score = value if reranker == "cross_encoder" else round(1 / (60 + rank), 6)
            relevance = {"relevance": value} if reranker == "cross_encoder" else {}
            results.append(public(row) | {"score": score} | relevance)
        return 200, {scope: results}, {}

    def user_edges(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        body = self._object(body or {})
        user = self.p.user(match["user"])
        limit = min(positive(body.get("limit"), "limit", 100), self.fake.max_page_size)
        rows = [e for e in self.p.edges.values() if e["_user"] == user["user_id"]]
        return self._cursor_reply(rows, body, limit)

    def get_edge(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        return 200, public(self._row(self.p.edges, match["uuid"])), {}

    def delete_edge(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        edge = self._row(self.p.edges, match["uuid"])
        self.p.nodes.pop(self.p.edges.pop(edge["uuid"])["target_node_uuid"], None)
        return 200, {"message": "OK"}, {}

    def last_episodes(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        user = self.p.user(match["user"])
        rows = sorted((e for e in self.p.episodes.values() if e["_user"] == user["user_id"]),
                      key=lambda e: e["created_at"])
        lastn = positive(query.get("lastn"), "lastn", len(rows) or 1)
        return 200, {"episodes": [public(e) for e in rows[-lastn:]]}, {}

    def list_episodes(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        body = self._object(body or {})
        user = self.p.user(match["user"])
        limit = min(positive(body.get("limit"), "limit", 100), 50) if body.get("limit") else 100
        limit = min(limit, self.fake.max_page_size)
        rows = [e for e in self.p.episodes.values() if e["_user"] == user["user_id"]]
        return self._cursor_reply(rows, body, limit)

    def get_episode(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        return 200, public(self._row(self.p.episodes, match["uuid"])), {}

    def delete_episode(self, match: dict[str, str], query: dict[str, str], body: Any) -> Reply:
        self.p.delete_episode(self._row(self.p.episodes, match["uuid"])["uuid"])
        return 200, {"message": "OK"}, {}

    # helpers
    def _cursor_reply(self, rows: list[dict[str, Any]], body: dict[str, Any], limit: int) -> Reply:
        page, more = cursor_page(rows, body, limit)
        header = {"Zep-Next-Cursor": more} if more and self.fake.cursor_header else {}
        return 200, [public(row) for row in page], header

    def _object(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad("the body must be a JSON object")
        return body

    def _graph_owner(self, body: dict[str, Any]) -> str:
        """The user whose graph a request names; this fake has no standalone graphs (``graph_id``: 404)."""
        if body.get("graph_id") is not None:
            raise ApiError(404, NOT_FOUND)
        if not isinstance(body.get("user_id"), str):
            raise bad("user_id or graph_id is required")
        return self.p.user(body["user_id"])["user_id"]

    def _row(self, table: dict[str, dict[str, Any]], value: str) -> dict[str, Any]:
        try:
            key = str(uuid.UUID(value))
        except ValueError:
            raise bad(f"unable to parse UUID: invalid UUID length: {len(value)}") from None
        if key not in table:
            raise ApiError(404, NOT_FOUND)
        return table[key]


# --- the server -----------------------------------------------------------------------------------------------


class FakeZep(FakeService):
    """``with FakeZep() as zep: ...`` serves on ``zep.url`` (the host; the SDK's base_url is ``zep.api_url``)."""

    name = "fake-zep"
    prefix = API
    text_type = "text/plain; charset=utf-8"
    bad_json: ClassVar[Any] = {"message": "bad request: invalid JSON"}

    def __init__(self, api_key: str = "z-test-key", *, max_page_size: int = 1000, max_message_chars: int = 14_000,
                 cursor_header: bool = True) -> None:
        super().__init__(api_key)
        self.max_page_size = max_page_size  # clamps page sizes, to exercise paging with few rows
        self.cursor_header = cursor_header  # False: answer like servers from before Zep-Next-Cursor
        self.max_message_chars = max_message_chars  # 14,000 on paid plans, 2,500 on the free one
        self.project = Project()
        self._api = Api(self)

    @property
    def api_url(self) -> str:
        return self.url + API

    def auth_error(self, call: Call) -> Reply | None:
        if call.headers.get("authorization") != f"Api-Key {self.api_key}":
            return 401, {"message": "unauthorized"}, {}
        return None

    def respond(self, call: Call) -> Reply:
        try:
            return self._api.dispatch(call.method, call.path, call.query, call.body)
        except ApiError as exc:
            return exc.status, exc.body, {}

    def fault_body(self, fault: Fault) -> Any:
        if fault.body is not None:
            return fault.body
        return {
            401: {"message": "unauthorized"},
            429: {"message": "rate limit exceeded"},
            500: {"message": "internal server error"},
        }.get(fault.status, f"<html><body><h1>{fault.status} Bad Gateway</h1></body></html>")
