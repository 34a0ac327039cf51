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
import math
import random
import re
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


#: Longest latency, hang or Retry-After a rule may ask for, in seconds.
MAX_SECONDS = 86_400.0
#: What the dialect criterion can name.
DIALECTS = ("gateway", "openai", "media", "contract")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


def _number(name: str, value: Any, low: float, high: float, *, integer: bool = False,
            low_open: bool = False) -> float:
    """``value`` if it is a finite number (an integer when ``integer``) within [low, high]; else ValueError."""
    if integer and isinstance(value, float) and value.is_integer():
        value = int(value)  # 3.0 is the JSON integer 3
    kinds = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if value < low or (low_open and value == low) or value > high:
        raise ValueError(f"{name} must be {'above' if low_open else 'at least'} {low:g} and at most {high:g}, "
                         f"got {value!r}")
    return value


def _latency(spec: Any) -> Latency | None:
    if spec is None:
        return None
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return Latency(fixed=float(_number("latency", spec, 0, MAX_SECONDS)))
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ValueError("latency must be seconds, or one of {fixed: s}, {uniform: [low, high]}, "
                         "{lognormal: {mu, sigma}}")
    (kind, value), = spec.items()
    if kind == "fixed":
        return Latency(fixed=float(_number("latency.fixed", value, 0, MAX_SECONDS)))
    if kind == "uniform":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError(f"latency.uniform must be [low, high], got {value!r}")
        low, high = (float(_number("latency.uniform", v, 0, MAX_SECONDS)) for v in value)
        return Latency(uniform=(low, high))
    if kind == "lognormal":
        if not isinstance(value, Mapping) or set(value) != {"mu", "sigma"}:
            raise ValueError(f"latency.lognormal must be {{mu, sigma}}, got {value!r}")
        # Bounded like the contract's FaultLatency: a median delay of at most e**8 s (under an hour).
        return Latency(lognormal=(float(_number("latency.lognormal.mu", value["mu"], -20, 8)),
                                  float(_number("latency.lognormal.sigma", value["sigma"], 0, 4))))
    raise ValueError(f"unknown latency kind {kind!r}; one of fixed, uniform, lognormal")


def _check_match(match: Mapping[str, Any]) -> dict[str, Any]:
    """The match criteria, type-checked (null means "any"); ``nth`` as a tuple."""
    checked = dict(match)
    for key in ("operation", "path", "method", "model", "api_key"):
        if checked.get(key) is not None and not isinstance(checked[key], str):
            raise ValueError(f"match.{key} must be a string, got {checked[key]!r}")
    if checked.get("dialect") is not None and checked["dialect"] not in DIALECTS:
        raise ValueError(f"match.dialect must be one of {', '.join(DIALECTS)}, got {checked['dialect']!r}")
    nth = checked.get("nth")
    if nth is not None:
        if not isinstance(nth, list | tuple):
            nth = [nth]
        checked["nth"] = tuple(int(_number("match.nth", n, 1, math.inf, integer=True)) for n in nth)
    if checked.get("probability") is not None:
        _number("match.probability", checked["probability"], 0, 1)
    return checked


def _check_parameters(spec: dict[str, Any]) -> None:
    """Type-check a rule's parameters (integers made ints), so that a bad rule fails when added, not when it fires."""
    if "status" in spec:
        spec["status"] = _number("status", spec["status"], 100, 599, integer=True)
    headers = spec.get("headers", {})
    if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and _HEADER_NAME.fullmatch(k) and _HEADER_VALUE.fullmatch(v)
            for k, v in headers.items()):
        raise ValueError(f"headers must map header names to printable ASCII values, got {headers!r}")
    if spec.get("retry_after") is not None:
        _number("retry_after", spec["retry_after"], 0, MAX_SECONDS)
    if "mode" in spec and str(spec["mode"]) not in ("202", "json200"):
        raise ValueError(f"mode must be 202 or json200, got {spec['mode']!r}")
    if "bytes_per_second" in spec:
        _number("bytes_per_second", spec["bytes_per_second"], 0, 1e12, low_open=True)
    if "at_byte" in spec:
        spec["at_byte"] = _number("at_byte", spec["at_byte"], 0, math.inf, integer=True)
    if "seconds" in spec:
        _number("seconds", spec["seconds"], 0, MAX_SECONDS)
    if spec.get("times") is not None:
        spec["times"] = _number("times", spec["times"], 0, math.inf, integer=True)


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
        raw_match = spec.pop("match", None)
        raw_match = {} if raw_match is None else raw_match
        if not isinstance(raw_match, Mapping):
            raise ValueError(f"match must be an object, got {raw_match!r}")
        unknown_match = set(raw_match) - set(Match.__slots__)
        if unknown_match:
            raise ValueError(f"unknown match keys {sorted(unknown_match)}; allowed: {', '.join(Match.__slots__)}")
        match_spec = _check_match(raw_match)
        action = spec.pop("action", "pass" if "latency" in spec else "respond")
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        latency = _latency(spec.pop("latency", None))
        allowed = {"status", "body", "headers", "retry_after", "mode", "bytes_per_second", "at_byte", "seconds",
                   "times"}
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}")
        _check_parameters(spec)
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
