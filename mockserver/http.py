"""Request parsing shared by the dialect handlers: bodies, prompts, scenario selection, URLs."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from aiohttp import hdrs, web

from mockserver.backend import Task
from mockserver.errors import BodyTooLarge, InvalidJSON, InvalidParameter, UnsupportedMediaType
from mockserver.keys import BACKEND, CONFIG, MEDIA
from mockserver.media import CONTENT_TYPES
from mockserver.pipeline import MEDIA_PATH_KEY, JournaledFileResponse
from mockserver.scenarios import SCENARIO_HEADER, Selection

#: Longest accepted prompt, in characters (OpenAI's CreateVideoJsonBody: 1-32000).
MAX_PROMPT = 32_000

async def read_body(request: web.Request) -> bytes:
    """The raw body.

    Raises:
        BodyTooLarge: larger than the app's ``client_max_size`` (bytes).
    """
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        limit = request.app[CONFIG].max_body_bytes
        raise BodyTooLarge(f"Request body too large: the limit is {limit} bytes") from exc


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object.

    Raises:
        UnsupportedMediaType: the Content-Type is not ``application/json``.
        InvalidJSON: the body is not JSON or not an object.
        BodyTooLarge: the body exceeds the limit.
    """
    if request.content_type != "application/json":
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, got {request.content_type or 'none'!r}",
        )
    raw = await read_body(request)
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # RecursionError: "[[[[…" (issue 9)
        raise InvalidJSON(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidJSON(f"Request body must be a JSON object, got {type(body).__name__}")
    return body


def check_prompt(value: Any, param: str = "prompt") -> str:
    """A non-blank prompt of at most :data:`MAX_PROMPT` characters.

    Raises:
        InvalidParameter: missing, not a string, blank or too long.
    """
    if value is None:
        raise InvalidParameter(param, f"'{param}' is required")
    if not isinstance(value, str):
        raise InvalidParameter(param, f"'{param}' must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidParameter(param, f"'{param}' must not be blank")
    if len(value) > MAX_PROMPT:
        raise InvalidParameter(param, f"'{param}' is {len(value)} characters; the limit is {MAX_PROMPT}")
    return value


def select_scenario(request: web.Request, prompt: str, model: str = "sora-2", family: str = "sora") -> Selection:
    """The scenario a new task follows, most specific first (see :mod:`mockserver.scenarios`).

    Raises:
        InvalidParameter: the header or the prompt names an unknown scenario (the message lists them).
    """
    _, _, key = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    return request.app[BACKEND].scenarios.select(header=request.headers.get(SCENARIO_HEADER), prompt=prompt,
                                                 api_key=key.strip(), model=model, family=family)


def sign(secret: bytes, task_id: str) -> str:
    """The signature of a task's video URL (hex HMAC-SHA256, 32 characters)."""
    return hmac.new(secret, task_id.encode(), hashlib.sha256).hexdigest()[:32]


def signature_ok(secret: bytes, task_id: str, signature: str) -> bool:
    """Whether ``signature`` signs ``task_id`` (constant-time comparison)."""
    # As bytes: compare_digest refuses str with non-ASCII characters (a 500 before this was found).
    return hmac.compare_digest(sign(secret, task_id).encode(), signature.encode("utf-8", "surrogatepass"))


def video_url(request: web.Request, secret: bytes, task_id: str) -> str:
    """The signed, absolute URL at which the simulator serves a task's MP4 (like a CDN link)."""
    return f"{request.scheme}://{request.host}/media/{task_id}.mp4?sig={sign(secret, task_id)}"


async def media_response(request: web.Request, task: Task, variant: str = "video") -> web.StreamResponse:
    """Serve a task's media the way CDNs do.

    From a file, with ``Content-Length``, ``Accept-Ranges: bytes``, ``Range`` (206, 416), ``ETag``
    with ``If-None-Match``/``If-Range``, and ``HEAD``.

    Args:
        request: The request (its Range and conditional headers are honoured).
        task: A task whose media may be served (the caller checked readiness and expiry).
        variant: ``video`` (video/mp4), ``thumbnail`` (image/webp) or ``spritesheet`` (image/jpeg).
    """
    media = request.app[MEDIA]
    path = await media.path(task.render, task.prompt, variant)
    if not path.exists():  # evicted by a concurrent build between the two lines: rebuilt, identical
        path = await media.path(task.render, task.prompt, variant)
    request[MEDIA_PATH_KEY] = path  # for faults that reshape the body (slow, truncated)
    response = JournaledFileResponse(path, headers={
        "Content-Type": CONTENT_TYPES[variant],
        "Content-Disposition": f'inline; filename="{task.id}{path.suffix}"',
        "Cache-Control": "private, max-age=3600",
    })
    if_range = request.headers.get(hdrs.IF_RANGE, "")
    if if_range.startswith(('"', "W/")):
        # aiohttp reads If-Range only as a date. An entity tag must match strongly (RFC 9110 13.1.5),
        # or the whole file is sent: the client's partial copy is stale.
        stat = path.stat()
        if if_range != f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"':
            full = request.clone(headers={k: v for k, v in request.headers.items()
                                          if k.lower() not in ("range", "if-range")})
            await response.prepare(full)
    return response
