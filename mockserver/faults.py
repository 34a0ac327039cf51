"""Fault rules: make a request misbehave on purpose, deterministically.

A rule matches requests (route/operation, dialect, model, API key, the nth match, a seeded
probability) and applies one action: answer with any status and body (429 with ``Retry-After`` and
``retry-after-ms``, 5xx, 401/403 …), make the content endpoint answer "not ready" (202 or
JSON-on-200), send malformed JSON, add latency (fixed, uniform, log-normal), send the body slowly,
cut it at byte N, reset the connection, or hang. With no rule, no fault ever fires.

A rule as data (YAML/JSON in a scenario file's ``faults:``, ``POST /_videomock/faults``, or
:meth:`FaultBook.add`)::

    {"match": {"operation": "gateway:query_task", "model": "sora-2", "nth": [2, 3]},
     "action": "respond", "status": 429, "retry_after": 2}
    {"match": {"path": "/media/*"}, "action": "truncate", "at_byte": 1000}
    {"match": {"probability": 0.1}, "action": "respond", "status": 503, "times": 5}
    {"match": {}, "latency": {"lognormal": {"mu": -3, "sigma": 0.5}}}
"""

from __future__ import annotations

import fnmatch
import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("pass", "respond", "not_ready", "malformed_json", "slow_body", "truncate", "reset", "hang")


@dataclass(frozen=True, slots=True)
class Match:
    """Which requests a rule applies to; every given criterion must hold.

    Attributes:
        operation: Route name, e.g. ``gateway:query_task`` or ``openai:retrieve_video_content`` (glob).
        path: Request path glob, e.g. ``/v1/videos/*/content``.
        method: HTTP method.
        dialect: ``gateway``, ``openai``, ``media``.
        model: The task's or the request's model.
        api_key: The Bearer key sent.
        nth: Fire only on these occurrences (1-based) of requests matching the other criteria.
        probability: Fire with this probability (0-1), from the app's seeded random source.
    """

    operation: str | None = None
    path: str | None = None
    method: str | None = None
    dialect: str | None = None
    model: str | None = None
    api_key: str | None = None
    nth: tuple[int, ...] | None = None
    probability: float | None = None


@dataclass(frozen=True, slots=True)
class Latency:
    """Added delay before the answer, in real seconds: ``fixed``, ``uniform`` [low, high] or ``lognormal``."""

    fixed: float | None = None
    uniform: tuple[float, float] | None = None
    lognormal: tuple[float, float] | None = None  # (mu, sigma) of the underlying normal

    def sample(self, rng: random.Random) -> float:
        """One delay, in seconds."""
        if self.uniform is not None:
            return rng.uniform(*self.uniform)
        if self.lognormal is not None:
            return rng.lognormvariate(*self.lognormal)
        return self.fixed or 0.0


@dataclass(slots=True)
class FaultRule:
    """One rule: a match, an action and its parameters.

    Attributes:
        id: ``fault_<n>``.
        match: Which requests it applies to.
        action: One of :data:`ACTIONS` (``pass`` only adds latency).
        status: HTTP status for ``respond``.
        body: Body for ``respond`` (JSON object or text); None: the dialect's error envelope.
        headers: Extra response headers for ``respond``.
        retry_after: Seconds for ``Retry-After`` (and ``retry-after-ms``) on ``respond``.
        mode: ``202`` or ``json200`` for ``not_ready``.
        bytes_per_second: Body rate for ``slow_body``.
        at_byte: Where ``truncate`` cuts the body.
        seconds: How long ``hang`` holds the connection before closing it without an answer.
        latency: Added delay, or None.
        times: Fire at most this many times (None: unlimited).
        fired: How many times it fired.
        seen: How many requests matched its criteria (for ``nth``).
    """

    id: str
    match: Match
    action: str = "respond"
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None
    mode: str = "202"
    bytes_per_second: float = 1024.0
    at_byte: int = 0
    seconds: float = 3600.0
    latency: Latency | None = None
    times: int | None = None
    fired: int = 0
    seen: int = 0

    def describe(self) -> dict[str, Any]:
        """The rule as JSON-ready data."""
        data: dict[str, Any] = {"id": self.id, "action": self.action, "fired": self.fired, "seen": self.seen,
                                "times": self.times,
                                "match": {k: getattr(self.match, k) for k in Match.__slots__
                                          if getattr(self.match, k) is not None}}
        extra = {"respond": ("status", "body", "headers", "retry_after"), "not_ready": ("mode",),
                 "slow_body": ("bytes_per_second",), "truncate": ("at_byte",), "hang": ("seconds",)}
        for key in extra.get(self.action, ()):
            data[key] = getattr(self, key)
        if self.latency is not None:
            data["latency"] = {k: getattr(self.latency, k) for k in Latency.__slots__
                               if getattr(self.latency, k) is not None}
        if "api_key" in data["match"]:
            data["match"]["api_key"] = data["match"]["api_key"][:6] + "…"
        return data


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What a rule can match on, taken from one request."""

    operation: str
    path: str
    method: str
    dialect: str
    model: str | None
    api_key: str


def _latency(spec: Any) -> Latency | None:
    if spec is None:
        return None
    if isinstance(spec, int | float):
        return Latency(fixed=float(spec))
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ValueError("latency must be seconds, or one of {fixed: s}, {uniform: [low, high]}, "
                         "{lognormal: {mu, sigma}}")
    (kind, value), = spec.items()
    if kind == "fixed":
        return Latency(fixed=float(value))
    if kind == "uniform":
        low, high = (float(v) for v in value)
        return Latency(uniform=(low, high))
    if kind == "lognormal":
        return Latency(lognormal=(float(value["mu"]), float(value["sigma"])))
    raise ValueError(f"unknown latency kind {kind!r}; one of fixed, uniform, lognormal")


class FaultBook:
    """The fault rules of one app instance, checked in the order they were added.

    Args:
        seed: Seed of the random source for ``probability`` and random latency.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.rules: list[FaultRule] = []
        self._random = random.Random(seed)
        self._ids = itertools.count(1)

    def add(self, spec: Mapping[str, Any]) -> FaultRule:
        """Add a rule from data (see the module docstring).

        Raises:
            ValueError: unknown keys, action or values (the message says which).
        """
        spec = dict(spec)
        match_spec = dict(spec.pop("match", None) or {})
        unknown_match = set(match_spec) - set(Match.__slots__)
        if unknown_match:
            raise ValueError(f"unknown match keys {sorted(unknown_match)}; allowed: {', '.join(Match.__slots__)}")
        nth = match_spec.get("nth")
        if nth is not None:
            match_spec["nth"] = tuple(int(n) for n in ([nth] if isinstance(nth, int) else nth))
        probability = match_spec.get("probability")
        if probability is not None and not 0 <= float(probability) <= 1:
            raise ValueError(f"probability must be between 0 and 1, got {probability}")
        action = spec.pop("action", "pass" if "latency" in spec else "respond")
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        latency = _latency(spec.pop("latency", None))
        allowed = {"status", "body", "headers", "retry_after", "mode", "bytes_per_second", "at_byte", "seconds",
                   "times"}
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}")
        if action == "not_ready" and str(spec.get("mode", "202")) not in ("202", "json200"):
            raise ValueError("not_ready mode must be 202 or json200")
        if action == "respond" and not 100 <= int(spec.get("status", 500)) <= 599:
            raise ValueError(f"status must be an HTTP status, got {spec.get('status')}")
        if "mode" in spec:
            spec["mode"] = str(spec["mode"])
        rule = FaultRule(id=f"fault_{next(self._ids)}", match=Match(**match_spec), action=action, latency=latency,
                         **spec)
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        """Remove one rule; whether it existed."""
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) != before

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    def pick(self, facts: RequestFacts) -> FaultRule | None:
        """The first rule that fires for this request (and count it), or None."""
        for rule in self.rules:
            if rule.times is not None and rule.fired >= rule.times:
                continue
            if not _matches(rule.match, facts):
                continue
            rule.seen += 1
            if rule.match.nth is not None and rule.seen not in rule.match.nth:
                continue
            if rule.match.probability is not None and self._random.random() >= rule.match.probability:
                continue
            rule.fired += 1
            return rule
        return None

    def delay(self, rule: FaultRule) -> float:
        """The latency to add for ``rule``, in seconds."""
        return rule.latency.sample(self._random) if rule.latency else 0.0


def _matches(match: Match, facts: RequestFacts) -> bool:
    checks = (
        (match.operation, lambda v: fnmatch.fnmatchcase(facts.operation, v)),
        (match.path, lambda v: fnmatch.fnmatchcase(facts.path, v)),
        (match.method, lambda v: facts.method == v.upper()),
        (match.dialect, lambda v: facts.dialect == v),
        (match.model, lambda v: facts.model == v),
        (match.api_key, lambda v: facts.api_key == v),
    )
    return all(value is None or test(value) for value, test in checks)
