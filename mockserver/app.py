"""``create_app``: one simulator instance as an aiohttp application, composed, never subclassed."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from typing import Any

from aiohttp import web

from mockserver.backend import VideoBackend
from mockserver.clock import Clock
from mockserver.config import ServerConfig
from mockserver.contract import add_contract_checks, contract_middleware
from mockserver.contract import routes as contract_routes
from mockserver.control import CONTROLLER, Controller
from mockserver.control import routes as control_routes
from mockserver.deviations import STATE as DEVIATION_STATE
from mockserver.deviations import DeviationState, check_names, deviation_middleware
from mockserver.dialects import gateway, openai
from mockserver.errors import ApiError
from mockserver.faults import FaultBook
from mockserver.fixtures_data import preload_documented_tasks
from mockserver.http import media_response, signature_ok
from mockserver.journal import Journal
from mockserver.jsonio import BodyCache
from mockserver.keys import BACKEND, BODIES, CLOCK, CONFIG, ERRORS, FAULTS, JOURNAL, MEDIA, PROFILE, URL_SECRET
from mockserver.limits import housekeeping
from mockserver.media import MediaSynthesizer
from mockserver.pipeline import Pipeline
from mockserver.profiles import get_profile
from mockserver.scenarios import ScenarioBook
from mockserver.state import STATE, StateFile, persist_middleware

media_routes = web.RouteTableDef()


@media_routes.get("/media/{task_id}.mp4", name="media:serve_media")
async def serve_media(request: web.Request) -> web.StreamResponse:
    """Serve a task's MP4 at the signed URL handed out in the query response (``video/mp4``).

    Range, ETag and HEAD as a CDN serves them (see ``mockserver.http.media_response``).
    Errors: 403 on a missing or wrong signature, 404 unknown or expired, 400 not ready.
    """
    task_id = request.match_info["task_id"]
    if not signature_ok(request.app[URL_SECRET], task_id, request.query.get("sig", "")):
        raise ApiError("Missing or invalid URL signature", status=403, code="invalid_signature",
                       type="permission_error")
    task, _ = request.app[BACKEND].get_video(task_id)
    return await media_response(request, task)


async def _close_media(app: web.Application) -> None:
    app[MEDIA].close()


def create_app(config: ServerConfig | None = None, **overrides: Any) -> web.Application:
    """Build one simulator instance.

    Args:
        config: The settings; defaults when None.
        **overrides: Fields of ServerConfig to replace, e.g. ``manual_clock=True``.

    Returns:
        The aiohttp application; all its state hangs off app keys, none is module-global.

    Raises:
        ValueError: unknown profile, or an invalid scenario file or fault rule.
    """
    config = config or ServerConfig()
    if overrides:
        config = dataclasses.replace(config, **overrides)
    scenarios = ScenarioBook(config.scenarios, seed=config.seed)
    state = StateFile(config.state_path) if config.state_path else None  # issue 9: --state FILE
    # No aiohttp middlewares: each route's handler is wrapped once in the pipeline (mockserver.pipeline).
    app = web.Application(client_max_size=config.max_body_bytes, client_max_fields=config.max_form_parts)
    clock = Clock(config.speed, manual=config.manual_clock, start=state.resume_time() if state else None)
    app[CONFIG] = config
    app[CLOCK] = clock
    app[BACKEND] = VideoBackend(clock, seed=config.seed, ttl=config.ttl, scenarios=scenarios,
                                video_bytes=config.video_bytes, max_tasks=config.max_tasks,
                                evict_grace=config.evict_grace)
    app[FAULTS] = FaultBook(seed=config.seed)
    for spec in scenarios.fault_specs:
        app[FAULTS].add(spec)
    app[JOURNAL] = Journal(config.journal_limit)
    app[BODIES] = BodyCache()
    app[CONTROLLER] = Controller(app)
    app[ERRORS] = []
    check_names(config.deviations)
    app[DEVIATION_STATE] = DeviationState()
    app[MEDIA] = MediaSynthesizer(config.media_cache_bytes)
    app.on_cleanup.append(_close_media)
    app[PROFILE] = get_profile(config.profile)
    # Seeded runs sign URLs the same way every time (determinism); unseeded ones use a random secret.
    seeded = config.seed is not None
    app[URL_SECRET] = (hashlib.sha256(f"videomock:{config.seed}".encode()).digest() if seeded
                       else secrets.token_bytes(32))
    if config.examples:
        preload_documented_tasks(app[BACKEND])
    if state is not None:  # after the examples: a saved task replaces a preloaded one with its ID
        app[URL_SECRET] = state.secret(app[URL_SECRET])
        state.attach(app[BACKEND], clock, config.seed)
        app[STATE] = state
    app.cleanup_ctx.append(housekeeping)
    # Each layer costs every request: the optional ones exist only when switched on.
    pipeline = Pipeline(app, [*([persist_middleware] if state else []),
                              *([deviation_middleware] if config.deviations else []),
                              *([contract_middleware] if config.validate_responses else [])])
    for routes in (gateway.routes, openai.routes, media_routes, control_routes, contract_routes):
        pipeline.add_routes(app.router, routes)
    pipeline.add_fallback(app.router)  # last: it matches every path
    if config.validate_responses:
        add_contract_checks(app)
    return app
