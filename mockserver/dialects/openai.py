"""The OpenAI Videos dialect (issue 3, seed 004): ``/v1/videos``, as the official SDK and gateways speak it.

Every JSON answer follows OpenAI's published schema (../shared/reference/openai-videos.openapi.json):
``VideoResource``, ``VideoListResource``, ``DeletedVideoResource``, and errors in the envelope
``{"error": {message, type, param, code}}`` (rendered by ``mockserver.app``'s error middleware from
the :class:`~mockserver.errors.ApiError` a handler raises). Both dialects share one backend: a task
submitted through ``/v1/video/generations`` is the same video here, and the other way round.

Simulator controls (request headers; none of them is part of OpenAI's API):

- ``X-Videomock-Scenario`` (or the prompt directive ``[videomock scenario=NAME]``) on create and
  remix: how the new task's life goes (see :func:`mockserver.http.select_scenario`).
- ``X-Videomock-Not-Ready: 202 | json200 | 404``: how ``GET /v1/videos/{id}/content`` answers while
  the video is still queued or in progress, seed 004's three behaviours:

  - ``202`` (default): HTTP 202 with ``{"error": {"message": "Video generation is still in
    progress. Please check the status endpoint.", "type": "video_not_ready", "code":
    "video_processing", "param": null}}``;
  - ``json200``: HTTP 200, ``Content-Type: application/json``, exactly seed 004's example body
    (:data:`SEED_004_NOT_READY_BODY`);
  - ``404``: HTTP 404 with the same error envelope as ``202``.

  Sent on the content request it applies to that request; sent on create it becomes the task's
  own default. Otherwise the app-wide default applies: ``app[NOT_READY]`` if set at start-up,
  else ``202``.

Pacing: while a video is not terminal, create and retrieve answer with the ``openai-poll-after-ms``
header that the SDK's ``poll()`` honours: 1000 ms of real time per simulated second at the clock's
speed (at least :data:`MIN_POLL_MS`), :data:`MANUAL_POLL_MS` with a manual clock.

Not simulated: ``POST /v1/videos/edits``, ``/extensions``, ``/characters`` and
``GET /v1/videos/characters/{id}`` answer 404 with a message saying so.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mockserver.backend import Task
from mockserver.errors import (
    InvalidFormData,
    UnsupportedMediaType,
)
from mockserver.http import read_json
from mockserver.keys import CLOCK
from mockserver.lifecycle import Snapshot, Status

routes = web.RouteTableDef()

#: ``VideoModel`` enum of the reference schema; the default is ``sora-2``.
MODELS = ("sora-2", "sora-2-pro", "sora-2-2025-10-06", "sora-2-pro-2025-10-06", "sora-2-2025-12-08")
#: ``VideoSeconds``: durations in seconds, as strings; the default is ``"4"``.
SECONDS = ("4", "8", "12")
#: ``VideoSize`` as ``WIDTHxHEIGHT`` pixels; the default is ``720x1280``.
SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
#: Sizes only the sora-2-pro models render (dialects.md §2.2: new-api's check, not in the schema).
PRO_SIZES = ("1024x1792", "1792x1024")
#: ``VideoContentVariant``: the downloadable assets of a video.
VARIANTS = ("video", "thumbnail", "spritesheet")
#: Fields of ``CreateVideoJsonBody`` / ``CreateVideoMultipartBody``.
CREATE_FIELDS = ("prompt", "model", "seconds", "size", "input_reference")
#: Longest ``input_reference.image_url``, in characters (``ImageRefParam-2``).
MAX_IMAGE_URL = 20_971_520

#: Internal status → ``VideoStatus`` (submitted is still queued from the client's point of view).
STATUSES = {Status.SUBMITTED: "queued", Status.QUEUED: "queued", Status.IN_PROGRESS: "in_progress",
            Status.SUCCEEDED: "completed", Status.FAILED: "failed"}

POLL_HEADER = "openai-poll-after-ms"
#: Poll hint with a manual clock, which only moves when a test advances it (milliseconds).
MANUAL_POLL_MS = 50
#: Smallest poll hint with a fast real clock (milliseconds).
MIN_POLL_MS = 20

NOT_READY_HEADER = "X-Videomock-Not-Ready"
NOT_READY_MODES = ("202", "json200", "404")
#: The app-wide not-ready behaviour chosen at start-up (one of NOT_READY_MODES); ``202`` when unset.
NOT_READY = web.AppKey("openai_not_ready", str)

#: Seed 004, "Error Response (200 with JSON)": the body sent with HTTP 200 in ``json200`` mode.
SEED_004_NOT_READY_BODY: dict[str, Any] = {
    "message": "Video generation still in progress",
    "data": {"error": {"message": "Video generation is still in progress. Please check the status endpoint.",
                       "type": "video_not_ready", "code": "video_processing", "param": None}},
}


def video_object(task: Task, state: Snapshot) -> dict[str, Any]:
    """A task as a ``VideoResource`` (reference schema): every required key, nullable ones as null.

    ``size`` is ``"WIDTHxHEIGHT"`` (outside the ``VideoSize`` enum for tasks submitted through the
    gateway with other sizes), ``seconds`` a string, times integer unix seconds. ``expires_at`` is
    null until completion, for a failed task (it has no assets) and for a task that never expires.
    """
    failed = state.status is Status.FAILED
    error = task.plan.error
    expires_at = state.expires_at
    return {
        "id": task.id,
        "object": "video",
        "model": task.model,
        "status": STATUSES[state.status],
        "progress": state.progress,
        "created_at": int(task.created_at),
        "completed_at": None if state.completed_at is None else int(state.completed_at),
        "expires_at": None if failed or expires_at is None or expires_at == float("inf") else int(expires_at),
        "prompt": task.prompt,
        "size": task.render.size,
        "seconds": str(task.render.seconds),
        "remixed_from_video_id": task.remixed_from_video_id,
        "error": {"code": error.code, "message": error.message} if failed and error is not None else None,
    }


def poll_headers(request: web.Request, state: Snapshot) -> dict[str, str]:
    """``{"openai-poll-after-ms": "<ms>"}`` while ``state`` is not terminal, else ``{}``.

    The hint is 1000 ms divided by the clock's speed (one simulated second), at least
    :data:`MIN_POLL_MS`, at most 1000 (the SDK's own default); :data:`MANUAL_POLL_MS` with a manual clock.
    """
    if state.terminal:
        return {}
    clock = request.app[CLOCK]
    ms = MANUAL_POLL_MS if clock.manual else max(MIN_POLL_MS, min(1000, round(1000 / clock.speed)))
    return {POLL_HEADER: str(ms)}


async def read_fields(request: web.Request) -> dict[str, Any]:
    """The body's fields, from JSON or from a form (multipart/form-data or urlencoded).

    Form values are strings or, for file parts, aiohttp ``FileField``s; bracketed keys as the SDK
    sends nested objects (``input_reference[image_url]``) become a nested dict.

    Raises:
        UnsupportedMediaType: any other Content-Type.
        InvalidJSON: the JSON body is not an object.
        InvalidFormData: the form cannot be parsed, a text field is not UTF-8, or a field is repeated.
    """
    if request.content_type == "application/json":
        return await read_json(request)
    if request.content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise UnsupportedMediaType("Content-Type must be application/json or multipart/form-data, got "
                                   f"{request.content_type or 'none'!r}")
    try:
        form = await request.post()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidFormData(f"The form body cannot be parsed: {exc}") from None
    fields: dict[str, Any] = {}
    for key in dict.fromkeys(form):
        values = form.getall(key)
        if len(values) > 1:
            raise InvalidFormData(f"Form field '{key}' was sent {len(values)} times; send it once", param=key)
        value = values[0]
        if isinstance(value, (bytes, bytearray)):
            try:
                value = bytes(value).decode()
            except UnicodeDecodeError:
                raise InvalidFormData(f"Form field '{key}' is not UTF-8 text", param=key) from None
        outer, bracket, inner = key.partition("[")
        if bracket and inner.endswith("]") and outer:
            nested = fields.setdefault(outer, {})
            if not isinstance(nested, dict):
                raise InvalidFormData(f"Form field '{outer}' is sent both as a value and as an object", param=outer)
            nested[inner[:-1]] = value
        elif key in fields:
            raise InvalidFormData(f"Form field '{key}' is sent both as a value and as an object", param=key)
        else:
            fields[key] = value
    return fields
