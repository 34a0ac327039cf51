"""JSON responses, serialized with orjson (the simulator's hot path: every status poll is one)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


def dumps(value: Any) -> str:
    """Serialize to a JSON string (UTF-8 text; non-finite floats become null)."""
    return orjson.dumps(value).decode()


def json_response(data: Any, *, status: int = 200, headers: Any = None) -> web.Response:
    """A ``200 application/json`` (or ``status``) response of ``data``."""
    return web.Response(body=orjson.dumps(data), status=status, headers=headers, content_type="application/json")
