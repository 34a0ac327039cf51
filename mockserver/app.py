"""``create_app``: one simulator instance as an aiohttp application, composed, never subclassed."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from mockserver.backend import VideoBackend
from mockserver.clock import Clock
from mockserver.config import ServerConfig
from mockserver.contract import add_contract, contract_middleware
from mockserver.control import CONTROLLER, Controller
from mockserver.control import routes as control_routes
from mockserver.deviations import STATE as DEVIATION_STATE
from mockserver.deviations import DeviationState, check_names, deviation_middleware
from mockserver.dialects import gateway, openai
from mockserver.errors import ApiError, BodyTooLarge, RouteNotFound
from mockserver.faults import FaultBook
from mockserver.fixtures_data import preload_documented_tasks
from mockserver.http import media_response, signature_ok
from mockserver.journal import Journal
from mockserver.keys import BACKEND, CLOCK, CONFIG, ERRORS, FAULTS, JOURNAL, MEDIA, PROFILE, URL_SECRET
from mockserver.limits import body_deadline_middleware, housekeeping
from mockserver.media import MediaSynthesizer
from mockserver.middleware import gate_middleware, journal_middleware, journal_on_prepare, render_error
from mockserver.profiles import get_profile
from mockserver.scenarios import ScenarioBook
from mockserver.state import STATE, StateFile, persist_middleware

log = logging.getLogger("videomock")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn ApiError, aiohttp's own HTTP errors and unexpected exceptions into enveloped errors."""
    try:
        return await handler(request)
    except ApiError as error:
        return render_error(request, error)
    except web.HTTPRequestEntityTooLarge:
        return render_error(request, BodyTooLarge("Request body too large"))
    except web.HTTPNotFound:
        return render_error(request, RouteNotFound(f"No route for {request.method} {request.path}"))
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        return render_error(request, ApiError(
            f"Method {request.method} is not allowed on {request.path}; allowed: {allowed}",
            status=405, code="method_not_allowed", headers={"Allow": allowed}))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        request.app[ERRORS].append(f"{request.method} {request.path}\n{traceback.format_exc()}")
        return render_error(request, ApiError("The simulator failed on this request; see its log",
                                              status=500, code="internal_error", type="server_error"))


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
    app = web.Application(
        # Each layer costs every request: optional layers exist only when switched on.
        middlewares=[body_deadline_middleware, journal_middleware, *([persist_middleware] if state else []),
                     *([deviation_middleware] if config.deviations else []),
                     *([contract_middleware] if config.validate_responses else []),
                     error_middleware, gate_middleware],
        client_max_size=config.max_body_bytes, client_max_fields=config.max_form_parts,
    )
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
    app[CONTROLLER] = Controller(app)
    app[ERRORS] = []
    check_names(config.deviations)
    app[DEVIATION_STATE] = DeviationState()
    app[MEDIA] = MediaSynthesizer(config.media_cache_bytes)
    app.on_cleanup.append(_close_media)
    app.on_response_prepare.append(journal_on_prepare)
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
    app.add_routes(gateway.routes)
    app.add_routes(openai.routes)
    app.router.add_get("/media/{task_id}.mp4", serve_media, name="media:serve_media")
    app.add_routes(control_routes)
    add_contract(app, validate=config.validate_responses)
    return app
