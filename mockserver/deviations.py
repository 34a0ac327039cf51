"""Deliberate deviations: ``videomock serve --deviate NAME`` breaks one documented behaviour each.

They exist to prove that the conformance kit catches what it claims to catch: with one deviation
switched on, the kit fails exactly the checks listed in :data:`DEVIATIONS` and nothing else. Each is
a small rewrite of a request or a response in one middleware, so the simulator's own code stays
faithful.
"""

from __future__ import annotations

import base64
import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from aiohttp import web

from mockserver.keys import BACKEND, CONFIG, MEDIA
from mockserver.pipeline import JournaledFileResponse

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Deviation:
    """One deliberate deviation.

    Attributes:
        name: The ``--deviate`` name.
        breaks: What it breaks, in one line, with the source clause.
        caught_by: The conformance checks that fail with it on (and only those).
    """

    name: str
    breaks: str
    caught_by: tuple[str, ...]


_REJECTS = tuple(f"gateway.submit.rejects_{slug}" for slug in (
    "sora_2_duration", "sora_2_resolution", "sora_2_aspect_ratio", "veo_3_1_fast_generate_preview_durationseconds",
    "veo_3_0_fast_generate_001_lastframeimage", "wanx_video_v1_duration", "wanx_video_v1_size",
    "seedance_1_0_duration", "seedance_1_0_aspect_ratio"))

DEVIATIONS: dict[str, Deviation] = {d.name: d for d in (
    Deviation("no-auth", "any key, or none, is accepted (seeds: Bearer auth)",
              ("gateway.auth.missing_key_is_rejected", "gateway.auth.wrong_key_is_rejected",
               "openai.auth.missing_key_is_401", "openai.auth.wrong_key_is_401")),
    Deviation("bare-401", "401 answers carry no error body (seed 004: 401 Unauthorized)",
              ("gateway.auth.missing_key_is_rejected", "gateway.auth.wrong_key_is_rejected",
               "openai.auth.missing_key_is_401", "openai.auth.wrong_key_is_401")),
    Deviation("unknown-task-200", "querying an unknown gateway task answers 200 queued",
              ("gateway.query.unknown_task_is_an_error",)),
    Deviation("coerce-params", "out-of-set gateway parameters are silently dropped (seed 003 value lists)",
              _REJECTS),
    Deviation("no-format", "the submit answer lacks \"format\": \"mp4\" (seed 003)",
              ("gateway.submit.answers_task_id_status_format", "gateway.contract.responses_match_the_contract")),
    Deviation("status-goes-back", "in_progress tasks sometimes read as queued again (seed 003 lifecycle)",
              ("gateway.query.status_only_moves_forward",)),
    Deviation("terminal-flips", "a succeeded task later reads as failed (a terminal status must not change)",
              ("gateway.query.terminal_status_is_final",)),
    Deviation("progress-overflow", "progress is reported up to 200 (a percentage)",
              ("gateway.query.progress_is_a_percentage", "gateway.contract.responses_match_the_contract")),
    Deviation("no-url", "succeeded non-Sora tasks carry no url (seed 000)",
              ("gateway.query.succeeded_tasks_carry_a_video_url",)),
    Deviation("failed-without-error", "failed tasks carry no error (seed 003 example)",
              ("gateway.query.failed_tasks_carry_an_error",)),
    Deviation("wrong-resolution", "the video behind url has half the requested width and height",
              ("gateway.media.video_matches_the_request",)),
    Deviation("download-size-off", "download's size is one byte more than the decoded length (seed 000)",
              ("gateway.download.size_is_the_decoded_length",)),
    Deviation("download-data-url", "download's data_url has an application/octet-stream prefix (seed 000)",
              ("gateway.download.data_url_is_the_base64_as_a_data_uri",
               "gateway.contract.responses_match_the_contract")),
    Deviation("download-not-mp4", "download's base64 decodes to bytes that are not a video (seed 000)",
              ("gateway.download.base64_decodes_to_the_requested_mp4",)),
    Deviation("download-any-model", "the download endpoint serves Veo/Wanxiang/Seedance tasks too (seed 000)",
              ("gateway.download.refused_for_other_models",)),
    Deviation("unknown-video-400", "an unknown or deleted OpenAI video id is 400 instead of 404 (seed 004)",
              ("openai.retrieve.unknown_video_is_404", "openai.content.expired_or_deleted_video_is_404")),
    Deviation("json-as-video", "content that is not ready is JSON labelled video/mp4 (seed 004)",
              ("openai.content.not_ready_is_signalled_as_documented",)),
    Deviation("wrong-duration", "content of a completed video lasts twice as long as asked",
              ("openai.content.video_is_the_requested_mp4",)),
    Deviation("thumbnail-png", "the thumbnail variant is a PNG labelled image/png, not image/webp",
              ("openai.content.thumbnail_is_an_image",)),
    Deviation("omit-null-keys", "Video objects omit their null keys (reference schema: all keys required)",
              ("openai.create.answers_a_video_object",)),
)}


def check_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """The names, checked.

    Raises:
        ValueError: an unknown deviation (the message lists them).
    """
    unknown = [n for n in names if n not in DEVIATIONS]
    if unknown:
        raise ValueError(f"unknown deviations {unknown}; one of {', '.join(DEVIATIONS)}")
    return names


class DeviationState:
    """Per-app memory of the deviations that need it (read counts per task)."""

    def __init__(self) -> None:
        self.reads: Counter[str] = Counter()


STATE = web.AppKey("deviation_state", DeviationState)


def _json(response: web.StreamResponse) -> object | None:
    if isinstance(response, web.Response) and response.content_type == "application/json" and response.body:
        try:
            return orjson.loads(response.body)  # type: ignore[arg-type]
        except orjson.JSONDecodeError:
            return None
    return None


def _answer(data: object, status: int = 200, content_type: str = "application/json") -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=content_type)


@web.middleware
async def deviation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the configured deviations (none configured: a pass-through)."""
    active = request.app[CONFIG].deviations
    if not active or request.path.startswith("/_videomock/"):
        return await handler(request)
    if "coerce-params" in active and request.method == "POST" and request.path == "/v1/video/generations":
        return await _coerce(request, handler)
    response = await handler(request)
    operation = request.match_info.route.name or ""
    body = _json(response)
    if "bare-401" in active and response.status == 401:
        return web.Response(status=401)
    if operation == "gateway:query_task":
        return _query(request, response, body, active)
    if operation == "gateway:submit_task" and "no-format" in active and response.status == 200 \
            and isinstance(body, dict):
        body.pop("format", None)
        return _answer(body)
    if operation == "gateway:download_video":
        return await _download(request, response, body, active)
    if operation == "media:serve_media" and "wrong-resolution" in active and response.status == 200:
        return await _other_media(request, half=True)
    if operation == "openai:retrieve_video" and response.status == 404 and "unknown-video-400" in active \
            and request.app[BACKEND].find(request.match_info["video_id"]) is None:
        return _answer(body, 400)
    if operation in ("openai:retrieve_video", "openai:create_video") and "omit-null-keys" in active \
            and response.status == 200 and isinstance(body, dict):
        return _answer({k: v for k, v in body.items() if v is not None}, response.status)
    if operation == "openai:retrieve_video_content":
        return await _content(request, response, active)
    return response


async def _coerce(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Drop whatever parameter the simulator refuses, the way some gateways coerce silently."""
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError:
        return await handler(request)
    for _ in range(8):
        response = await handler(request)
        error = _json(response)
        param = error.get("error", {}).get("param") if isinstance(error, dict) else None
        if response.status != 400 or not isinstance(body, dict) or param not in body or param in ("model", "prompt"):
            return response
        del body[param]
        request._read_bytes = orjson.dumps(body)  # replace the cached body that the handler reads
    return response


def _query(request: web.Request, response: web.StreamResponse, body: object,
           active: tuple[str, ...]) -> web.StreamResponse:
    task_id = request.match_info["task_id"]
    if response.status == 404 and "unknown-task-200" in active:
        return _answer({"task_id": task_id, "status": "queued", "format": "mp4", "progress": 0})
    if not isinstance(body, dict) or response.status != 200:
        return response
    reads = request.app[STATE].reads
    reads[task_id] += 1
    status = body.get("status")
    if "status-goes-back" in active and status == "in_progress" and reads[task_id] % 2 == 0:
        body["status"] = "queued"
    if "terminal-flips" in active and status == "succeeded":
        reads["terminal:" + task_id] += 1
        if reads["terminal:" + task_id] > 1:
            body["status"] = "failed"
    if "progress-overflow" in active and isinstance(body.get("progress"), int):
        body["progress"] *= 2
    if "no-url" in active:
        body.pop("url", None)
    if "failed-without-error" in active and status == "failed":
        body.pop("error", None)
    return _answer(body)


async def _download(request: web.Request, response: web.StreamResponse, body: object,
                    active: tuple[str, ...]) -> web.StreamResponse:
    if response.status == 404 and "download-any-model" in active and isinstance(body, dict) \
            and body.get("error", {}).get("code") == "download_not_supported":
        task = request.app[BACKEND].find(request.query["id"])
        assert task is not None
        data = await request.app[MEDIA].video(task.render, task.prompt)
        encoded = base64.b64encode(data).decode()
        return _answer({"success": True, "generation_id": task.id, "task_id": task.id, "format": "mp4",
                        "size": len(data), "base64": encoded, "data_url": "data:video/mp4;base64," + encoded})
    if response.status != 200 or not isinstance(body, dict):
        return response
    if "download-size-off" in active:
        body["size"] += 1
    if "download-data-url" in active:
        body["data_url"] = "data:application/octet-stream;base64," + body["base64"]
    if "download-not-mp4" in active:
        junk = b"not a video " * 64
        body["base64"] = base64.b64encode(junk).decode()
        body["size"] = len(junk)
        body["data_url"] = "data:video/mp4;base64," + body["base64"]
    return _answer(body)


async def _other_media(request: web.Request, *, half: bool = False, double: bool = False) -> web.StreamResponse:
    task_id = request.match_info.get("task_id") or request.match_info["video_id"]
    task = request.app[BACKEND].find(task_id)
    assert task is not None
    render = task.render
    if half:
        render = dataclasses.replace(render, width=render.width // 4 * 2, height=render.height // 4 * 2)
    if double:
        render = dataclasses.replace(render, seconds=render.seconds * 2)
    path = await request.app[MEDIA].path(render, task.prompt)
    return JournaledFileResponse(path, headers={"Content-Type": "video/mp4"})


async def _content(request: web.Request, response: web.StreamResponse,
                   active: tuple[str, ...]) -> web.StreamResponse:
    variant = request.query.get("variant", "video")
    if "json-as-video" in active and response.content_type == "application/json" and response.status in (200, 202):
        assert isinstance(response, web.Response) and response.body is not None
        return web.Response(body=response.body, status=200, content_type="video/mp4")
    if response.status != 200 or response.content_type == "application/json":
        return response
    if "wrong-duration" in active and variant == "video":
        return await _other_media(request, double=True)
    if "thumbnail-png" in active and variant == "thumbnail":
        import io

        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (64, 36), (200, 30, 30)).save(buffer, format="PNG")
        return web.Response(body=buffer.getvalue(), content_type="image/png")
    return response
