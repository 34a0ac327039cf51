"""Checks of the gateway dialect (seeds 000-003): ``/v1/video/generations``."""

from __future__ import annotations

import itertools
import re
import uuid
from typing import Any

from conformance.checks import (
    FAILURE_WORDS,
    STATUS_RANK,
    SUCCESS_WORDS,
    b64decode,
    error_message,
    evidence,
    expect_error,
    expect_mp4,
)
from conformance.context import CHEAPEST, EXPECTED_MEDIA, PROMPT, Context, TaskRun, status_of
from conformance.contract import validate
from conformance.failures import Finding, NotApplicable
from conformance.registry import check

ALL = ("sora", "veo", "wanxiang", "seedance")
NON_SORA = ("veo", "wanxiang", "seedance")
SEED_AUTH = 'seed 000: "Authentication: Bearer Token, e.g., Bearer sk-xxxxxxxxxx"'
SEED_POLL = 'seed 003: "Video generation is an asynchronous task, polling for status is required"'
SEED_URL = ('seed 000: "Other models (Veo, Alibaba Wanxiang, Doubao Seedance) return the video URL directly in '
            'the query task response"')
SEED_DOWNLOAD = 'seed 000: "This endpoint is only supported by Sora 2 model."'


def _unknown_id() -> str:
    return "video_" + uuid.uuid4().hex


def _tasks(ctx: Context, kinds: tuple[str, ...]) -> list[TaskRun]:
    selected = [kind for kind in kinds if kind in ctx.models]
    if not selected:
        raise NotApplicable(f"none of the model families {', '.join(kinds)} is selected (--models)")
    return [ctx.gateway_task(kind) for kind in selected]


def _body(run: TaskRun) -> dict[str, Any]:
    """The task object of the final status body, flat or inside new-api's ``data``."""
    final = run.final
    if isinstance(final, dict) and isinstance(final.get("data"), dict) and "status" in final["data"]:
        return final["data"]
    return final if isinstance(final, dict) else {}


# --- authentication and errors (free) ----------------------------------------------------------


@check("gateway.auth.missing_key_is_rejected", "A request without Authorization is refused with 401.", SEED_AUTH)
def missing_key_is_rejected(ctx: Context) -> None:
    ctx.require("gateway")
    exchange = ctx.request("GET", f"/v1/video/generations/{_unknown_id()}", auth=None)
    expect_error(exchange, {401}, "a query without a key", SEED_AUTH)


@check("gateway.auth.wrong_key_is_rejected", "A request with an unknown key is refused with 401.", SEED_AUTH)
def wrong_key_is_rejected(ctx: Context) -> None:
    ctx.require("gateway")
    exchange = ctx.request("POST", "/v1/video/generations", auth="sk-videomock-not-a-key",
                           json={**CHEAPEST["wanxiang"], "prompt": PROMPT})
    expect_error(exchange, {401}, "a submit with a wrong key", SEED_AUTH)
    ctx.observations["auth_envelope"] = _envelope(exchange)


@check("gateway.query.unknown_task_is_an_error", "Querying an unknown task_id is a 4xx error, never 200 or 5xx.",
       'seed 003: "Poll Status : GET /v1/video/generations/{task_id}"')
def unknown_task_is_an_error(ctx: Context) -> None:
    ctx.require("gateway")
    exchange = ctx.request("GET", f"/v1/video/generations/{_unknown_id()}")
    expect_error(exchange, {400, 404}, "querying an unknown task", "seed 003")
    ctx.observations["unknown_task_status"] = exchange.status
    ctx.observations["error_envelope"] = _envelope(exchange)


@check("gateway.submit.unknown_model_is_rejected", "Submitting an undocumented model is a 4xx error.",
       'seed 003: "Supported Models" (the nine model IDs)', risk_tasks=1)
def unknown_model_is_rejected(ctx: Context) -> None:
    ctx.require("gateway")
    exchange = ctx.request("POST", "/v1/video/generations", json={"model": "videomock-no-such-model",
                                                                  "prompt": PROMPT})
    if exchange.status == 200:
        ctx.created += 1
    expect_error(exchange, {400, 403, 404, 503}, "submitting an unknown model", "seed 003 Supported Models")


@check("gateway.submit.missing_prompt_is_rejected", "A submit without a prompt is a 400 error.",
       'seed 003: "Prompts should describe scene content, camera movements, style"', risk_tasks=1)
def missing_prompt_is_rejected(ctx: Context) -> None:
    ctx.require("gateway")
    exchange = ctx.request("POST", "/v1/video/generations", json={"model": "wanx-video-v1", "duration": 3})
    if exchange.status == 200:
        ctx.created += 1
    expect_error(exchange, {400}, "a submit without a prompt", "seed 003")


@check("gateway.submit.malformed_json_is_rejected", "A submit whose body is not JSON is a 400 error.",
       'seed 003: "-H \\"Content-Type: application/json\\""')
def malformed_json_is_rejected(ctx: Context) -> None:
    ctx.require("gateway")
    exchange = ctx.request("POST", "/v1/video/generations", content=b'{"model": "sora-2", "prompt": ',
                           headers={"Content-Type": "application/json"})
    expect_error(exchange, {400}, "a malformed JSON body", "seed 003")


#: Documented parameter constraints of seed 003, each with a value outside the documented set.
CONSTRAINTS: list[tuple[str, str, Any, str]] = [
    ("sora-2", "duration", 7, 'seed 003 Sora 2: "Video duration (seconds): 5, 10, 15, 20"'),
    ("sora-2", "resolution", "4k", 'seed 003 Sora 2: "Resolution: 480p, 720p, 1080p"'),
    ("sora-2", "aspect_ratio", "4:3", 'seed 003 Sora 2: "Aspect ratio: 16:9, 9:16, 1:1"'),
    ("veo-3.1-fast-generate-preview", "durationSeconds", 10, 'seed 003 Model Comparison: "Max Duration … Veo 8s"'),
    ("veo-3.0-fast-generate-001", "lastFrameImage", "https://example.com/last.jpg",
     'seed 003 Veo: "Last frame reference image (only supported by veo-3.1 series)"'),
    ("wanx-video-v1", "duration", 4, 'seed 003 Wanxiang: "Video duration (seconds): 3, 5, 10"'),
    ("wanx-video-v1", "size", "1920x1080", 'seed 003 Wanxiang: "Video size: 1280x720, 720x1280, 960x960"'),
    ("seedance-1.0", "duration", 10, 'seed 003 Seedance: "Video duration (seconds): 4, 6, 8"'),
    ("seedance-1.0", "aspect_ratio", "21:9", 'seed 003 Seedance: "Aspect ratio: 16:9, 9:16, 1:1"'),
]


def _constraint_check(model: str, param: str, value: Any, source: str) -> None:
    slug = re.sub(r"[^a-z0-9]+", "_", f"{model}_{param}".lower()).strip("_")

    def rejects(ctx: Context) -> None:
        ctx.require("gateway")
        body = {"model": model, "prompt": PROMPT, param: value}
        if param == "lastFrameImage":
            body["image"] = "https://example.com/first.jpg"
        exchange = ctx.request("POST", "/v1/video/generations", json=body)
        if exchange.status == 200:
            ctx.created += 1
            raise Finding(f"{model} accepted {param}={value!r}, outside the documented values (rejected or "
                          f"silently coerced?)", evidence(exchange))
        expect_error(exchange, {400, 422}, f"{model} with {param}={value!r}", source)

    check(f"gateway.submit.rejects_{slug}", f"{model}: {param}={value!r} (outside the documented set) is a 400.",
          source, risk_tasks=1)(rejects)


for _model, _param, _value, _source in CONSTRAINTS:
    _constraint_check(_model, _param, _value, _source)


@check("gateway.download.missing_id_is_rejected", "The download endpoint without ?id= is a 400 error.",
       'seed 000: "id string required Video ID, the task_id returned by the query task endpoint"')
def download_missing_id_is_rejected(ctx: Context) -> None:
    ctx.require("gateway")
    expect_error(ctx.request("GET", "/v1/video/generations/download"), {400}, "a download without id", "seed 000")


@check("gateway.download.unknown_id_is_an_error", "Downloading an unknown id is a 4xx error.",
       'seed 000: "id … the task_id returned by the query task endpoint"')
def download_unknown_id_is_an_error(ctx: Context) -> None:
    ctx.require("gateway")
    exchange = ctx.request("GET", "/v1/video/generations/download", params={"id": _unknown_id()})
    expect_error(exchange, {400, 404}, "downloading an unknown id", "seed 000")


# --- submit and lifecycle (shared tasks) --------------------------------------------------------


@check("gateway.submit.answers_task_id_status_format",
       'Submit answers {"task_id", "status", "format": "mp4"} with a submit-time status word.',
       'seed 003: Response {"task_id": "video_xxx", "status": "submitted", "format": "mp4"}', tasks=ALL)
def submit_answers_task_id_status_format(ctx: Context) -> None:
    for run in _tasks(ctx, ALL):
        body = run.submit.json()
        task_id = body.get("task_id") if isinstance(body, dict) else None
        if not isinstance(task_id, str):
            raise Finding("the submit answer has no task_id string", evidence(run.submit))
        status = body.get("status")
        if status not in ("submitted", "queued", "pending", "SUBMITTED", "QUEUED"):
            raise Finding(f"the submit status {status!r} is not a submit-time status word", evidence(run.submit))
        ctx.observations.setdefault("submit_status", status)
        ctx.observations.setdefault("submit_shape", "video_object" if body.get("object") == "video" else "flat")
        if "format" in body and body["format"] != "mp4":
            raise Finding(f"format is {body['format']!r}, documented as mp4", evidence(run.submit))
        if "format" not in body and "object" not in body:
            raise Finding("the submit answer lacks format (seed 003: \"format\": \"mp4\")", evidence(run.submit))


@check("gateway.query.status_words_are_documented",
       "Every status read is a documented status word (or a known gateway variant's).", SEED_POLL, tasks=ALL)
def status_words_are_documented(ctx: Context) -> None:
    for run in _tasks(ctx, ALL):
        for exchange, body in run.polls:
            status = status_of(body)
            if status not in STATUS_RANK:
                raise Finding(f"status {status!r} is not a documented status word", evidence(exchange))
            ctx.observations["status_case"] = "upper" if status.isupper() else "lower"
            ctx.observations["query_shape"] = "wrapped" if "data" in body and "code" in body else "flat"


@check("gateway.query.status_only_moves_forward",
       "Statuses only move forward: submitted → queued → in_progress → succeeded/failed.", SEED_POLL, tasks=ALL)
def status_only_moves_forward(ctx: Context) -> None:
    for run in _tasks(ctx, ALL):
        ranks = [(STATUS_RANK.get(status_of(body) or "", -1), exchange) for exchange, body in run.polls]
        for (before, _), (after, exchange) in itertools.pairwise(ranks):
            if after < before:
                raise Finding(f"task {run.task_id} went back to {status_of(exchange.json())!r}",
                              evidence(*(e for _, e in ranks[-4:])))


@check("gateway.query.terminal_status_is_final", "Once succeeded or failed, a task's status never changes.",
       'seed 003: "When the status is succeeded, proceed to the next step."', tasks=ALL)
def terminal_status_is_final(ctx: Context) -> None:
    for run in _tasks(ctx, ALL):
        terminal = status_of(run.final)
        for _ in range(2):
            exchange = ctx.request("GET", f"/v1/video/generations/{run.task_id}")
            if exchange.status != 200 or status_of(exchange.json()) != terminal:
                raise Finding(f"task {run.task_id} was {terminal!r}, then answered HTTP {exchange.status} "
                              f"{status_of(exchange.json()) if exchange.status == 200 else ''!r}", evidence(exchange))


@check("gateway.query.progress_is_a_percentage", "progress, when present, is 0-100 and never decreases.",
       'dialects.md §1.6: progress bands queued 0-20, in_progress 20-99, succeeded/failed 100', level="SHOULD",
       tasks=ALL)
def progress_is_a_percentage(ctx: Context) -> None:
    for run in _tasks(ctx, ALL):
        values = []
        for exchange, body in run.polls:
            inner = body.get("data") if isinstance(body.get("data"), dict) else body
            raw = inner.get("progress")
            if raw is None:
                continue
            number = int(raw.rstrip("%")) if isinstance(raw, str) and raw.rstrip("%").isdigit() else raw
            if not isinstance(number, int | float) or not 0 <= number <= 100:
                raise Finding(f"progress {raw!r} is not a percentage", evidence(exchange))
            if values and number < values[-1]:
                raise Finding(f"progress went down from {values[-1]} to {number}", evidence(exchange))
            values.append(number)
        ctx.observations["progress"] = bool(values)


@check("gateway.query.succeeded_tasks_carry_a_video_url",
       "A succeeded Veo/Wanxiang/Seedance task carries a url that serves the MP4.", SEED_URL, tasks=NON_SORA)
def succeeded_tasks_carry_a_video_url(ctx: Context) -> None:
    for run in _tasks(ctx, NON_SORA):
        body = _body(run)
        if status_of(run.final) not in SUCCESS_WORDS:
            raise NotApplicable(f"the {run.kind} task did not succeed ({status_of(run.final)!r})")
        url = body.get("url") or body.get("result_url") or (body.get("metadata") or {}).get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "data:video/")):
            raise Finding(f"the succeeded {run.kind} task has no video url", evidence(run.polls[-1][0]))
        if url.startswith("data:"):
            continue
        exchange = ctx.request("GET", url, auth=None if "sig=" in url else "default")
        if exchange.status != 200 or not exchange.content_type.startswith("video/"):
            raise Finding(f"the {run.kind} video url answered HTTP {exchange.status} {exchange.content_type}",
                          evidence(exchange))


@check("gateway.media.video_matches_the_request",
       "The video at the url decodes to the requested resolution and duration.",
       'seed 003: "Resolution", "Video duration (seconds)" of each model', tasks=NON_SORA)
def video_matches_the_request(ctx: Context) -> None:
    for run in _tasks(ctx, NON_SORA):
        body = _body(run)
        url = body.get("url") or body.get("result_url") or (body.get("metadata") or {}).get("url")
        if not isinstance(url, str):
            raise NotApplicable(f"the {run.kind} task has no url (see succeeded_tasks_carry_a_video_url)")
        if url.startswith("data:"):
            exchange = run.polls[-1][0]
            data = b64decode(url.split(",", 1)[1], "the data URI", exchange)
        else:
            exchange = ctx.request("GET", url, auth=None if "sig=" in url else "default")
            data = exchange.body
        expect_mp4(data, EXPECTED_MEDIA[run.kind], f"the {run.kind} video", exchange)


@check("gateway.query.failed_tasks_carry_an_error", "A failed task carries error with a code and a message.",
       'seed 003 Python example: raise Exception(f"Generation failed: {result.get(\'error\')}")', own_tasks=1)
def failed_tasks_carry_an_error(ctx: Context) -> None:
    ctx.require("gateway")
    failed = [run for run in ctx._tasks.values() if run.kind in ALL and status_of(run.final) in FAILURE_WORDS]
    if not failed:
        # Ask for a failure the way the simulator understands; a real gateway usually cannot be made to fail.
        body = {**CHEAPEST["wanxiang"], "prompt": "A test [videomock scenario=content_policy]"}
        run = ctx.follow(ctx.submit_gateway("wanxiang", body))
        if status_of(run.final) not in FAILURE_WORDS:
            raise NotApplicable("no task failed and this gateway could not be asked for a failure")
        failed = [run]
    for run in failed:
        body = _body(run)
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else body.get("fail_reason")
        if not message:
            raise Finding("a failed task carries no error message", evidence(run.polls[-1][0]))
        if isinstance(error, dict):
            ctx.observations["failed_error_code"] = type(error.get("code")).__name__
            if error.get("code") in (None, ""):
                raise Finding("a failed task's error has no code", evidence(run.polls[-1][0]))


# --- download (Sora 2 only) --------------------------------------------------------------------


def _download(ctx: Context) -> tuple[Any, Any]:
    run = _tasks(ctx, ("sora",))[0]
    if status_of(run.final) not in SUCCESS_WORDS:
        raise NotApplicable(f"the Sora 2 task did not succeed ({status_of(run.final)!r})")
    key = "sora_download"
    if key not in ctx.observations:
        ctx.observations[key] = ctx.request("GET", "/v1/video/generations/download", params={"id": run.task_id})
    exchange = ctx.observations[key]
    if exchange.status != 200:
        raise Finding(f"downloading the succeeded Sora 2 task failed with HTTP {exchange.status}",
                      evidence(exchange))
    return run, exchange


@check("gateway.download.answers_every_documented_field",
       "Download answers success, generation_id, task_id, format, size, base64, data_url.",
       'seed 000: Response Fields "success, generation_id, task_id, format, size, base64, data_url"', tasks=("sora",))
def download_answers_every_documented_field(ctx: Context) -> None:
    run, exchange = _download(ctx)
    body = exchange.json()
    missing = [f for f in ("success", "generation_id", "task_id", "format", "size", "base64", "data_url")
               if f not in body]
    if missing:
        raise Finding(f"the download answer lacks {', '.join(missing)}", evidence(exchange))
    if body["success"] is not True or body["format"] != "mp4":
        raise Finding("success must be true and format \"mp4\" (seed 000: fixed to \"mp4\")", evidence(exchange))
    if body["task_id"] != run.task_id or body["generation_id"] != run.task_id:
        raise Finding("task_id and generation_id must be the requested id (seed 000: \"same as videoId\")",
                      evidence(exchange))


@check("gateway.download.size_is_the_decoded_length", "size equals the number of bytes base64 decodes to.",
       'seed 000: "size number Video file size (bytes)"', tasks=("sora",))
def size_is_the_decoded_length(ctx: Context) -> None:
    _, exchange = _download(ctx)
    body = exchange.json()
    data = b64decode(body.get("base64", ""), "base64", exchange)
    if body.get("size") != len(data):
        raise Finding(f"size is {body.get('size')}, the base64 decodes to {len(data)} bytes", evidence(exchange))


@check("gateway.download.data_url_is_the_base64_as_a_data_uri",
       "data_url is 'data:video/mp4;base64,' followed by the base64 field.",
       'seed 000: "data_url string Data URL format video data, can be used directly in frontend <video> tag"',
       tasks=("sora",))
def data_url_is_the_base64_as_a_data_uri(ctx: Context) -> None:
    _, exchange = _download(ctx)
    body = exchange.json()
    if body.get("data_url") != "data:video/mp4;base64," + str(body.get("base64")):
        raise Finding("data_url is not 'data:video/mp4;base64,' + base64", evidence(exchange))


@check("gateway.download.base64_decodes_to_the_requested_mp4",
       "The base64 decodes to an MP4 of the requested resolution and duration.",
       'seed 000: "base64 string Base64 encoded video data"; "Video format is fixed to MP4"', tasks=("sora",))
def base64_decodes_to_the_requested_mp4(ctx: Context) -> None:
    _, exchange = _download(ctx)
    expect_mp4(b64decode(exchange.json().get("base64", ""), "base64", exchange), EXPECTED_MEDIA["sora"],
               "the downloaded Sora 2 video", exchange)


@check("gateway.download.refused_for_other_models", "The download endpoint refuses non-Sora tasks with a 4xx.",
       SEED_DOWNLOAD, level="SHOULD", tasks=NON_SORA)
def refused_for_other_models(ctx: Context) -> None:
    run = _tasks(ctx, NON_SORA)[0]
    exchange = ctx.request("GET", "/v1/video/generations/download", params={"id": run.task_id})
    expect_error(exchange, {400, 404, 422}, f"downloading a {run.kind} task", SEED_DOWNLOAD)


def _envelope(exchange: Any) -> str:
    try:
        body = exchange.json()
    except Finding:
        return "none"
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return "error:" + ",".join(sorted(body["error"]))
    if isinstance(body, dict):
        return "flat:" + ",".join(sorted(body))
    return "other"


__all__ = ["error_message"]


@check("gateway.contract.responses_match_the_contract",
       "Submit, query and download answers validate against the contract's schemas (documented behaviour).",
       "openapi/videomock.yaml: GatewaySubmitResponse, GatewayTask, GatewayDownloadResponse", level="SHOULD",
       tasks=ALL)
def responses_match_the_contract(ctx: Context) -> None:
    runs = _tasks(ctx, ALL)
    submit = runs[0].submit.json()
    documented = (isinstance(submit, dict) and submit.get("object") != "video"
                  and all(isinstance(body, dict) and "data" not in body and "progress" in body
                          for run in runs for _, body in run.polls))
    if not documented:
        raise NotApplicable("this gateway follows a known variant (see the profile in the report); the contract "
                            "describes the documented behaviour")
    for run in runs:
        validate("GatewaySubmitResponse", run.submit.json(), run.submit)
        for exchange, body in run.polls:
            validate("GatewayTask", body, exchange)
    if "sora" in ctx.models:
        _, exchange = _download(ctx)
        validate("GatewayDownloadResponse", exchange.json(), exchange)
