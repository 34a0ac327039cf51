"""The state one conformance run shares between checks: the HTTP client, exchanges, shared tasks, budget.

Requests go through :meth:`Context.request`, which records every exchange (keys redacted) as
evidence and turns a reset, a timeout or a refused connection into a recorded exchange with status 0
instead of an exception, so a misbehaving gateway becomes a finding, never a crash. Polling honours
``Retry-After`` (and ``retry-after-ms``) and backs off on 5xx.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.failures import BudgetExceeded, Finding, NotApplicable

#: The cheapest documented request of each gateway model family (seed 003), used for shared tasks.
CHEAPEST: dict[str, dict[str, Any]] = {
    "sora": {"model": "sora-2", "duration": 5, "resolution": "480p", "aspect_ratio": "16:9"},
    "veo": {"model": "veo-3.1-fast-generate-preview", "durationSeconds": 4, "aspectRatio": "16:9",
            "resolution": "720p"},
    "wanxiang": {"model": "wanx-video-v1", "duration": 3, "size": "1280x720"},
    "seedance": {"model": "seedance-1.0", "duration": 4, "aspect_ratio": "16:9", "resolution": "480p"},
    "openai": {"model": "sora-2", "seconds": "4", "size": "720x1280"},
}
#: What each shared task should decode to: (width, height, seconds).
EXPECTED_MEDIA: dict[str, tuple[int, int, int]] = {
    "sora": (854, 480, 5), "veo": (1280, 720, 4), "wanxiang": (1280, 720, 3), "seedance": (854, 480, 4),
    "openai": (720, 1280, 4),
}
PROMPT = "A red ball rolling across a wooden table, studio light"
TERMINAL = {"succeeded", "failed", "completed", "SUCCESS", "FAILURE"}


@dataclass(slots=True)
class Exchange:
    """One request and its response, as evidence (keys redacted, bodies excerpted)."""

    method: str
    url: str
    status: int
    headers: dict[str, str]
    content_type: str
    body: bytes
    seconds: float
    error: str | None = None

    def json(self) -> Any:
        """The body parsed as JSON.

        Raises:
            Finding: the body is not JSON.
        """
        try:
            return json.loads(self.body)
        except ValueError:
            raise Finding(f"{self.method} {self.url} answered a body that is not JSON "
                          f"({self.content_type or 'no content type'})", [self.evidence()]) from None

    def evidence(self) -> dict[str, Any]:
        """A JSON-ready excerpt for reports."""
        if self.content_type.startswith(("application/json", "text/")) or not self.body:
            excerpt = self.body[:600].decode("utf-8", "replace")
        else:
            excerpt = f"<{len(self.body)} bytes of {self.content_type or 'unknown type'}>"
        if self.error:
            excerpt = f"<{self.error}>"
        return {"method": self.method, "url": self.url, "status": self.status, "content_type": self.content_type,
                "headers": {k: v for k, v in self.headers.items()
                            if k.lower() in ("content-type", "content-length", "retry-after", "location")},
                "body_excerpt": excerpt, "seconds": round(self.seconds, 3)}


@dataclass(slots=True)
class TaskRun:
    """A task created by the kit and followed to its end.

    Attributes:
        kind: Shared task kind (``sora``, ``veo``, ``wanxiang``, ``seedance``, ``openai``) or a label.
        request: The submit body.
        submit: The submit exchange.
        task_id: The id the gateway returned.
        polls: Every status read, in order (exchange and parsed body).
        final: The last status body.
    """

    kind: str
    request: dict[str, Any]
    submit: Exchange
    task_id: str
    polls: list[tuple[Exchange, Any]] = field(default_factory=list)
    final: Any = None


@dataclass
class Context:
    """Everything a check needs.

    Args:
        base_url: The gateway's base URL, without ``/v1``.
        api_key: The Bearer key (never written to reports).
        dialects: The dialects to check (``gateway``, ``openai``).
        models: Gateway model families to create tasks for (default: all four).
        budget: Most tasks the run may create (None: no cap).
        task_timeout: Seconds to wait for one task to finish.
        poll_interval: Seconds between status reads (the seeds recommend 3-5 s).
        request_timeout: Seconds for one HTTP request.
        sleep: The sleep function (tests use a fast one).
    """

    base_url: str
    api_key: str
    dialects: tuple[str, ...] = ("gateway", "openai")
    models: tuple[str, ...] = ("sora", "veo", "wanxiang", "seedance")
    budget: int | None = None
    task_timeout: float = 900.0
    poll_interval: float = 5.0
    request_timeout: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    exchanges: list[Exchange] = field(default_factory=list)
    observations: dict[str, Any] = field(default_factory=dict)
    created: int = 0
    _tasks: dict[str, TaskRun] = field(default_factory=dict)
    _client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.request_timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def request(self, method: str, path: str, *, auth: str | None = "default", **kwargs: Any) -> Exchange:
        """Send one request and record it. ``auth=None`` sends no Authorization; a string sends that key."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if auth is not None:
            headers["Authorization"] = f"Bearer {self.api_key if auth == 'default' else auth}"
        started = time.perf_counter()
        url = str(self.client.base_url.join(path)) if not path.startswith("http") else path
        try:
            response = self.client.request(method, path, headers=headers, **kwargs)
            url = str(response.request.url)  # what was really requested (a base URL's path prefix kept)
            exchange = Exchange(method, _redact(url, self.api_key), response.status_code, dict(response.headers),
                                response.headers.get("content-type", "").split(";")[0].strip(), response.content,
                                time.perf_counter() - started)
        except httpx.HTTPError as exc:
            exchange = Exchange(method, _redact(url, self.api_key), 0, {}, "", b"", time.perf_counter() - started,
                                error=f"{type(exc).__name__}: {exc}")
        self.exchanges.append(exchange)
        return exchange

    def require(self, dialect: str) -> None:
        """Raise NotApplicable unless ``dialect`` is being checked."""
        if dialect not in self.dialects:
            raise NotApplicable(f"the {dialect} dialect is not checked on this gateway")

    def reserve(self, count: int = 1) -> None:
        """Count ``count`` tasks against the budget.

        Raises:
            BudgetExceeded: the budget would be exceeded.
        """
        if self.budget is not None and self.created + count > self.budget:
            raise BudgetExceeded(f"creating {count} more task(s) would exceed --budget {self.budget}")
        self.created += count

    # --- tasks ---------------------------------------------------------------------------------

    def gateway_task(self, kind: str) -> TaskRun:
        """The shared gateway task of a family, followed to a terminal status; created once per run.

        It uses the family's cheapest documented parameters (:data:`CHEAPEST`).

        Raises:
            NotApplicable: the family is not selected, or over budget.
            Finding: the submit or the polling misbehaved.
        """
        self.require("gateway")
        if kind not in self.models:
            raise NotApplicable(f"model family {kind} is not selected (--models)")
        if kind not in self._tasks:
            self._tasks[kind] = self.follow(self.submit_gateway(kind, {**CHEAPEST[kind], "prompt": PROMPT}))
        return self._tasks[kind]

    def openai_task(self) -> TaskRun:
        """The shared OpenAI-dialect task (sora-2, 4 s, 720x1280), followed to a terminal status."""
        self.require("openai")
        if "openai" not in self._tasks:
            self._tasks["openai"] = self.follow(self.submit_openai({**CHEAPEST["openai"], "prompt": PROMPT}))
        return self._tasks["openai"]

    def submit_gateway(self, kind: str, body: dict[str, Any]) -> TaskRun:
        """Submit one gateway task (counted against the budget).

        Raises:
            Finding: the submit failed or answered no task_id.
        """
        self.reserve()
        exchange = self.request("POST", "/v1/video/generations", json=body)
        if exchange.status != 200:
            raise Finding(f"submitting a documented {body['model']} request failed with HTTP {exchange.status}",
                          [exchange.evidence()])
        data = exchange.json()
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise Finding("the submit answer carries no task_id (seed 003)", [exchange.evidence()])
        return TaskRun(kind, body, exchange, task_id)

    def submit_openai(self, body: dict[str, Any]) -> TaskRun:
        """Create one OpenAI-dialect video (counted against the budget).

        Raises:
            Finding: the create failed or answered no id.
        """
        self.reserve()
        exchange = self.request("POST", "/v1/videos", json=body)
        if exchange.status != 200:
            raise Finding(f"creating a documented video failed with HTTP {exchange.status}", [exchange.evidence()])
        data = exchange.json()
        video_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(video_id, str) or not video_id:
            raise Finding("the create answer carries no id (reference schema VideoResource)", [exchange.evidence()])
        return TaskRun("openai", body, exchange, video_id)

    def follow(self, run: TaskRun) -> TaskRun:
        """Poll a task until its status is terminal, honouring Retry-After and backing off on 5xx.

        Raises:
            Finding: the gateway kept failing, or the task did not finish within ``task_timeout``.
        """
        path = (f"/v1/videos/{run.task_id}" if run.kind == "openai"
                else f"/v1/video/generations/{run.task_id}")
        deadline = time.monotonic() + self.task_timeout
        failures = 0
        while time.monotonic() < deadline:
            exchange = self.request("GET", path)
            if exchange.status in (429, 503) or exchange.status >= 500 or exchange.status == 0:
                failures += 1
                if failures > 8:
                    raise Finding(f"status reads of {run.task_id} kept failing", [e.evidence() for e in
                                                                                  self.exchanges[-4:]])
                wait = retry_after(exchange)
                self.sleep(min(60.0, self.poll_interval * 2 ** failures) if wait is None else wait)
                continue
            failures = 0
            body = exchange.json()
            run.polls.append((exchange, body))
            status = status_of(body)
            if status in TERMINAL:
                run.final = body
                return run
            self.sleep(self.poll_interval)
        raise Finding(f"task {run.task_id} did not reach a terminal status within {self.task_timeout:g} s",
                      [run.polls[-1][0].evidence()] if run.polls else [])


def status_of(body: Any) -> str | None:
    """The status word of a query body, flat or wrapped in ``{"code", "data"}`` (new-api)."""
    if isinstance(body, dict):
        if isinstance(body.get("data"), dict) and "status" in body["data"]:
            return body["data"]["status"]
        status = body.get("status")
        return status if isinstance(status, str) else None
    return None


def retry_after(exchange: Exchange) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (capped at 120 s), else None."""
    headers = {k.lower(): v for k, v in exchange.headers.items()}
    try:
        if "retry-after-ms" in headers:
            return max(0.0, min(120.0, float(headers["retry-after-ms"]) / 1000))
        if "retry-after" in headers:
            return max(0.0, min(120.0, float(headers["retry-after"])))
    except ValueError:
        return None
    return None


def _redact(url: str, key: str) -> str:
    return url.replace(key, "[redacted]") if key else url
