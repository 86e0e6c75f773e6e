"""What the local fakes of hosted services share: a threaded HTTP server on 127.0.0.1, every request recorded,
and faults injected on demand (an error status with ``Retry-After``, a slow answer, a dropped connection).

A service's fake subclasses :class:`FakeService` and says how it authenticates, answers and words its errors.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

Reply = tuple[int, Any, dict[str, str]]  # status, JSON body (or text), headers
DROP = 0  # the "status" of a request whose connection is closed without an answer


@dataclasses.dataclass
class Fault:
    """What to do to the next ``times`` requests matching ``method`` and ``path`` (a regex on the service path)."""

    status: int | None
    delay: float = 0.0
    times: int = 1
    method: str | None = None
    path: str | None = None
    retry_after: str | None = None
    body: Any = None
    drop: bool = False  # close the connection without answering

    def matches(self, method: str, path: str) -> bool:
        return self.method in (None, method) and (self.path is None or re.search(self.path, path) is not None)


@dataclasses.dataclass
class Call:
    """One request as the server saw it; ``path`` is under the service's :attr:`FakeService.prefix`, as sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0  # the status answered, once known


class FakeService:
    """``with Fake() as fake: ...`` serves on ``fake.url`` until the block ends."""

    name = "fake"
    prefix = ""  # requests outside it get ``404`` with :attr:`not_found_text`
    not_found_text = "404 page not found"
    text_type = "text/html"  # Content-Type of text (non-JSON) answers
    bad_json: ClassVar[Any] = {"detail": "JSON parse error"}

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.calls: list[Call] = []
        self._faults: list[Fault] = []
        self._guard = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=self.name,
                                        daemon=True)

    # the service's own behaviour
    def auth_error(self, call: Call) -> Reply | None:
        """The answer to a request whose credentials are wrong, else ``None``."""
        raise NotImplementedError

    def respond(self, call: Call) -> Reply:
        """The service's answer to an authenticated request."""
        raise NotImplementedError

    def fault_body(self, fault: Fault) -> Any:
        """The body the service sends with an injected error status."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    # fault injection
    def fail(self, status: int, *, times: int = 1, method: str | None = None, path: str | None = None,
             retry_after: str | None = None, body: Any = None, delay: float = 0.0) -> None:
        """Answer the next ``times`` matching requests with ``status`` (the service's body for it unless given)."""
        self._add(Fault(status, delay, times, method, path, retry_after, body))

    def slow(self, seconds: float, *, times: int = 1, method: str | None = None, path: str | None = None) -> None:
        """Hold the next ``times`` matching requests for ``seconds`` before answering them normally."""
        self._add(Fault(None, seconds, times, method, path))

    def drop(self, *, times: int = 1, method: str | None = None, path: str | None = None) -> None:
        """Close the connection of the next ``times`` matching requests without answering them."""
        self._add(Fault(None, times=times, method=method, path=path, drop=True))

    def clear_faults(self) -> None:
        with self._guard:
            self._faults.clear()

    def calls_to(self, method: str, path_regex: str) -> list[Call]:
        return [c for c in list(self.calls) if c.method == method and re.fullmatch(path_regex, c.path)]

    def handle(self, call: Call) -> Reply:
        """``(status, body, headers)`` for one request, recorded in :attr:`calls` with its status."""
        self.calls.append(call)
        status, body, headers = self._answer(call)
        call.status = status
        return status, body, headers

    def _answer(self, call: Call) -> Reply:
        """Faults first, then authentication, then the endpoint."""
        fault = self._take_fault(call.method, call.path)
        if fault is not None:
            self._stopping.wait(fault.delay)
            if fault.drop:
                return DROP, None, {}
            if fault.status is not None:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return fault.status, self.fault_body(fault), headers
        return self.auth_error(call) or self.respond(call)

    def _add(self, fault: Fault) -> None:
        with self._guard:
            self._faults.append(fault)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._guard:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


def _handler_for(fake: FakeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return None

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if fake.prefix and not parts.path.startswith(fake.prefix + "/"):
                status, payload, headers = 404, fake.not_found_text, {}
            else:
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    status, payload, headers = 400, fake.bad_json, {}
                else:
                    path = parts.path[len(fake.prefix):]
                    call = Call(self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body)
                    status, payload, headers = fake.handle(call)
            if status == DROP:
                self.close_connection = True
                return
            self._reply(status, payload, headers)

        def _reply(self, status: int, payload: Any, headers: dict[str, str]) -> None:
            is_text = isinstance(payload, str)
            data = payload.encode() if is_text else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", fake.text_type if is_text else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    return Handler
