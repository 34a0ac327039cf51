"""The control API: steer a running simulator, over HTTP under ``/_videomock/`` or from Python.

:class:`Controller` holds the verbs; the HTTP handlers below only parse and render. The HTTP API
answers on loopback only, unless a control token is configured: then any caller presenting it in
``X-Videomock-Token`` is served, and callers off loopback must present it.

- health: ``GET /_videomock/health``
- reset: ``POST /_videomock/reset`` ``{"journal_only": false}``
- clock: ``GET /_videomock/clock``; ``POST /_videomock/clock/advance`` ``{"seconds": N}``;
  ``POST /_videomock/clock/speed`` ``{"speed": F, "manual": bool}``
- scenarios: ``GET /_videomock/scenarios``; ``POST /_videomock/scenarios`` ``{"name", "script": {…}}``;
  ``POST /_videomock/scenarios/next`` ``{"scenario", "count"}``
- faults: ``GET``/``POST``/``DELETE /_videomock/faults``; ``DELETE /_videomock/faults/{id}``
- tasks: ``GET /_videomock/tasks``; ``GET /_videomock/tasks/{id}``;
  ``POST /_videomock/tasks/{id}/succeed|fail|expire`` (fail: ``{"error": kind}``)
- journal: ``GET /_videomock/journal?method=&path=&operation=&task_id=&status=&since=&format=json|har``;
  ``DELETE /_videomock/journal`` clears it
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
from dataclasses import asdict
from typing import Any

from aiohttp import web

from mockserver.backend import Task, VideoBackend
from mockserver.clock import Clock
from mockserver.errors import ApiError, InvalidJSON, InvalidParameter
from mockserver.faults import FaultBook
from mockserver.fixtures_data import preload_documented_tasks
from mockserver.journal import Journal
from mockserver.jsonio import json_response
from mockserver.keys import BACKEND, CLOCK, CONFIG, FAULTS, JOURNAL
from mockserver.lifecycle import FAILURES, settle

TOKEN_HEADER = "X-Videomock-Token"


class Controller:
    """The control verbs over one app instance's state (no HTTP).

    Args:
        app: The simulator application.
    """

    def __init__(self, app: web.Application) -> None:
        self.app = app

    @property
    def backend(self) -> VideoBackend:
        return self.app[BACKEND]

    @property
    def clock(self) -> Clock:
        return self.app[CLOCK]

    @property
    def faults(self) -> FaultBook:
        return self.app[FAULTS]

    @property
    def journal(self) -> Journal:
        return self.app[JOURNAL]

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "tasks": n, "now": unix seconds, "speed": f, "manual_clock": bool}``."""
        return {"status": "ok", "tasks": len(self.backend), "now": self.clock.now(), "speed": self.clock.speed,
                "manual_clock": self.clock.manual}

    def reset(self, *, journal_only: bool = False) -> None:
        """Forget the journal; unless ``journal_only``, also every task, fault rule and queued scenario.

        The documented example tasks are loaded again when the server preloads them. The clock is
        not reset: it never runs backwards.
        """
        self.journal.clear()
        if journal_only:
            return
        self.backend.clear()
        self.faults.clear()
        self.backend.scenarios.queue.clear()
        if self.app[CONFIG].examples:
            preload_documented_tasks(self.backend)

    def clock_state(self) -> dict[str, Any]:
        """``{"now": unix seconds, "speed": f, "manual": bool}``."""
        return {"now": self.clock.now(), "speed": self.clock.speed, "manual": self.clock.manual}

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the clock forward by ``seconds`` (simulated); returns :meth:`clock_state`.

        Raises:
            ValueError: negative seconds.
        """
        self.clock.advance(seconds)
        return self.clock_state()

    def set_speed(self, speed: float, *, manual: bool | None = None) -> dict[str, Any]:
        """Change the clock's speed (simulated seconds per real second), and optionally stop or start it.

        Raises:
            ValueError: a speed that is not positive.
        """
        self.clock.set_speed(speed)
        if manual is not None:
            self.clock.manual = manual
        return self.clock_state()

    def scenarios(self) -> dict[str, Any]:
        """The scenario book (see ``ScenarioBook.describe``)."""
        return self.backend.scenarios.describe()

    def add_scenario(self, name: str, script: dict[str, Any]) -> None:
        """Add or replace a named scripted lifecycle.

        Raises:
            ValueError: invalid script fields.
        """
        self.backend.scenarios.add(name, script)

    def enqueue(self, scenario: str, count: int = 1) -> list[str]:
        """Make the next ``count`` tasks that nothing more specific picks follow ``scenario``; the queue.

        Raises:
            InvalidParameter: unknown scenario.
        """
        self.backend.scenarios.enqueue(scenario, count)
        return list(self.backend.scenarios.queue)

    def add_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Add a fault rule (see ``mockserver.faults``); returns it described.

        Raises:
            ValueError: invalid rule.
        """
        return self.faults.add(spec).describe()

    def list_faults(self) -> list[dict[str, Any]]:
        """Every fault rule, described, with how often it matched and fired."""
        return [rule.describe() for rule in self.faults.rules]

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.faults.clear()

    def remove_fault(self, rule_id: str) -> bool:
        """Remove one fault rule; whether it existed."""
        return self.faults.remove(rule_id)

    def tasks(self) -> list[dict[str, Any]]:
        """Every task, inspected (see :meth:`task`)."""
        return [self._inspect(task) for task in self.backend.list_tasks()]

    def task(self, task_id: str) -> dict[str, Any]:
        """One task: id, model, dialect, scenario, params, render, status, progress, times, plan.

        Raises:
            TaskNotFound: no such task.
        """
        task, _ = self.backend.get_task(task_id)
        return self._inspect(task)

    def force(self, task_id: str, outcome: str, *, error: str = "internal") -> dict[str, Any]:
        """End a task now: ``succeed``, ``fail`` (with a failure kind) or ``expire``.

        Raises:
            TaskNotFound: no such task.
            InvalidParameter: unknown outcome or failure kind.
        """
        if outcome not in ("succeed", "fail", "expire"):
            raise InvalidParameter("outcome", f"outcome must be succeed, fail or expire, got {outcome!r}")
        if error not in FAILURES:
            raise InvalidParameter("error", f"unknown failure kind {error!r}; one of {', '.join(FAILURES)}")
        task, _ = self.backend.get_task(task_id)
        now = self.clock.now()
        task.plan = settle(task.plan, task.created_at, now, error=FAILURES[error] if outcome == "fail" else None,
                           expire=outcome == "expire")
        self.backend.touch(task.id)  # saved by --state like any other change
        return self._inspect(task)

    def entries(self, **filters: Any) -> list[dict[str, Any]]:
        """Journal entries matching ``filters`` (method, path, operation, task_id, status, since)."""
        return self.journal.as_json(self.journal.find(**filters))

    def har(self, base_url: str, **filters: Any) -> dict[str, Any]:
        """Journal entries matching ``filters`` as a HAR 1.2 log."""
        return self.journal.as_har(self.journal.find(**filters), base_url)

    def _inspect(self, task: Task) -> dict[str, Any]:
        state = task.snapshot(self.clock.now())
        return {
            "id": task.id, "model": task.model, "dialect": task.dialect, "prompt": task.prompt,
            "params": task.params, "render": asdict(task.render), "scenario": task.extra.get("scenario"),
            "scenario_source": task.extra.get("scenario_source"), "status": state.status.value,
            "progress": state.progress, "created_at": task.created_at, "completed_at": state.completed_at,
            "expires_at": None if state.expires_at in (None, float("inf")) else state.expires_at,
            "expired": state.expired, "error": asdict(task.plan.error) if task.plan.error else None,
            "plan": [{"status": p.status.value, "seconds": None if p.seconds == float("inf") else p.seconds,
                      "progress": list(p.progress)} for p in task.plan.phases],
            "remixed_from_video_id": task.remixed_from_video_id,
        }


# --- HTTP -------------------------------------------------------------------------------------

CONTROLLER = web.AppKey("controller", Controller)
routes = web.RouteTableDef()


def _allowed(request: web.Request) -> bool:
    token = request.app[CONFIG].control_token
    if token and hmac.compare_digest(request.headers.get(TOKEN_HEADER, "").encode(), token.encode()):
        return True
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def check_control_access(request: web.Request) -> None:
    """Refuse control calls from off loopback without the control token.

    Raises:
        ApiError: 403 ``control_forbidden``.
    """
    if not _allowed(request):
        raise ApiError("The control API answers on loopback only, or with its token in X-Videomock-Token",
                       status=403, code="control_forbidden", type="permission_error")


async def _json(request: web.Request, fields: tuple[str, ...] | None = None, *,
                required: bool = False) -> dict[str, Any]:
    """The body as a JSON object (``{}`` when empty, unless ``required``); only ``fields`` when given.

    Raises:
        InvalidJSON: not JSON, not an object, or missing while required.
        InvalidParameter: a field outside ``fields`` (a misspelling never passes silently).
    """
    raw = await request.read()
    if not raw:
        if required:
            raise InvalidJSON("A JSON object body is required")
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # RecursionError: "[[[[…" (issue 9)
        raise InvalidJSON(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidJSON("Request body must be a JSON object")
    for key in body if fields is not None else ():
        if key not in fields:
            raise InvalidParameter(key, f"Unknown field '{key}'; accepted: {', '.join(fields)}")
    return body


def _number(body: dict[str, Any], name: str, maximum: float = math.inf) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidParameter(name, f"'{name}' must be a number, got {value!r}")
    if value > maximum:
        raise InvalidParameter(name, f"'{name}' must be at most {maximum:g}, got {value!r}")
    return float(value)


def _flag(body: dict[str, Any], name: str, default: bool | None) -> bool | None:
    value = body.get(name, default)
    if value is not default and not isinstance(value, bool):
        raise InvalidParameter(name, f"'{name}' must be true or false, got {value!r}")
    return value


#: Largest clock step and speed the HTTP API takes: a century at once, a billion times real time.
MAX_ADVANCE = 100 * 365 * 24 * 3600.0
MAX_SPEED = 1e9


def _ctl(request: web.Request) -> Controller:
    return request.app[CONTROLLER]


def _bad(exc: ValueError, param: str) -> InvalidParameter:
    return InvalidParameter(param, str(exc))


@routes.get("/_videomock/health", name="control:health")
async def health(request: web.Request) -> web.Response:
    return json_response(_ctl(request).health())


@routes.post("/_videomock/reset", name="control:reset")
async def reset(request: web.Request) -> web.Response:
    journal_only = bool(_flag(await _json(request, ("journal_only",)), "journal_only", False))
    _ctl(request).reset(journal_only=journal_only)
    return json_response({"reset": "journal" if journal_only else "all"})


@routes.get("/_videomock/clock", name="control:clock")
async def clock(request: web.Request) -> web.Response:
    return json_response(_ctl(request).clock_state())


@routes.post("/_videomock/clock/advance", name="control:advance")
async def advance(request: web.Request) -> web.Response:
    try:
        return json_response(_ctl(request).advance(_number(await _json(request, ("seconds",)), "seconds",
                                                           MAX_ADVANCE)))
    except ValueError as exc:
        raise _bad(exc, "seconds") from None


@routes.post("/_videomock/clock/speed", name="control:set_speed")
async def set_speed(request: web.Request) -> web.Response:
    body = await _json(request, ("speed", "manual"))
    try:
        return json_response(_ctl(request).set_speed(_number(body, "speed", MAX_SPEED),
                                                     manual=_flag(body, "manual", None)))
    except ValueError as exc:
        raise _bad(exc, "speed") from None


@routes.get("/_videomock/scenarios", name="control:scenarios")
async def scenarios(request: web.Request) -> web.Response:
    return json_response(_ctl(request).scenarios())


@routes.post("/_videomock/scenarios", name="control:add_scenario")
async def add_scenario(request: web.Request) -> web.Response:
    body = await _json(request, ("name", "script"))
    name, script = body.get("name"), body.get("script", {})
    if not isinstance(name, str) or not name or not isinstance(script, dict):
        raise InvalidParameter("name", "send {\"name\": \"…\", \"script\": {…}}")
    try:
        _ctl(request).add_scenario(name, script)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter("script", str(exc)) from None
    return json_response({"name": name}, status=201)


@routes.post("/_videomock/scenarios/next", name="control:enqueue")
async def enqueue(request: web.Request) -> web.Response:
    body = await _json(request, ("scenario", "count"))
    count, scenario = body.get("count", 1), body.get("scenario")
    if isinstance(count, float) and count.is_integer():
        count = int(count)  # 3.0 is the JSON integer 3
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10_000:
        raise InvalidParameter("count", "'count' must be an integer from 1 to 10000")
    if not isinstance(scenario, str):
        raise InvalidParameter("scenario", f"'scenario' must be a scenario's name, got {scenario!r}")
    return json_response({"queue": _ctl(request).enqueue(scenario, count)})


@routes.get("/_videomock/faults", name="control:list_faults")
async def list_faults(request: web.Request) -> web.Response:
    return json_response(_ctl(request).list_faults())


@routes.post("/_videomock/faults", name="control:add_fault")
async def add_fault(request: web.Request) -> web.Response:
    try:
        return json_response(_ctl(request).add_fault(await _json(request, required=True)), status=201)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter("fault", str(exc)) from None


@routes.delete("/_videomock/faults", name="control:clear_faults")
async def clear_faults(request: web.Request) -> web.Response:
    _ctl(request).clear_faults()
    return json_response({"cleared": True})


@routes.delete("/_videomock/faults/{rule_id}", name="control:remove_fault")
async def remove_fault(request: web.Request) -> web.Response:
    rule_id = request.match_info["rule_id"]
    if not _ctl(request).remove_fault(rule_id):
        raise ApiError(f"No fault rule '{rule_id}'", status=404, code="not_found")
    return json_response({"removed": rule_id})


@routes.get("/_videomock/tasks", name="control:tasks")
async def tasks(request: web.Request) -> web.Response:
    return json_response(_ctl(request).tasks())


@routes.get("/_videomock/tasks/{task_id}", name="control:task")
async def task(request: web.Request) -> web.Response:
    return json_response(_ctl(request).task(request.match_info["task_id"]))


@routes.post("/_videomock/tasks/{task_id}/{outcome:succeed|fail|expire}", name="control:force")
async def force(request: web.Request) -> web.Response:
    body = await _json(request, ("error",))
    return json_response(_ctl(request).force(request.match_info["task_id"], request.match_info["outcome"],
                                             error=str(body.get("error", "internal"))))


_FILTERS = ("method", "path", "operation", "task_id")


@routes.get("/_videomock/journal", name="control:journal")
async def journal(request: web.Request) -> web.Response:
    filters: dict[str, Any] = {k: request.query[k] for k in _FILTERS if k in request.query}
    for name in ("status", "since"):
        if name in request.query:
            try:
                filters[name] = int(request.query[name])
            except ValueError:
                raise InvalidParameter(name, f"'{name}' must be an integer") from None
    kind = request.query.get("format", "json")
    if kind == "har":
        return json_response(_ctl(request).har(f"{request.scheme}://{request.host}", **filters))
    if kind != "json":
        raise InvalidParameter("format", "'format' must be json or har")
    return json_response(_ctl(request).entries(**filters))


@routes.delete("/_videomock/journal", name="control:clear_journal")
async def clear_journal(request: web.Request) -> web.Response:
    _ctl(request).reset(journal_only=True)
    return json_response({"cleared": True})
