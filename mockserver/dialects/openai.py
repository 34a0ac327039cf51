"""The OpenAI Videos dialect (issue 3, seed 004): ``/v1/videos``, as the official SDK and gateways speak it.

Every JSON answer follows OpenAI's published schema (../shared/reference/openai-videos.openapi.json):
``VideoResource``, ``VideoListResource``, ``DeletedVideoResource``, and errors in the envelope
``{"error": {message, type, param, code}}`` (rendered by ``mockserver.pipeline.render_error`` from
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

  Sent on the content request it applies to that request; sent on create or remix it becomes the
  task's own mode. Otherwise the task's scenario script decides (its ``not_ready``), else the
  start-up default: the scenario file's ``not_ready`` (:mod:`mockserver.scenarios`), ``202`` without one.

Pacing: while a video is not terminal, create and retrieve answer with the ``openai-poll-after-ms``
header that the SDK's ``poll()`` honours: 1000 ms of real time per simulated second at the clock's
speed (at least :data:`MIN_POLL_MS`), :data:`MANUAL_POLL_MS` with a manual clock.

Not simulated: ``POST /v1/videos/edits``, ``/extensions``, ``/characters`` and
``GET /v1/videos/characters/{id}`` answer 404 with a message saying so.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import FileField

from mockserver.backend import Task
from mockserver.catalog import RenderSpec
from mockserver.errors import (
    ApiError,
    BodyTooLarge,
    InvalidFormData,
    InvalidParameter,
    RouteNotFound,
    TaskNotFound,
    TaskNotReady,
    UnknownModel,
    UnsupportedMediaType,
    VideoNotFound,
    VideoNotReady,
)
from mockserver.http import check_prompt, media_response, read_json, select_scenario
from mockserver.jsonio import JSON_HEADERS, json_response
from mockserver.keys import BACKEND, BODIES, CLOCK, CONFIG
from mockserver.lifecycle import Snapshot, Status
from mockserver.pipeline import NOT_READY_KEY

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
        "expires_at": None if failed or expires_at is None or math.isinf(expires_at) else int(expires_at),
        "prompt": task.prompt,
        "size": task.render.size,
        "seconds": str(task.render.seconds),
        "remixed_from_video_id": task.remixed_from_video_id,
        "error": {"code": error.code, "message": error.message} if failed and error is not None else None,
    }


def poll_headers(request: web.Request, state: Snapshot) -> dict[str, str] | None:
    """``{"openai-poll-after-ms": "<ms>"}`` while ``state`` is not terminal, else None (no extra header).

    The hint is 1000 ms divided by the clock's speed (one simulated second), at least
    :data:`MIN_POLL_MS`, at most 1000 (the SDK's own default); :data:`MANUAL_POLL_MS` with a manual clock.
    """
    if state.terminal:
        return None
    clock = request.app[CLOCK]
    # min() before round(): at a tiny speed 1000 / speed is inf, which round() cannot take.
    ms = MANUAL_POLL_MS if clock.manual else max(MIN_POLL_MS, round(min(1000.0, 1000 / clock.speed)))
    return {POLL_HEADER: str(ms)}


async def read_fields(request: web.Request) -> dict[str, Any]:
    """The body's fields, from JSON or from a form (multipart/form-data or urlencoded).

    Form values are strings or, for file parts, aiohttp ``FileField``s; bracketed keys as the SDK
    sends nested objects (``input_reference[image_url]``) become a nested dict.

    Raises:
        UnsupportedMediaType: any other Content-Type.
        InvalidJSON: the JSON body is not an object.
        InvalidFormData: the form cannot be parsed, a text field is not UTF-8, or a field is repeated.
        BodyTooLarge: more parts than ``max_form_parts``, or a part larger than ``max_part_bytes`` (issue 9).
    """
    if request.content_type == "application/json":
        return await read_json(request)
    if request.content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise UnsupportedMediaType("Content-Type must be application/json or multipart/form-data, got "
                                   f"{request.content_type or 'none'!r}")
    try:
        form = await request.post()
    except (ValueError, UnicodeDecodeError, HttpProcessingError) as exc:  # e.g. a part's malformed headers
        raise InvalidFormData(f"The form body cannot be parsed: {exc}") from None
    except web.HTTPRequestEntityTooLarge as exc:  # too many parts, or the whole body too large (issue 9)
        raise BodyTooLarge(f"The form is too large: {exc.text}") from None
    fields: dict[str, Any] = {}
    part_limit = request.app[CONFIG].max_part_bytes
    for key in dict.fromkeys(form):
        values = form.getall(key)
        if len(values) > 1:
            raise InvalidFormData(f"Form field '{key}' was sent {len(values)} times; send it once", param=key)
        value = values[0]
        if isinstance(value, FileField):
            size = value.file.seek(0, 2)
            value.file.seek(0)
        else:
            size = len(value.encode() if isinstance(value, str) else value)
        if size > part_limit:
            raise BodyTooLarge(f"Form part '{key}' is {size} bytes; the limit is {part_limit} bytes", param=key)
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


def shown(value: Any) -> str:
    """A request value as it appears in an error message: JSON, or ``a file upload`` for a file part."""
    return "a file upload" if isinstance(value, FileField) else json.dumps(value)


def check_choice(name: str, value: Any, allowed: tuple[str, ...], default: str) -> str:
    """A string parameter from an enumerated set (reference schema enums); ``default`` when absent.

    Raises:
        InvalidParameter: not a string (e.g. the JSON integer ``4`` for ``seconds``) or not one of
            ``allowed``; the message names the parameter and lists the allowed values.
    """
    if value is None:
        return default
    listed = ", ".join(f"'{choice}'" for choice in allowed)
    if not isinstance(value, str):
        raise InvalidParameter(name, f"Invalid type for '{name}': expected a string, one of {listed}, "
                                     f"but got {shown(value)}")
    if value not in allowed:
        raise InvalidParameter(name, f"Invalid value for '{name}': {value!r}; supported values are {listed}")
    return value


def check_model(value: Any) -> str:
    """The ``model`` of a create request: one of :data:`MODELS`, ``sora-2`` when absent.

    Raises:
        InvalidParameter: not a string.
        UnknownModel: not a Sora 2 model or snapshot (the message lists them).
    """
    if value is None:
        return "sora-2"
    if not isinstance(value, str):
        raise InvalidParameter("model", f"Invalid type for 'model': expected a string, but got {shown(value)}")
    if value not in MODELS:
        raise UnknownModel(value, MODELS)
    return value


def check_input_reference(value: Any) -> dict[str, Any] | None:
    """The optional ``input_reference``: a file part, or an object with exactly one of ``image_url``/``file_id``.

    ``image_url`` is an http(s) URL or a data URL of at most :data:`MAX_IMAGE_URL` characters
    (``ImageRefParam-2``). The reference only guides a real generation; the simulator records it.

    Returns:
        None when absent; ``{"filename", "content_type", "bytes"}`` for a file (size in bytes);
        ``{"image_url": …}`` or ``{"file_id": …}`` otherwise.

    Raises:
        InvalidParameter: an empty file, a malformed object, or anything else.
    """
    name = "input_reference"
    if value is None:
        return None
    if isinstance(value, FileField):
        size = value.file.seek(0, 2)
        value.file.seek(0)
        if not size:
            raise InvalidParameter(name, f"'{name}' is an empty file")
        return {"filename": value.filename, "content_type": value.content_type, "bytes": size}
    if not isinstance(value, dict):
        raise InvalidParameter(name, f"'{name}' must be a file upload or an object with 'image_url' or 'file_id'")
    for key in value:
        if key not in ("image_url", "file_id"):
            raise InvalidParameter(f"{name}.{key}", f"Unknown parameter '{name}.{key}'; use 'image_url' or 'file_id'")
    given = dict(value)  # no nulls: ImageRefParam-2's fields are strings
    if len(given) != 1:
        raise InvalidParameter(name, f"Provide exactly one of '{name}.image_url' or '{name}.file_id'")
    ((key, ref),) = given.items()
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidParameter(f"{name}.{key}", f"'{name}.{key}' must be a non-empty string")
    if key == "image_url" and (not ref.startswith(("http://", "https://", "data:")) or len(ref) > MAX_IMAGE_URL):
        raise InvalidParameter(f"{name}.{key}", f"'{name}.image_url' must be an http(s) URL or a base64 data URL "
                                                f"of at most {MAX_IMAGE_URL} characters")
    return {key: ref}


def reject_unknown(fields: dict[str, Any], known: tuple[str, ...]) -> None:
    """Refuse a body field the operation does not define, so a misspelling never passes silently.

    Raises:
        InvalidParameter: the first unknown field (the message lists the accepted ones).
    """
    for key in fields:
        if key not in known:
            raise InvalidParameter(key, f"Unknown parameter: '{key}'; accepted: {', '.join(known)}")


def reject_nulls(fields: dict[str, Any]) -> None:
    """Refuse JSON ``null`` for an optional field: the reference schema types none of them as nullable.

    Raises:
        InvalidParameter: the first such field (a null ``prompt`` is left to :func:`check_prompt`).
    """
    for key, value in fields.items():
        if value is None and key != "prompt":
            raise InvalidParameter(key, f"Invalid type for '{key}': expected a value, but got null; omit the field "
                                        "to use its default")


def not_ready_mode(request: web.Request) -> str | None:
    """The ``X-Videomock-Not-Ready`` header's value, or None without it.

    Raises:
        InvalidParameter: not one of :data:`NOT_READY_MODES`.
    """
    mode = request.headers.get(NOT_READY_HEADER)
    if mode is not None and mode not in NOT_READY_MODES:
        raise InvalidParameter(NOT_READY_HEADER, f"unknown {NOT_READY_HEADER} value {mode!r}; one of "
                                                 f"{', '.join(NOT_READY_MODES)}")
    return mode


def find_video(request: web.Request) -> tuple[Task, Snapshot]:
    """The task named by the path's ``video_id``, and its state now.

    Raises:
        VideoNotFound: no such task, or it was deleted (404).
    """
    video_id = request.match_info["video_id"]
    try:
        return request.app[BACKEND].get_task(video_id)
    except TaskNotFound:
        raise VideoNotFound(video_id) from None


def video_response(request: web.Request, task: Task, state: Snapshot) -> web.Response:
    """HTTP 200 with the task as a ``VideoResource``, plus the poll hint while not terminal."""
    body = request.app[BODIES].render(video_object, task, state)
    poll = poll_headers(request, state)
    if poll is None:
        return web.Response(body=body, headers=JSON_HEADERS)
    return web.Response(body=body, content_type="application/json", headers=poll)


@routes.post("/v1/videos", name="openai:create_video")
async def create_video(request: web.Request) -> web.Response:
    """Create a video (``createVideo``): JSON or multipart ``{prompt, model?, seconds?, size?, input_reference?}``.

    Answers 200 with the new ``VideoResource`` (status ``queued``). Errors: 400 for a missing or
    too long prompt, an unknown field, a model outside the Sora 2 models, ``seconds`` not one of the
    strings "4"/"8"/"12", a size outside ``VideoSize`` or a 1792 size without sora-2-pro, a bad
    ``input_reference``; 415 for another Content-Type.
    """
    fields = await read_fields(request)
    reject_unknown(fields, CREATE_FIELDS)
    reject_nulls(fields)
    prompt = check_prompt(fields.get("prompt"))
    model = check_model(fields.get("model"))
    seconds = check_choice("seconds", fields.get("seconds"), SECONDS, "4")
    size = check_choice("size", fields.get("size"), SIZES, "720x1280")
    if size in PRO_SIZES and not model.startswith("sora-2-pro"):
        raise InvalidParameter("size", f"Invalid value for 'size': {size!r} needs a sora-2-pro model; {model} "
                                       "renders '720x1280' or '1280x720'")
    reference = check_input_reference(fields.get("input_reference"))
    mode = not_ready_mode(request)
    params: dict[str, Any] = {key: fields[key] for key in ("model", "seconds", "size") if fields.get(key) is not None}
    if reference is not None:
        params["input_reference"] = reference
    width, height = (int(pixels) for pixels in size.split("x"))
    task = request.app[BACKEND].create_task(
        model=model, family="sora", prompt=prompt, params=params, render=RenderSpec(width, height, int(seconds)),
        dialect="openai", scenario=select_scenario(request, prompt, model, "sora"),
    )
    if mode is not None:
        task.extra["not_ready"] = mode
    return video_response(request, task, task.snapshot(task.created_at))


@routes.get("/v1/videos", name="openai:list_videos")
async def list_videos(request: web.Request) -> web.Response:
    """List videos (``ListVideos``), newest first by default, as a ``VideoListResource``.

    Query: ``after`` (the ``last_id`` of the previous page), ``limit`` (1-100, default 20),
    ``order`` (``asc`` | ``desc``). Errors: 400 for a bad limit or order; 404 when ``after`` names no video.
    """
    query = request.query
    text = query.get("limit", "20")
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 100):
        raise InvalidParameter("limit", f"Invalid value for 'limit': {text!r}; expected an integer from 1 to 100")
    order = check_choice("order", query.get("order"), ("asc", "desc"), "desc")
    backend = request.app[BACKEND]
    try:
        tasks, has_more = backend.page_tasks(after=query.get("after") or None, limit=int(text), order=order)
    except InvalidParameter as exc:  # a well-formed cursor naming no video: not found, like the video itself
        raise ApiError(exc.message, status=404, code="video_not_found", param="after") from None
    now = backend.clock.now()
    data = [video_object(task, task.snapshot(now)) for task in tasks]
    return json_response({"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                              "last_id": data[-1]["id"] if data else None, "has_more": has_more})


@routes.get("/v1/videos/{video_id}", name="openai:retrieve_video")
def retrieve_video(request: web.Request) -> web.Response:
    """Retrieve a video (``GetVideo``): 200 ``VideoResource``; 404 unknown or deleted.

    A plain function: it never awaits, and the pipeline calls it without a coroutine (the hot path).
    """
    task, state = find_video(request)
    return video_response(request, task, state)


@routes.delete("/v1/videos/{video_id}", name="openai:delete_video")
async def delete_video(request: web.Request) -> web.Response:
    """Delete a video (``DeleteVideo``): 200 ``{id, object: "video.deleted", deleted: true}``; then 404."""
    task, _ = find_video(request)
    request.app[BACKEND].delete_task(task.id)
    return json_response({"id": task.id, "object": "video.deleted", "deleted": True})


@routes.post("/v1/videos/{video_id}/remix", name="openai:remix_video")
async def remix_video(request: web.Request) -> web.Response:
    """Remix a completed video (``CreateVideoRemix``): JSON or multipart ``{prompt}``.

    Answers 200 with a new ``VideoResource`` with the source's model, size and seconds and
    ``remixed_from_video_id``. Errors: 404 unknown source or its video expired; 400 if the source
    has not completed or failed, or for a bad prompt or an unknown field.
    """
    source, state = find_video(request)
    fields = await read_fields(request)
    reject_unknown(fields, ("prompt",))
    prompt = check_prompt(fields.get("prompt"))
    mode = not_ready_mode(request)
    try:
        task = request.app[BACKEND].remix_task(source.id, prompt=prompt, dialect="openai",
                                               scenario=select_scenario(request, prompt, source.model, source.family))
    except TaskNotReady:  # worded with this dialect's status
        raise TaskNotReady(source.id, STATUSES[state.status]) from None
    if mode is not None:
        task.extra["not_ready"] = mode
    return video_response(request, task, task.snapshot(task.created_at))


@routes.get("/v1/videos/{video_id}/content", name="openai:retrieve_video_content")
async def retrieve_video_content(request: web.Request) -> web.StreamResponse:
    """Download a video's media (``RetrieveVideoContent``, seed 004).

    Query ``variant``: ``video`` (default, ``video/mp4``), ``thumbnail`` (``image/webp``) or
    ``spritesheet`` (``image/jpeg`` grid), served with Range and ETag support. While the video is
    queued or in progress: 202, 200 JSON or 404 per the not-ready mode (module docstring).
    Errors: 400 bad variant or failed video; 404 unknown, deleted or expired.
    """
    variant = check_choice("variant", request.query.get("variant"), VARIANTS, "video")
    task, _ = find_video(request)
    backend = request.app[BACKEND]
    forced = request.get(NOT_READY_KEY)  # a not_ready fault: "not ready" even when it is
    mode = forced or not_ready_mode(request) or task.extra.get("not_ready") or backend.scenarios.not_ready
    try:
        backend.get_video(task.id)
        if forced is None:
            return await media_response(request, task, variant)
    except TaskNotReady:
        pass
    if mode == "json200":
        return json_response(SEED_004_NOT_READY_BODY)
    raise VideoNotReady(status=int(mode))


@routes.post("/v1/videos/{operation:edits|extensions|characters}", name="openai:not_simulated")
@routes.get("/v1/videos/characters/{character_id}", name="openai:get_video_character")
async def not_simulated(request: web.Request) -> web.Response:
    """Edits, extensions and characters: OpenAI has them; the simulator answers 404 saying it does not."""
    raise RouteNotFound(f"videomock does not simulate {request.method} {request.path} (OpenAI video edits, "
                        "extensions and characters); see mockserver/dialects/openai.py")
