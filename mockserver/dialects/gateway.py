"""The gateway dialect (seeds 000-003): ``/v1/video/generations``.

Handlers are thin: parse, call one backend verb, render with the active profile. Route names carry
the dialect (``gateway:<operation>``) so the request pipeline renders errors in this dialect's
envelope.
"""

from __future__ import annotations

import base64

from aiohttp import web

from mockserver import catalog
from mockserver.backend import Task
from mockserver.errors import DownloadNotSupported, InvalidParameter
from mockserver.http import check_prompt, read_json, select_scenario, video_url
from mockserver.jsonio import JSON_HEADERS, json_response
from mockserver.keys import BACKEND, BODIES, MEDIA, PROFILE, URL_SECRET
from mockserver.lifecycle import SUCCEEDED

routes = web.RouteTableDef()


@routes.post("/v1/video/generations", name="gateway:submit_task")
async def submit_task(request: web.Request) -> web.Response:
    """Submit a video generation task (seed 003). Answers 200 ``{task_id, status, format}``."""
    body = await read_json(request)
    spec = catalog.lookup(body.get("model"))
    prompt = check_prompt(body.get("prompt"))
    params, render = catalog.validate(spec, body)
    task = request.app[BACKEND].create_task(
        model=spec.model, family=spec.family, prompt=prompt, params=params, render=render, dialect="gateway",
        scenario=select_scenario(request, prompt, spec.model, spec.family),
    )
    state = task.snapshot(task.created_at)
    return json_response(request.app[PROFILE].render_submit(task, state))


def downloadable(task: Task) -> bool:
    """Whether the download endpoint serves ``task`` (seed 000: Sora 2 only) rather than a ``url``.

    By family, not by the gateway's model table: a video created through the OpenAI dialect may
    use a Sora model the table lacks (``sora-2-pro``, dated snapshots), and it is a Sora video all the same.
    """
    spec = catalog.MODELS.get(task.model)
    return spec.download if spec is not None else task.family == "sora"


# Registered before /{task_id}, or "download" would be taken for a task ID.
@routes.get("/v1/video/generations/download", name="gateway:download_video")
async def download_video(request: web.Request) -> web.Response:
    """Download a Sora 2 video as base64 JSON (seeds 000-002).

    Answers ``{success, generation_id, task_id, format, size, base64, data_url}``, where ``size``
    is the decoded length in bytes and ``data_url`` is ``data:video/mp4;base64,`` + ``base64``.
    Errors: 400 without ``id``, 404 unknown, 400 not ready or failed, 404 for a non-Sora task,
    404 expired.
    """
    task_id = request.query.get("id", "").strip()
    if not task_id:
        raise InvalidParameter("id", "query parameter 'id' is required: the task_id returned by the submit call")
    backend = request.app[BACKEND]
    task, _ = backend.get_task(task_id)
    if not downloadable(task):
        raise DownloadNotSupported(task_id, task.model)
    task, _ = backend.get_video(task_id)
    data = await request.app[MEDIA].video(task.render, task.prompt)
    encoded = base64.b64encode(data).decode("ascii")
    return json_response({
        "success": True, "generation_id": task.id, "task_id": task.id, "format": "mp4", "size": len(data),
        "base64": encoded, "data_url": "data:video/mp4;base64," + encoded,
    })


@routes.get("/v1/video/generations/{task_id}", name="gateway:query_task")
def query_task(request: web.Request) -> web.Response:
    """Query a task (seed 003): its status and, once succeeded, the video ``url`` (non-Sora models).

    A plain function: it never awaits, and the pipeline calls it without a coroutine (the hot path).
    """
    app = request.app
    task, state = app[BACKEND].get_task(request.match_info["task_id"])
    url = None
    if state.status is SUCCEEDED and not downloadable(task):
        url = video_url(request, app[URL_SECRET], task.id)
    body = app[BODIES].render(app[PROFILE].render_task, task, state, url)
    return web.Response(body=body, headers=JSON_HEADERS)
