"""JSON responses, serialized with orjson (the simulator's hot path: every status poll is one)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp import web


def _encode(value: Any) -> bytes:
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
    return _encode(value).decode()


def json_response(data: Any, *, status: int = 200, headers: Any = None) -> web.Response:
    """A ``200 application/json`` (or ``status``) response of ``data``."""
    return web.Response(body=_encode(data), status=status, headers=headers, content_type="application/json")
