"""The request pipeline: the layers every request passes, composed once per route when the app is built.

aiohttp middlewares would be chained around the handler on every request, with a layer of
aiohttp's own on top; a status poll is the simulator's hot path (issue 2's benchmark), so instead
:class:`Pipeline` wraps each route's handler once, in ``create_app``. Outermost first:

1. the request-body deadline (issue 9: 408 when the body trickles) and the journal (issue 5);
   control API calls (``/_videomock/``) are not journaled;
2. the optional layers, each present only when switched on: ``--state`` (persist),
   ``--deviate`` (deviations), ``--validate-responses`` (contract);
3. errors rendered once, by :func:`render_error`, in the envelope of the route's dialect; fault
   injection (issue 5); Bearer auth on every ``/v1/`` route (seeds 000-004);
4. the route's handler.

A catch-all route, added last, answers an unknown path with 404 and a known path with the wrong
method with 405 (and ``Allow``), in the same envelopes and through the same layers.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
import socket
import struct
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import partial, wraps
from pathlib import Path
from typing import cast

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter

from mockserver.control import check_control_access
from mockserver.errors import ApiError, BodyTooLarge, RequestTimeout, RouteNotFound, Unauthorized
from mockserver.faults import FaultRule, RequestFacts
from mockserver.journal import MAX_BODY, Entry, Journal
from mockserver.jsonio import json_response
from mockserver.keys import BACKEND, CLOCK, CONFIG, ERRORS, FAULTS, JOURNAL, PROFILE

log = logging.getLogger("videomock")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: A route handler that never awaits may be a plain function (the status polls are): the pipeline
#: then calls it without creating a coroutine for it.
PlainHandler = Callable[[web.Request], web.StreamResponse]
#: An optional layer: called with the request and the rest of the pipeline (aiohttp's middleware signature).
Layer = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

#: Request keys set by this module and read by handlers.
FAULT_KEY = web.RequestKey("videomock_fault", str)
NOT_READY_KEY = web.RequestKey("videomock_not_ready", str)
MEDIA_PATH_KEY = web.RequestKey("videomock_media_path", Path)
PENDING_KEY = web.RequestKey("videomock_journal_pending", tuple)
CONTROL_PREFIX = "/_videomock/"
#: How many distinct Authorization header values that passed auth are remembered, per app.
ACCEPTED_LIMIT = 64


def dialect_of(request: web.Request) -> str:
    """The dialect of the matched route (``gateway``, ``openai``, ``media``, ``control``) from its name."""
    name = request.match_info.route.name or ""
    if ":" in name:
        return name.split(":", 1)[0]
    return "gateway" if request.path.startswith("/v1/video/") else "openai"


def render_error(request: web.Request, error: ApiError) -> web.Response:
    """Render ``error`` once, in the envelope of the route's dialect (and gateway profile)."""
    if dialect_of(request) == "gateway":
        status, body = request.app[PROFILE].render_error(error)
    else:
        status, body = error.status, {"error": {"message": error.message, "type": error.type,
                                                "param": error.param, "code": error.code}}
    return json_response(body, status=status, headers=error.headers)


def _api_key(request: web.Request) -> str:
    _, _, key = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    return key.strip()


def _readable(request: web.Request) -> bool:
    """Whether the body can be read here without tripping the size limit the handler reports (413)."""
    length = request.content_length
    return length is not None and length <= min(1 << 20, request.app[CONFIG].max_body_bytes)


def _task_id(request: web.Request) -> str | None:
    info = request.match_info
    return info.get("task_id") or info.get("video_id") or (request.query.get("id") if request.query_string else None)


async def _facts(request: web.Request) -> RequestFacts:
    model = None
    task_id = _task_id(request)
    if task_id:
        task = request.app[BACKEND].find(task_id)
        model = task.model if task else None
    elif request.method == "POST" and request.content_type == "application/json" and _readable(request):
        try:
            body = json.loads(await request.read())
            model = body.get("model") if isinstance(body, dict) else None
        except (ValueError, RecursionError, web.HTTPException):
            model = None
    elif request.method == "POST" and request.content_type == "multipart/form-data":
        model = None  # the form is read by the handler; match multipart creates by operation instead
    return RequestFacts(operation=request.match_info.route.name or "", path=request.path, method=request.method,
                        dialect=dialect_of(request), model=model, api_key=_api_key(request))


async def _body_bytes(request: web.Request, response: web.StreamResponse) -> bytes:
    if isinstance(response, web.Response) and response.body is not None:
        body = response.body
        return bytes(body) if isinstance(body, bytes | bytearray) else str(body).encode()
    path: Path | None = request.get(MEDIA_PATH_KEY)
    return await asyncio.to_thread(path.read_bytes) if path is not None else b""


async def _apply(request: web.Request, handler: Handler, rule: FaultRule) -> web.StreamResponse:
    """Carry out one fault rule's action."""
    if rule.action == "respond":
        headers = dict(rule.headers)
        if rule.retry_after is not None:
            headers.setdefault("Retry-After", str(max(0, round(rule.retry_after))))
            headers.setdefault("retry-after-ms", str(round(rule.retry_after * 1000)))
        if rule.body is None:
            error = ApiError(f"Injected fault {rule.id}: HTTP {rule.status}", status=rule.status,
                             code=_code_for(rule.status), type=_type_for(rule.status), headers=headers)
            return render_error(request, error)
        if isinstance(rule.body, str):
            return web.Response(text=rule.body, status=rule.status, headers=headers)
        return json_response(rule.body, status=rule.status, headers=headers)
    if rule.action == "not_ready":
        request[NOT_READY_KEY] = rule.mode
        return await handler(request)
    if rule.action == "hang":
        await asyncio.sleep(rule.seconds)
        _close(request, reset=False)
        return web.Response(status=504)
    if rule.action == "reset":
        _close(request, reset=True)
        return web.Response(status=502)
    response = await handler(request)
    if rule.action == "pass":
        return response
    full = await _body_bytes(request, response)
    if rule.action == "malformed_json":
        cut = full[: max(1, len(full) // 2)] if full.startswith((b"{", b"[")) else b'{"task_id": "video_'
        return web.Response(body=cut, status=response.status, content_type="application/json")
    stream = web.StreamResponse(status=response.status, headers={
        k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "transfer-encoding")})
    stream.content_length = len(full)
    try:
        return await _send_reshaped(request, stream, full, rule)
    except ConnectionError:  # the client left mid-body: that is what this fault is about
        _close(request, reset=False)
        return stream


async def _send_reshaped(request: web.Request, stream: web.StreamResponse, full: bytes,
                         rule: FaultRule) -> web.StreamResponse:
    await stream.prepare(request)
    if rule.action == "truncate":
        await stream.write(full[: rule.at_byte])
        _close(request, reset=False)
        return stream
    chunk = max(1, int(rule.bytes_per_second / 10))  # slow_body: ten writes a second
    for start in range(0, len(full), chunk):
        await stream.write(full[start : start + chunk])
        await asyncio.sleep(chunk / rule.bytes_per_second)
    return stream


def _close(request: web.Request, *, reset: bool) -> None:
    transport = request.transport
    if transport is None:
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


def _code_for(status: int) -> str:
    return {401: "invalid_api_key", 403: "permission_denied", 404: "not_found", 408: "request_timeout",
            409: "conflict", 429: "rate_limit_exceeded", 500: "internal_error", 502: "bad_gateway",
            503: "service_unavailable", 504: "gateway_timeout"}.get(status, f"http_{status}")


def _type_for(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


class Pipeline:
    """The layers of one app instance, bound once; :meth:`add_routes` registers handlers wrapped in them.

    Everything a request needs from the app (journal, faults, clock, keys) is looked up here once,
    not on every request.

    Args:
        app: The app whose journal, faults, clock and config the layers use (set before this is built).
        layers: The optional layers, outermost first (see the module docstring).
    """

    def __init__(self, app: web.Application, layers: Sequence[Layer] = ()) -> None:
        config = app[CONFIG]
        self._layers = tuple(layers)
        self._next_seq = app[JOURNAL].next_seq
        self._journal = app[JOURNAL]
        self._faults = app[FAULTS]
        self._now = app[CLOCK].now
        self._body_timeout = config.body_timeout
        self._keys = tuple(key.encode() for key in config.api_keys)
        self._accepted: set[str] = set()  # Authorization header values that passed
        self._auth = "no-auth" not in config.deviations
        self._fallback: web.AbstractResource | None = None

    def add_routes(self, router: web.UrlDispatcher, routes: Iterable[web.AbstractRouteDef]) -> None:
        """Register ``routes`` (a ``RouteTableDef``) with each handler wrapped in the pipeline.

        Routes with a variable part are registered before plain ones, each kind in table order.
        aiohttp looks a path up by its longest static prefix and tries that prefix's routes in
        registration order; a plain route only ever matches its own path, which a route with a
        variable part never does, so the order changes which route answers nothing, and the
        status poll (``/v1/video/generations/{task_id}``, next to the plain submit route) is found
        on the first try.
        """
        for route in sorted(routes, key=lambda route: "{" not in getattr(route, "path", "")):
            if not isinstance(route, web.RouteDef):
                raise TypeError(f"only plain routes can be wrapped, not {route!r}")
            wrapped = self.wrap(route.handler, route.path, route.kwargs.get("name") or "", route.method)
            web.RouteDef(route.method, route.path, wrapped, route.kwargs).register(router)

    def add_fallback(self, router: web.UrlDispatcher) -> None:
        """Add the catch-all route (after every other route): 404 for an unknown path, 405 for a wrong method."""
        self._fallback = router.add_route("*", "/{path:.*}", self.wrap(self._no_route, None, "")).resource

    def wrap(self, handler: Handler | PlainHandler, path: str | None, operation: str,
             method: str | None = None) -> Handler:
        """``handler`` inside the layers its route ``path`` needs (None, the catch-all: decided per request).

        ``operation`` is the route's name (``dialect:operation``), as the journal records it;
        ``method`` the route's HTTP method (None or ``*``: any).
        """
        if path is None:
            return partial(self._by_path, api=self._wrap(handler, operation, control=False, auth=None),
                           control=self._wrap(handler, operation, control=True, auth=False))
        control = path.startswith(CONTROL_PREFIX)
        auth = not control and self._auth and path.startswith("/v1/")
        task_key = next((key for key in ("task_id", "video_id") if "{" + key + "}" in path), None)
        return self._wrap(handler, operation, control=control, auth=auth,
                          method=None if method in (None, hdrs.METH_ANY) else method, task_key=task_key)

    def _wrap(self, handler: Handler | PlainHandler, operation: str, *, control: bool, auth: bool | None,
              method: str | None = None, task_key: str | None = None) -> Handler:
        sync = not inspect.iscoroutinefunction(handler)
        direct = handler
        if sync:
            handler = _as_coroutine(cast(PlainHandler, handler))
        handler = cast(Handler, handler)
        guarded: Handler = partial(self._guard, handler=handler, control=control, auth=auth)
        inner = guarded
        for layer in reversed(self._layers):
            inner = partial(layer, handler=inner)
        if control or self._layers:
            return partial(self._serve, handler=inner, journal=not control, operation=operation)
        return self._direct(direct, sync, guarded, auth, operation, method, task_key)

    @staticmethod
    async def _by_path(request: web.Request, *, api: Handler, control: Handler) -> web.StreamResponse:
        return await (control if request.path.startswith(CONTROL_PREFIX) else api)(request)

    def _direct(self, handler: Handler | PlainHandler, sync: bool, guarded: Handler, auth: bool | None,
                operation: str, method: str | None, task_key: str | None) -> Handler:
        """The hot path: :meth:`_serve` and :meth:`_guard` in one step, the same answer and the same journal entry.

        Taken by an API request without a body while no optional layer is on and no fault rule is set
        (a status poll); any other request goes the general way. A plain-function handler (``sync``)
        is called without a coroutine of its own. What it needs is bound here, once per route, so a
        request pays for no lookups: ``method`` (None: the catch-all's, read per request) and
        ``task_key``, the route's ``{task_id}``/``{video_id}`` (None: :func:`_task_id` per request).
        """
        serve, journal, faults, failure = self._serve, self._journal, self._faults, self._failure
        next_seq, now, accepted, authenticate = self._next_seq, self._now, self._accepted, self._authenticate
        api_auth, wall_time, perf_counter = self._auth, time.time, time.perf_counter

        async def serve_direct(request: web.Request) -> web.StreamResponse:
            if request.body_exists or faults.rules:
                return await serve(request, handler=guarded, journal=True, operation=operation)
            seq, at, wall, started = next_seq(), now(), wall_time(), perf_counter()
            response: web.StreamResponse | None = None
            try:
                if (auth or (auth is None and api_auth and request.path.startswith("/v1/"))) \
                        and request.headers.get(hdrs.AUTHORIZATION) not in accepted:
                    authenticate(request)  # a header value that passed before is in ``accepted``
                answer = handler(request)
                response = answer if sync else await answer  # type: ignore[misc]
                return response  # type: ignore[return-value]
            except Exception as error:  # rendered, or re-raised, by _failure
                response = failure(request, error)
                return response
            finally:
                _settle(journal, request, response, operation, seq, at, wall, started, None, None,
                        method or request.method, request.match_info.get(task_key) if task_key else _task_id(request))

        return serve_direct

    async def _serve(self, request: web.Request, *, handler: Handler, journal: bool,
                     operation: str) -> web.StreamResponse:
        """The journal (not for control calls) around the rest, under the body deadline while the body arrives."""
        if request.body_exists and not request.content.is_eof():
            return await self._deadline(request, handler, operation if journal else None)
        if journal:
            return await self._journaled(request, handler, operation)
        return await handler(request)

    async def _journaled(self, request: web.Request, handler: Handler, operation: str) -> web.StreamResponse:
        """Record the exchange in the journal, kept raw: bodies are parsed and secrets redacted on read."""
        seq = self._next_seq()
        at, wall, started = self._now(), time.time(), time.perf_counter()
        request_body: bytes | tuple[int | None, str] | None = None
        if request.body_exists:
            if request.content_type.startswith("multipart/") or not _readable(request):
                # Multipart: the handler parses the stream itself, reading it here would consume it.
                request_body = (request.content_length, request.content_type)
            else:
                try:
                    raw = await request.read()
                    request_body = raw if len(raw) <= MAX_BODY else (len(raw), request.content_type)
                except web.HTTPException:
                    request_body = (request.content_length, request.content_type)
        response: web.StreamResponse | None = None
        try:
            response = await handler(request)
            return response
        finally:
            fault = request.get(FAULT_KEY) if self._faults.rules else None
            _settle(self._journal, request, response, operation, seq, at, wall, started, request_body, fault,
                    request.method, _task_id(request))

    async def _deadline(self, request: web.Request, handler: Handler, operation: str | None) -> web.StreamResponse:
        """Answer 408 (and close the connection) when the body is still arriving after ``body_timeout`` seconds.

        ``operation`` None: the request is not journaled (a control call).

        The deadline runs from the moment the headers were read. Only the body's arrival is bounded:
        a handler that runs long after the whole body arrived (a slow download, an injected hang) is not.
        """
        timeout, task = self._body_timeout, asyncio.current_task()
        assert task is not None
        fired = False

        def expire() -> None:
            nonlocal fired
            if not request.content.is_eof():
                fired = True
                task.cancel()

        timer = asyncio.get_running_loop().call_later(timeout, expire)
        try:
            if operation is None:
                return await handler(request)
            return await self._journaled(request, handler, operation)
        except asyncio.CancelledError:
            if not fired:
                raise
            task.uncancel()
            log.info("request body of %s %s not received within %g s: 408", request.method, request.path, timeout)
            response = render_error(request, RequestTimeout(timeout))
            response.force_close()
            # Send it and close now: aiohttp would otherwise linger up to 10 s reading the rest of the body.
            await response.prepare(request)
            await response.write_eof()
            if request.transport is not None:
                request.transport.close()
            return response
        finally:
            timer.cancel()

    async def _guard(self, request: web.Request, *, handler: Handler, control: bool,
                     auth: bool | None) -> web.StreamResponse:
        """Errors rendered once; then control access, or fault injection and Bearer auth (None: on ``/v1/``)."""
        try:
            if control:
                check_control_access(request)
                return await handler(request)
            rule = self._faults.pick(await _facts(request)) if self._faults.rules else None
            if auth is None:
                auth = self._auth and request.path.startswith("/v1/")
            if rule is None:
                if auth:
                    self._authenticate(request)
                return await handler(request)
            return await self._fault(request, handler, rule, auth)
        except Exception as error:  # rendered, or re-raised, by _failure
            return self._failure(request, error)

    async def _fault(self, request: web.Request, handler: Handler, rule: FaultRule, auth: bool) -> web.StreamResponse:
        """A fault rule fired: it answers before auth (a gateway misbehaving) or passes on to the handler."""
        async def authenticated(request: web.Request) -> web.StreamResponse:
            if auth:
                self._authenticate(request)
            return await handler(request)

        request[FAULT_KEY] = rule.id
        delay = self._faults.delay(rule)
        if delay:
            await asyncio.sleep(delay)
        return await _apply(request, authenticated, rule)

    def _authenticate(self, request: web.Request) -> None:
        """Bearer auth (seeds 000-004: ``Authorization: Bearer sk-…``); every key compared in constant time.

        A client sends the same header on every request: a header value that passed once is kept
        (up to :data:`ACCEPTED_LIMIT` of them) and then recognised by a set lookup. Only exact,
        valid values are in the set, so its timing tells nothing about a key being guessed.

        Raises:
            Unauthorized: a missing, malformed or unknown key.
        """
        header = request.headers.get(hdrs.AUTHORIZATION, "")
        if header in self._accepted:
            return
        scheme, _, key = header.partition(" ")
        sent = key.strip().encode()
        matched = False
        for candidate in self._keys:
            matched |= hmac.compare_digest(sent, candidate)
        if not matched or scheme.lower() != "bearer":
            raise Unauthorized("Invalid or missing API key: send 'Authorization: Bearer <key>'")
        if len(self._accepted) < ACCEPTED_LIMIT:
            self._accepted.add(header)

    @staticmethod
    def _failure(request: web.Request, error: Exception) -> web.StreamResponse:
        """The enveloped answer to an exception from a handler; aiohttp's own other HTTP answers pass through.

        Raises:
            web.HTTPException: one not rendered here (a redirect, say), re-raised for aiohttp.
        """
        if isinstance(error, ApiError):
            return render_error(request, error)
        if isinstance(error, web.HTTPRequestEntityTooLarge):
            return render_error(request, BodyTooLarge("Request body too large"))
        if isinstance(error, web.HTTPException):
            raise error
        log.error("internal error on %s %s", request.method, request.path, exc_info=error)
        request.app[ERRORS].append(f"{request.method} {request.path}\n"
                                   + "".join(traceback.format_exception(error)))
        return render_error(request, ApiError("The simulator failed on this request; see its log",
                                              status=500, code="internal_error", type="server_error"))

    async def _no_route(self, request: web.Request) -> web.StreamResponse:
        """The catch-all: 405 with ``Allow`` when another route has the path, else 404.

        Raises:
            ApiError: always (405 ``method_not_allowed`` or 404 ``not_found``).
        """
        allowed: set[str] = set()
        for resource in request.app.router.resources():
            if resource is not self._fallback:
                _, methods = await resource.resolve(request)
                allowed |= methods
        if allowed:
            methods = ", ".join(sorted(allowed))
            raise ApiError(f"Method {request.method} is not allowed on {request.path}; allowed: {methods}",
                           status=405, code="method_not_allowed", headers={"Allow": methods})
        raise RouteNotFound(f"No route for {request.method} {request.path}")


_NO_HEADERS: Mapping[str, str] = {}
_new_entry = tuple.__new__  # what Entry(...) calls, without its Python-level __new__: this runs on every request


def _as_coroutine(handler: PlainHandler) -> Handler:
    """A plain-function handler as a coroutine function, for the layers that await what they call."""
    @wraps(handler)
    async def call(request: web.Request) -> web.StreamResponse:
        return handler(request)
    return call


def _settle(journal: Journal, request: web.Request, response: web.StreamResponse | None,
            operation: str, seq: int, at: float, wall: float, started: float,
            request_body: bytes | tuple[int | None, str] | None, fault: str | None, method: str,
            task_id: str | None) -> None:
    """Record the exchange now, or, for a file answer not sent yet, leave it pending on the request.

    A file answer gets its final status (200/206/304/416) and headers when aiohttp prepares it,
    after every layer has returned: :class:`JournaledFileResponse` records it then. ``method`` is
    the request's, ``task_id`` the one in its route or ``id`` query (:func:`_task_id`): passed in,
    as the hot path knows both from its route.
    """
    if isinstance(response, web.Response) or response is None or response.prepared:
        _record(journal, request, response, operation, seq, at, wall, started, request_body, fault, method, task_id)
    else:
        request[PENDING_KEY] = (journal, operation, seq, at, wall, started, request_body, fault, method, task_id)


def _record(journal: Journal, request: web.Request, response: web.StreamResponse | None,
            operation: str, seq: int, at: float, wall: float, started: float,
            request_body: bytes | tuple[int | None, str] | None, fault: str | None, method: str,
            task_id: str | None) -> None:
    """Keep one exchange in ``journal``: references to what aiohttp and the handler made anyway, no copies."""
    status: int = 0
    headers: Mapping[str, str] = _NO_HEADERS
    body: bytes | tuple[int | None, str] | None = None
    if response is not None:
        status, headers = response.status, response.headers
        raw_body = response.body if isinstance(response, web.Response) else None
        if isinstance(raw_body, bytes) and len(raw_body) <= MAX_BODY:
            body = raw_body  # a status poll's is the BodyCache's: one object for every poll of a state
        elif response.content_length:
            body = (response.content_length, response.content_type)
    if fault and (request.transport is None or request.transport.is_closing()):
        status = 0  # reset, hang or truncate: the client saw no (complete) answer
    # Headers equal to the last recorded ones are kept once (Journal.last_headers): a client sends
    # the same headers on every poll, and this request's own header objects are then freed at once.
    raw_headers, last = request.raw_headers, journal.last_headers
    if last is not None and last[0] == raw_headers:
        request_headers = last[1]
    else:
        request_headers = request.headers
        journal.last_headers = (raw_headers, request_headers)
    journal.record(_new_entry(Entry, (
        seq, at, wall, time.perf_counter() - started, operation, method, request.raw_path,
        request_headers, task_id, request_body, status, headers, body, fault)))


class JournaledFileResponse(web.FileResponse):
    """A file answer (``FileResponse``) that the journal records once aiohttp has sent it.

    aiohttp settles a file answer's status (200, 206, 304, 416) and headers only when it prepares
    it, after every layer has returned: the journal layer leaves the entry pending on the request,
    and this records it (no ``on_response_prepare`` signal, which would cost every request).
    Preparing it a second time is a no-op, where a ``FileResponse`` would send the file again.
    """

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        """Send the file (``FileResponse.prepare``) unless already sent; then record the pending entry.

        Returns:
            The payload writer, or None when the file was already sent.
        """
        if self.prepared:
            return None
        try:
            return await super().prepare(request)
        finally:
            pending = request.get(PENDING_KEY)
            if pending is not None:
                del request[PENDING_KEY]
                journal, *rest = pending
                _record(journal, request, self, *rest)  # type: ignore[arg-type]
