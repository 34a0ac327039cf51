"""JSON responses, serialized with orjson (the simulator's hot path: every status poll is one)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import hdrs, web
from multidict import CIMultiDict, CIMultiDictProxy

if TYPE_CHECKING:
    from mockserver.backend import Task
    from mockserver.lifecycle import Snapshot


#: The headers of a JSON answer without others (read-only). ``web.Response(body=..., headers=JSON_HEADERS)``
#: copies them into the response's own header map: the same header as ``content_type="application/json"``,
#: with less work per response (aiohttp 3.14; bench/README.md). Every status poll is one.
JSON_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict({hdrs.CONTENT_TYPE: "application/json"}))


def encode(value: Any) -> bytes:
    """Serialize to UTF-8 JSON bytes (non-finite floats become null)."""
    try:
        # orjson's result sits in a buffer of at least 4 KiB whatever its length; the journal keeps
        # response bodies, so an exact-size copy keeps its memory (and the poll's cache misses) small.
        return bytes(memoryview(orjson.dumps(value)))
    except TypeError:
        # orjson writes integers up to 64 bits only; a larger one (a request body's, echoed by the
        # journal or a fault rule) goes through the standard library instead of failing the answer.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def dumps(value: Any) -> str:
    """Serialize to a JSON string (UTF-8 text; non-finite floats become null)."""
    return encode(value).decode()


def json_response(data: Any, *, status: int = 200, headers: Any = None) -> web.Response:
    """A ``200 application/json`` (or ``status``) response of ``data``, with ``headers`` added."""
    if headers is None:
        return web.Response(body=encode(data), status=status, headers=JSON_HEADERS)
    return web.Response(body=encode(data), status=status, headers=headers, content_type="application/json")


class BodyCache:
    """The JSON body last rendered for each task, reused while what it was rendered from is unchanged.

    A client polls one task again and again, and between two changes of its state every answer is
    the same: a status poll renders and serializes once per change, not once per request (issue 2's
    benchmark). One instance per app; past ``limit`` tasks it starts afresh.

    Args:
        limit: How many tasks' bodies to keep.
    """

    def __init__(self, limit: int = 4096) -> None:
        self._bodies: dict[str, tuple[tuple[Any, ...], bytes]] = {}
        self._limit = limit

    def render(self, render: Callable[..., Any], task: Task, state: Snapshot, extra: Any = None) -> bytes:
        """``render(task, state)`` as JSON bytes, or the bytes kept from an equal call.

        ``render`` gets ``extra`` as a third argument when it is not None. Equal means the same
        ``render`` (a function, or a bound method of the same object), the same task object with the
        same plan (a control call may replace it), an equal state and an equal ``extra`` (the gateway
        passes the video ``url``). One fixed argument, not ``*args``: packing and unpacking them cost
        more than the rest of a cache hit.

        Returns:
            The UTF-8 JSON body.
        """
        key = (render, task, task.plan, state, extra)
        kept = self._bodies.get(task.id)
        if kept is not None and kept[0] == key:
            return kept[1]
        body = encode(render(task, state) if extra is None else render(task, state, extra))
        if len(self._bodies) >= self._limit:
            self._bodies.clear()
        self._bodies[task.id] = (key, body)
        return body
