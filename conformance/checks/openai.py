"""Checks of the OpenAI Videos dialect (seed 004 and OpenAI's published schema): ``/v1/videos``."""

from __future__ import annotations

import itertools
import uuid

from conformance.checks import STATUS_RANK, SUCCESS_WORDS, evidence, expect_error, expect_mp4
from conformance.context import CHEAPEST, EXPECTED_MEDIA, PROMPT, Context, TaskRun, status_of
from conformance.contract import validate
from conformance.failures import Finding, NotApplicable
from conformance.registry import check

SEED_401 = 'seed 004: "401: Unauthorized - Invalid or missing API key"'
SEED_404 = 'seed 004: "404: Video not found"'
SEED_NOT_READY = ('seed 004: "202: Video generation still in progress" / "Error Response (200 with JSON) … '
                  'Content-Type: application/json"')
SEED_VIDEO = 'seed 004: "When successful, this endpoint returns video binary data with Content-Type: video/*"'
VIDEO_STATUSES = ("queued", "in_progress", "completed", "failed")


def _unknown_id() -> str:
    return "video_" + uuid.uuid4().hex


def _completed(ctx: Context) -> TaskRun:
    run = ctx.openai_task()
    if status_of(run.final) not in SUCCESS_WORDS:
        raise NotApplicable(f"the shared video did not complete ({status_of(run.final)!r})")
    return run


@check("openai.auth.missing_key_is_401", "A request without Authorization is refused with 401.", SEED_401)
def missing_key_is_401(ctx: Context) -> None:
    ctx.require("openai")
    expect_error(ctx.request("GET", f"/v1/videos/{_unknown_id()}", auth=None), {401}, "a retrieve without a key",
                 SEED_401)


@check("openai.auth.wrong_key_is_401", "A request with an unknown key is refused with 401.", SEED_401)
def wrong_key_is_401(ctx: Context) -> None:
    ctx.require("openai")
    exchange = ctx.request("GET", f"/v1/videos/{_unknown_id()}/content", auth="sk-videomock-not-a-key")
    expect_error(exchange, {401}, "a content download with a wrong key", SEED_401)


@check("openai.errors.use_the_error_envelope", 'Errors answer {"error": {message, type, param, code}}.',
       "reference schema: ErrorResponse (dialects.md §2.4)", level="SHOULD")
def errors_use_the_error_envelope(ctx: Context) -> None:
    ctx.require("openai")
    exchange = ctx.request("GET", f"/v1/videos/{_unknown_id()}")
    body = exchange.json()
    inner = body.get("error") if isinstance(body, dict) else None
    if not isinstance(inner, dict) or set(inner) < {"message", "type", "param", "code"}:
        raise Finding("the error body is not {\"error\": {message, type, param, code}}", evidence(exchange))


@check("openai.retrieve.unknown_video_is_404", "Retrieving an unknown video id is 404.", SEED_404)
def unknown_video_is_404(ctx: Context) -> None:
    ctx.require("openai")
    expect_error(ctx.request("GET", f"/v1/videos/{_unknown_id()}"), {404}, "retrieving an unknown video", SEED_404)


@check("openai.content.unknown_video_is_404", "Downloading content of an unknown video id is 404.", SEED_404)
def content_unknown_video_is_404(ctx: Context) -> None:
    ctx.require("openai")
    expect_error(ctx.request("GET", f"/v1/videos/{_unknown_id()}/content"), {404}, "content of an unknown video",
                 SEED_404)


#: Values OpenAI's schema rules out, each with the parameter it breaks.
INVALID_CREATES = [
    ("seconds_as_integer", {"seconds": 4}, "reference schema: VideoSeconds is a string enum \"4\", \"8\", \"12\""),
    ("seconds_outside_the_enum", {"seconds": "5"}, "reference schema: VideoSeconds \"4\", \"8\", \"12\""),
    ("size_outside_the_enum", {"size": "640x480"},
     "reference schema: VideoSize 720x1280, 1280x720, 1024x1792, 1792x1024"),
    ("missing_prompt", {"prompt": None}, "reference schema: CreateVideoJsonBody requires prompt"),
]


def _invalid_create_check(name: str, change: dict[str, object], source: str) -> None:
    def rejects(ctx: Context) -> None:
        ctx.require("openai")
        body = {**CHEAPEST["openai"], "prompt": PROMPT, **change}
        exchange = ctx.request("POST", "/v1/videos", json={k: v for k, v in body.items() if v is not None})
        if exchange.status == 200:
            ctx.created += 1
        expect_error(exchange, {400, 422}, f"a create with {change}", source)

    check(f"openai.create.rejects_{name}", f"A create with {change} is a 400.", source, risk_tasks=1)(rejects)


for _name, _change, _source in INVALID_CREATES:
    _invalid_create_check(_name, _change, _source)


@check("openai.list.answers_a_list_object", "GET /v1/videos answers {object: list, data, first_id, last_id, "
       "has_more}.", "reference schema: VideoListResource", level="SHOULD")
def list_answers_a_list_object(ctx: Context) -> None:
    ctx.require("openai")
    exchange = ctx.request("GET", "/v1/videos", params={"limit": 2})
    if exchange.status == 404:
        raise NotApplicable("this gateway has no list endpoint (new-api has none, dialects.md §1.1)")
    if exchange.status != 200:
        raise Finding(f"listing videos answered HTTP {exchange.status}", evidence(exchange))
    validate("VideoListResource", exchange.json(), exchange)


@check("openai.create.answers_a_video_object", "Create and retrieve answer Video objects with every schema key.",
       "reference schema: VideoResource", tasks=("openai",))
def create_answers_a_video_object(ctx: Context) -> None:
    run = ctx.openai_task()
    validate("VideoResource", run.submit.json(), run.submit)
    for exchange, body in run.polls:
        validate("VideoResource", body, exchange)


@check("openai.retrieve.status_only_moves_forward",
       "Statuses are queued/in_progress/completed/failed, only forward, final once terminal.",
       "reference schema: VideoStatus", tasks=("openai",))
def status_only_moves_forward(ctx: Context) -> None:
    run = ctx.openai_task()
    ranks = []
    for exchange, body in run.polls:
        status = status_of(body)
        if status not in VIDEO_STATUSES:
            raise Finding(f"status {status!r} is not a VideoStatus", evidence(exchange))
        ranks.append((STATUS_RANK[status], exchange))
    for (before, _), (after, exchange) in itertools.pairwise(ranks):
        if after < before:
            raise Finding("the video's status went back", evidence(exchange))
    again = ctx.request("GET", f"/v1/videos/{run.task_id}")
    if status_of(again.json()) != status_of(run.final):
        raise Finding("a terminal status changed", evidence(again))


@check("openai.content.not_ready_is_signalled_as_documented",
       "Before completion, content answers 202, 200 with a JSON error, or 404 — never video bytes or 5xx.",
       SEED_NOT_READY, own_tasks=1)
def not_ready_is_signalled_as_documented(ctx: Context) -> None:
    ctx.require("openai")
    run = ctx.submit_openai({**CHEAPEST["openai"], "prompt": PROMPT})
    exchange = ctx.request("GET", f"/v1/videos/{run.task_id}/content")
    retrieve = ctx.request("GET", f"/v1/videos/{run.task_id}")
    if status_of(retrieve.json()) in SUCCESS_WORDS:
        raise NotApplicable("the video completed before its content could be asked for")
    if exchange.content_type.startswith("video/"):
        raise Finding("content of a video that is not ready was served as video", evidence(exchange))
    if exchange.status not in (200, 202, 400, 404):
        raise Finding(f"content of a video that is not ready answered HTTP {exchange.status}", evidence(exchange))
    if exchange.status in (200, 202):
        body = exchange.json()
        text = str(body)
        if "error" not in text and "progress" not in text:
            raise Finding("the not-ready answer carries no error information", evidence(exchange))
    ctx.observations["content_not_ready"] = {200: "json200", 202: "202"}.get(exchange.status, str(exchange.status))


@check("openai.content.json_is_never_disguised_as_video",
       "Whenever Content-Type says video, the body is an MP4 (ftyp box), never JSON.", SEED_VIDEO, tasks=("openai",))
def json_is_never_disguised_as_video(ctx: Context) -> None:
    run = ctx.openai_task()
    exchange = ctx.request("GET", f"/v1/videos/{run.task_id}/content")
    if exchange.content_type.startswith("video/") and exchange.body[4:8] != b"ftyp":
        raise Finding(f"the body served as {exchange.content_type} is not an MP4 (starts {exchange.body[:24]!r})",
                      evidence(exchange))


@check("openai.content.video_is_the_requested_mp4",
       "Content of a completed video is video/mp4 at the requested size and duration.", SEED_VIDEO,
       tasks=("openai",))
def video_is_the_requested_mp4(ctx: Context) -> None:
    run = _completed(ctx)
    exchange = ctx.request("GET", f"/v1/videos/{run.task_id}/content")
    if exchange.status != 200 or not exchange.content_type.startswith("video/"):
        raise Finding(f"content of a completed video answered HTTP {exchange.status} {exchange.content_type}",
                      evidence(exchange))
    expect_mp4(exchange.body, EXPECTED_MEDIA["openai"], "the content", exchange)


@check("openai.content.thumbnail_is_an_image", "variant=thumbnail answers image/webp.",
       "reference schema: RetrieveVideoContent content types (image/webp)", level="SHOULD", tasks=("openai",))
def thumbnail_is_an_image(ctx: Context) -> None:
    run = _completed(ctx)
    exchange = ctx.request("GET", f"/v1/videos/{run.task_id}/content", params={"variant": "thumbnail"})
    if exchange.status != 200 or exchange.content_type != "image/webp" or exchange.body[8:12] != b"WEBP":
        raise Finding(f"the thumbnail answered HTTP {exchange.status} {exchange.content_type}", evidence(exchange))


@check("openai.content.expired_or_deleted_video_is_404", "After DELETE, retrieve and content answer 404.",
       'seed 004: "If a video has expired (past expires_at), you will receive a 404"', level="SHOULD", own_tasks=1)
def expired_or_deleted_video_is_404(ctx: Context) -> None:
    ctx.require("openai")
    run = ctx.submit_openai({**CHEAPEST["openai"], "prompt": PROMPT})
    deleted = ctx.request("DELETE", f"/v1/videos/{run.task_id}")
    if deleted.status in (404, 405):
        raise NotApplicable("this gateway cannot delete videos (new-api has no DELETE, dialects.md §1.1)")
    for path in (f"/v1/videos/{run.task_id}", f"/v1/videos/{run.task_id}/content"):
        expect_error(ctx.request("GET", path), {404}, f"GET {path} after delete", SEED_404)
