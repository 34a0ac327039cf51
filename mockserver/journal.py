"""The journal: every request and response the simulator saw, with secrets redacted; JSON and HAR export."""

from __future__ import annotations

import itertools
import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from yarl import URL

#: Largest response or request body kept in an entry, in bytes (larger ones are summarised).
MAX_BODY = 64 * 1024
_SECRET_HEADERS = re.compile(r"authorization|api[-_]?key|token|cookie", re.IGNORECASE)
_SECRET_QUERY = re.compile(r"^(key|api_key|apikey|token|sig)$", re.IGNORECASE)
REDACTED = "[redacted]"


class Entry(NamedTuple):
    """One exchange, kept raw and described only when read (recording stays off the hot path).

    It is made on every request and kept until ``limit`` later ones push it out, so it holds
    references, never copies, to little: the raw request target, the request's headers (a view
    shared with the entry before when its request sent equal headers), the response's headers, the
    body bytes (a status poll's are the ones :class:`~mockserver.jsonio.BodyCache`
    keeps for every poll of one state). Read it through its fields and properties, or as a dict
    with :meth:`as_dict`: ``seq`` (1-based), ``at`` (simulated unix seconds), ``wall`` (real unix
    seconds), ``duration_ms``, ``method``, ``path``, ``query``, ``operation`` (route name
    ``dialect:operation``, ``""`` when no route matched), ``task_id``, ``request_headers``,
    ``request_body``, ``status`` (0 when the connection was reset or cut), ``response_headers``,
    ``response_body`` (parsed JSON, text, or ``{"bytes", "content_type"}``), ``fault`` (the fault
    rule that fired). Secrets are redacted in every view.
    """

    seq: int
    at: float
    wall: float
    duration: float  # seconds from the request reaching the journal to its answer being ready
    operation: str
    method: str
    target: str  # the raw request target: path and query, still percent-encoded
    request_headers: Mapping[str, str]  # the request's headers, unredacted (an immutable view; equal ones shared)
    route_task_id: str | None  # the task ID in the route (task_id, video_id) or the ``id`` query parameter
    request_body: bytes | tuple[int | None, str] | None  # raw bytes, or (size in bytes, content type)
    status: int
    response_headers: Mapping[str, str]  # the response's own headers, final once it was sent
    response_body: bytes | tuple[int | None, str] | None
    fault: str | None

    @property
    def duration_ms(self) -> float:
        """Milliseconds from the request reaching the journal to its answer being ready."""
        return round(self.duration * 1000, 3)

    @property
    def path(self) -> str:
        """The request path, decoded."""
        return URL(self.target).path

    @property
    def query(self) -> str:
        """The query string, decoded."""
        return URL(self.target).query_string

    @property
    def task_id(self) -> str | None:
        """The task the exchange concerned: from the route, else from a task created by it."""
        if self.route_task_id is not None:
            return self.route_task_id
        if isinstance(self.response_body, bytes) and self.status < 300:
            body = describe_body(self.response_body, _content_type(self.response_headers))
            if isinstance(body, dict):
                found = body.get("task_id") or body.get("id")
                if isinstance(found, str) and found.startswith(("video_", "task_")):
                    return found
        return None

    def as_dict(self) -> dict[str, Any]:
        """The exchange as JSON-ready data, secrets redacted."""
        url = URL(self.target)
        return {
            "seq": self.seq, "at": self.at, "wall": self.wall, "duration_ms": self.duration_ms,
            "method": self.method, "path": url.path, "query": redact_query(parse_qsl(url.query_string)),
            "operation": self.operation, "task_id": self.task_id,
            "request_headers": redact_headers(self.request_headers.items()),
            "request_body": _described(self.request_body, _content_type(self.request_headers)),
            "status": self.status, "response_headers": redact_headers(self.response_headers.items()),
            "response_body": _described(self.response_body, _content_type(self.response_headers)),
            "fault": self.fault,
        }


def _content_type(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.split(";", 1)[0].strip()
    return ""


def _described(body: bytes | tuple[int | None, str] | None, content_type: str) -> Any:
    if isinstance(body, tuple):
        return {"bytes": body[0], "content_type": body[1]}
    return describe_body(body, content_type)


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers with Authorization, API keys and tokens replaced by ``[redacted]``."""
    return {str(name): REDACTED if _SECRET_HEADERS.search(name) else value for name, value in headers}


def redact_query(query: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Query parameters with keys, tokens and URL signatures replaced by ``[redacted]``."""
    return {str(name): REDACTED if _SECRET_QUERY.match(name) else value for name, value in query}


def describe_body(data: bytes | None, content_type: str) -> Any:
    """A body as kept in the journal: parsed JSON, text, or a size summary (binary or large)."""
    if not data:
        return None
    if len(data) > MAX_BODY or not (content_type.startswith(("application/json", "text/"))
                                    or content_type.endswith("+json")):
        return {"bytes": len(data), "content_type": content_type}
    text = data.decode("utf-8", "replace")
    if "json" in content_type:
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError):  # "[[[[…" nested deeper than Python recurses
            return text
    return text


class Journal:
    """A bounded record of exchanges, one per app instance.

    Both of its writers run on every request, so both are C-level callables rather than methods.

    Args:
        limit: How many entries to keep (the oldest fall out first).

    Attributes:
        entries: The kept exchanges, oldest first.
        next_seq: Reserve the next sequence number (1, 2, ...).
        record: Keep one exchange (``entries.append``).
        last_headers: The raw request headers last recorded and the header view kept for them:
            an entry whose request sent the same headers (a client polling sends the same ones
            every time) points at that view, and its own request's header objects are freed at
            once. A journaled status poll keeps about 600 bytes instead of about 1 180
            (``bench/memory.py``, here and on commit 451f4a0).
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.entries: deque[Entry] = deque(maxlen=limit)
        self.next_seq: Callable[[], int] = itertools.count(1).__next__
        self.record: Callable[[Entry], None] = self.entries.append
        self.last_headers: tuple[tuple[tuple[bytes, bytes], ...], Mapping[str, str]] | None = None

    def clear(self) -> None:
        """Forget every entry (sequence numbers go on)."""
        self.entries.clear()
        self.last_headers = None

    def find(self, *, method: str | None = None, path: str | None = None, operation: str | None = None,
             task_id: str | None = None, status: int | None = None, since: int | None = None) -> list[Entry]:
        """Entries matching every given filter (``path`` is a prefix, ``operation`` exact or a dialect)."""
        found = []
        for entry in self.entries:
            if method is not None and entry.method != method.upper():
                continue
            if path is not None and not entry.path.startswith(path):
                continue
            if operation is not None and operation not in (entry.operation, entry.operation.split(":")[0]):
                continue
            if task_id is not None and entry.task_id != task_id:
                continue
            if status is not None and entry.status != status:
                continue
            if since is not None and entry.seq <= since:
                continue
            found.append(entry)
        return found

    @staticmethod
    def as_json(entries: Iterable[Entry]) -> list[dict[str, Any]]:
        """Entries as JSON-ready dicts, secrets redacted."""
        return [entry.as_dict() for entry in entries]

    @staticmethod
    def as_har(entries: Iterable[Entry], base_url: str) -> dict[str, Any]:
        """Entries as a HAR 1.2 log, secrets redacted."""
        return {"log": {"version": "1.2", "creator": {"name": "videomock", "version": "0.1.0"},
                        "entries": [_har_entry(entry.as_dict(), base_url) for entry in entries]}}


def _har_body(body: Any) -> tuple[int, str | None]:
    if body is None:
        return 0, None
    if isinstance(body, dict) and set(body) == {"bytes", "content_type"}:
        return body["bytes"], None
    text = body if isinstance(body, str) else json.dumps(body)
    return len(text.encode()), text


def _har_entry(entry: dict[str, Any], base_url: str) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in entry["query"].items())
    url = base_url + entry["path"] + (f"?{query}" if query else "")
    request_size, request_text = _har_body(entry["request_body"])
    response_size, response_text = _har_body(entry["response_body"])
    request: dict[str, Any] = {
        "method": entry['method'], "url": url, "httpVersion": "HTTP/1.1", "cookies": [],
        "headers": [{"name": k, "value": v} for k, v in entry['request_headers'].items()],
        "queryString": [{"name": k, "value": v} for k, v in entry['query'].items()],
        "headersSize": -1, "bodySize": request_size,
    }
    if request_text is not None:
        request["postData"] = {"mimeType": _content_type(entry['request_headers']), "text": request_text}
    try:
        status_text = HTTPStatus(entry['status']).phrase
    except ValueError:
        status_text = ""
    content: dict[str, Any] = {"size": response_size, "mimeType": _content_type(entry['response_headers'])}
    if response_text is not None:
        content["text"] = response_text
    return {
        "startedDateTime": datetime.fromtimestamp(entry['wall'], UTC).isoformat(),
        "time": entry['duration_ms'],
        "request": request,
        "response": {"status": entry['status'], "statusText": status_text, "httpVersion": "HTTP/1.1", "cookies": [],
                     "headers": [{"name": k, "value": v} for k, v in entry['response_headers'].items()],
                     "content": content, "redirectURL": "", "headersSize": -1, "bodySize": response_size},
        "cache": {}, "timings": {"send": 0, "wait": entry['duration_ms'], "receive": 0},
        "comment": f"seq {entry['seq']}; operation {entry['operation'] or '-'}; fault {entry['fault'] or '-'}",
    }
