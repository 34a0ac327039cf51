"""Middlewares around every API request: the journal (outermost) and fault injection.

Errors are rendered once, by ``render_error`` here, in the envelope of the route's dialect; the
error middleware of ``mockserver.app`` and the ``respond`` fault both use it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from aiohttp import hdrs, web

from mockserver.control import check_control_access
from mockserver.errors import ApiError, Unauthorized
from mockserver.faults import FaultRule, RequestFacts
from mockserver.journal import MAX_BODY, Entry
from mockserver.jsonio import json_response
from mockserver.keys import BACKEND, CLOCK, CONFIG, FAULTS, JOURNAL, PROFILE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Request keys set by this module and read by handlers.
FAULT_KEY = web.RequestKey("videomock_fault", str)
NOT_READY_KEY = web.RequestKey("videomock_not_ready", str)
MEDIA_PATH_KEY = web.RequestKey("videomock_media_path", Path)
PENDING_KEY = web.RequestKey("videomock_journal_pending", tuple)
CONTROL_PREFIX = "/_videomock/"


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


def authenticate(request: web.Request) -> None:
    """Bearer auth on every ``/v1/`` route (seeds 000-004: ``Authorization: Bearer sk-…``).

    Every accepted key is compared in constant time, so timing tells nothing about a key.

    Raises:
        Unauthorized: a missing, malformed or unknown key.
    """
    config = request.app[CONFIG]
    if not request.path.startswith("/v1/") or "no-auth" in config.deviations:
        return
    scheme, _, key = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    sent = key.strip().encode()
    matched = False
    for candidate in config.api_keys:
        matched |= hmac.compare_digest(sent, candidate.encode())
    if scheme.lower() != "bearer" or not matched:
        raise Unauthorized("Invalid or missing API key: send 'Authorization: Bearer <key>'")


@web.middleware
async def gate_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Control-API access, fault injection and Bearer auth, in one layer (each layer costs every request).

    A fault rule that fires answers before auth (a gateway misbehaving); with no rule configured,
    no fault ever fires.
    """
    if request.path.startswith(CONTROL_PREFIX):
        check_control_access(request)
        return await handler(request)
    faults = request.app[FAULTS]
    rule = faults.pick(await _facts(request)) if faults.rules else None
    if rule is None:
        authenticate(request)
        return await handler(request)

    async def authenticated(request: web.Request) -> web.StreamResponse:
        authenticate(request)
        return await handler(request)

    request[FAULT_KEY] = rule.id
    delay = faults.delay(rule)
    if delay:
        await asyncio.sleep(delay)
    return await _apply(request, authenticated, rule)


@web.middleware
async def journal_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record the exchange in the journal (control API calls are not recorded).

    Kept raw and cheap: bodies are parsed and secrets redacted only when the journal is read.
    """
    if request.path.startswith(CONTROL_PREFIX):
        return await handler(request)
    journal = request.app[JOURNAL]
    seq = journal.next_seq()
    at, wall, started = request.app[CLOCK].now(), time.time(), time.perf_counter()
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
        fault = request.get(FAULT_KEY) if request.app[FAULTS].rules else None
        if response is not None and not response.prepared and not isinstance(response, web.Response):
            # A file answer gets its final status (200/206/304/416) and headers when aiohttp
            # prepares it, after this middleware: journal_on_prepare records it then.
            request[PENDING_KEY] = (seq, at, wall, started, request_body, fault)
        else:
            _record(request, response, seq, at, wall, started, request_body, fault)


_NO_HEADERS: Mapping[str, str] = {}


def _record(request: web.Request, response: web.StreamResponse | None, seq: int, at: float, wall: float,
            started: float, request_body: bytes | tuple[int | None, str] | None, fault: str | None) -> None:
    status, headers = 0, _NO_HEADERS
    body: bytes | tuple[int | None, str] | None = None
    if response is not None and (response.prepared or isinstance(response, web.Response)):
        status, headers = response.status, response.headers  # kept as is: copied only when read
        raw_body = response.body if isinstance(response, web.Response) else None
        if isinstance(raw_body, bytes) and len(raw_body) <= MAX_BODY:
            body = raw_body
        elif response.content_length:
            body = (response.content_length, response.content_type)
    if fault and (request.transport is None or request.transport.is_closing()):
        status = 0  # reset, hang or truncate: the client saw no (complete) answer
    request.app[JOURNAL].record(Entry(  # positional: this runs on every request
        seq, at, wall, round((time.perf_counter() - started) * 1000, 3), request.method, request.path,
        request.query_string, request.match_info.route.name or "", _task_id(request),
        request.headers, request_body, status, headers, body, fault,
    ))


async def journal_on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Record a file answer once aiohttp has settled its status and headers (``on_response_prepare``)."""
    pending = request.get(PENDING_KEY)
    if pending is not None:
        del request[PENDING_KEY]
        _record(request, response, *pending)
