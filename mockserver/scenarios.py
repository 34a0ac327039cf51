"""Scenarios: which scripted lifecycle a new task follows, chosen most specific first.

Selection order (issue 5): the ``X-Videomock-Scenario`` request header; a directive in the prompt
(``[videomock scenario=NAME]``, like card-number test values in payment sandboxes); the API key's
scenario; the next entry of the control API's next-task queue; the scenario file's default (with
its per-model failure rates). State lives in one :class:`ScenarioBook` per app instance.

A scenario file is YAML or JSON (examples in ``fixtures/scenarios/``)::

    default: success              # scenario of tasks nothing else picks
    ttl: 3600                     # seconds from completion to expiry
    not_ready: "202"              # content endpoint while not ready: 202 | json200 | 404
    models:                       # per model ID, family (sora, veo, wanxiang, seedance) or "*"
      veo: {queued: 2, generating: 40, failure_rate: 0.1,
            failure_kinds: {content_policy: 3, timeout: 1}}
    scripts:                      # named scripted lifecycles, added to the built-in ones
      slow-then-fail: {generating: 300, fail_at: 90, error: timeout}
    keys:                         # API key -> scenario
      sk-always-fails: content_policy
    faults: []                    # fault rules (see mockserver.faults)
"""

from __future__ import annotations

import math
import random
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import jsonschema

from mockserver.errors import InvalidParameter
from mockserver.lifecycle import BUILTIN_SCRIPTS, DEFAULT_TIMINGS, FAILURES, Script, Timing

#: Request header that picks a task's scenario.
SCENARIO_HEADER = "X-Videomock-Scenario"
#: Prompt directive that picks a task's scenario, for programs that cannot set headers.
SCENARIO_DIRECTIVE = re.compile(r"\[videomock\s+scenario=([\w.-]+)\]")


#: JSON Schema of a scenario file's top level (scripts and fault rules are checked by their own parsers).
FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "default": {"type": "string"},
        "ttl": {"type": "number", "minimum": 0},
        "not_ready": {"enum": ["202", "json200", "404", 202, 404]},
        "models": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "queued": {"type": "number", "minimum": 0},
                "generating": {"type": "number", "minimum": 0},
                "failure_rate": {"type": "number", "minimum": 0, "maximum": 1},
                "failure_kinds": {"type": "object", "minProperties": 1,
                                  "additionalProperties": {"type": "number", "exclusiveMinimum": 0}},
            },
        }},
        "scripts": {"type": "object", "additionalProperties": {"type": "object"}},
        "keys": {"type": "object", "additionalProperties": {"type": "string"}},
        "faults": {"type": "array", "items": {"type": "object"}},
    },
    "patternProperties": {"^_": {}},
    "additionalProperties": False,
}
_FILE_VALIDATOR = jsonschema.Draft202012Validator(FILE_SCHEMA)


@dataclass(frozen=True, slots=True)
class ModelRule:
    """Timings and random failures for a model, a family or every model (``*``).

    Attributes:
        queued: Queue wait, in seconds (None: the family default).
        generating: Generation time, in seconds, whatever the video's duration (None: the family default).
        failure_rate: Probability (0-1) that a task picked by the file default fails.
        failure_kinds: Relative weights of the failure kinds (content_policy, timeout, internal).
    """

    queued: float | None = None
    generating: float | None = None
    failure_rate: float = 0.0
    failure_kinds: Mapping[str, float] = field(default_factory=lambda: {"content_policy": 1.0})

    def __post_init__(self) -> None:
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be between 0 and 1, got {self.failure_rate}")
        unknown = set(self.failure_kinds) - set(FAILURES)
        if unknown:
            raise ValueError(f"unknown failure kinds {sorted(unknown)}; one of {', '.join(FAILURES)}")


@dataclass(slots=True)
class Selection:
    """The outcome of scenario selection for one new task.

    Attributes:
        name: The scenario's name.
        script: Its scripted lifecycle (with the model rule's timings applied).
        source: What picked it: ``header``, ``prompt``, ``api_key``, ``queue``, ``default`` or ``failure_rate``.
    """

    name: str
    script: Script
    source: str


def _script(name: str, spec: Mapping[str, Any]) -> Script:
    known = {f.name for f in fields(Script)}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"script {name!r}: unknown keys {sorted(unknown)}; allowed: {', '.join(sorted(known))}")
    values = dict(spec)
    if values.get("stall_seconds") in ("inf", "forever", None):
        values.pop("stall_seconds", None)
    # Types first, so that a bad script fails when added, not when a task follows it.
    for key in ("fail_at", "stall_at"):
        value = values.get(key)
        if isinstance(value, float) and value.is_integer():
            values[key] = value = int(value)  # 40.0 is the JSON integer 40
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"script {name!r}: {key} must be an integer percent, got {value!r}")
    for key in ("stall_seconds", "ttl", "queued", "generating"):
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not math.isfinite(value) or value < 0):
            raise ValueError(f"script {name!r}: {key} must be a number of seconds, got {value!r}")
    if "error" in values and not isinstance(values["error"], str):
        raise ValueError(f"script {name!r}: error must be a failure kind, got {values['error']!r}")
    if values.get("not_ready") is not None:
        values["not_ready"] = str(values["not_ready"])
    return Script(**values)


class ScenarioBook:
    """Scenario file contents plus the runtime queue; one per app instance.

    Args:
        data: A parsed scenario file (see the module docstring), or None for the defaults.
        seed: Seed of the random source for failure rates.

    Raises:
        ValueError: the file has an unknown key, scenario or failure kind.
    """

    def __init__(self, data: Mapping[str, Any] | None = None, *, seed: int | None = None) -> None:
        data = dict(data or {})
        problem = jsonschema.exceptions.best_match(_FILE_VALIDATOR.iter_errors(data))
        if problem is not None:
            where = "/".join(str(p) for p in problem.absolute_path) or "(top level)"
            raise ValueError(f"scenario file: {where}: {problem.message}")
        data = {k: v for k, v in data.items() if not k.startswith("_")}  # "_comment" keys
        self.scripts: dict[str, Script] = dict(BUILTIN_SCRIPTS)
        for name, spec in (data.get("scripts") or {}).items():
            self.scripts[name] = _script(name, spec)
        self.models = {name: ModelRule(**rule) for name, rule in (data.get("models") or {}).items()}
        self.keys: dict[str, str] = dict(data.get("keys") or {})
        self.default: str = data.get("default", "success")
        self.ttl: float | None = data.get("ttl")
        self.not_ready: str = str(data.get("not_ready", "202"))
        self.fault_specs: list[dict[str, Any]] = list(data.get("faults") or [])
        self.queue: deque[str] = deque()
        self._random = random.Random(seed)
        for name in [self.default, *self.keys.values()]:
            if name not in self.scripts:
                raise ValueError(f"scenario file names an unknown scenario {name!r}; one of "
                                 f"{', '.join(sorted(self.scripts))}")
        if self.not_ready not in ("202", "json200", "404"):
            raise ValueError(f"not_ready must be 202, json200 or 404, got {self.not_ready!r}")

    def check(self, name: str, source: str = "scenario") -> Script:
        """The script called ``name``.

        Raises:
            InvalidParameter: no such scenario (the message lists them).
        """
        try:
            return self.scripts[name]
        except KeyError:
            raise InvalidParameter(source, f"unknown videomock scenario {name!r}; one of "
                                           f"{', '.join(sorted(self.scripts))}") from None

    def add(self, name: str, spec: Mapping[str, Any]) -> Script:
        """Add or replace a named script (control API).

        Raises:
            ValueError: invalid script fields.
        """
        self.scripts[name] = _script(name, spec)
        return self.scripts[name]

    def enqueue(self, name: str, count: int = 1) -> None:
        """Make the next ``count`` tasks that nothing more specific picks follow ``name``.

        Raises:
            InvalidParameter: no such scenario.
        """
        self.check(name)
        self.queue.extend([name] * count)

    def rule_for(self, model: str, family: str) -> ModelRule | None:
        """The most specific model rule: the model ID, then the family, then ``*``."""
        for key in (model, family, "*"):
            if key in self.models:
                return self.models[key]
        return None

    def timing(self, model: str, family: str) -> Timing:
        """The model's timing with the file's overrides applied."""
        base = DEFAULT_TIMINGS[family]
        rule = self.rule_for(model, family)
        if rule is None:
            return base
        return Timing(base.submitted, base.queued if rule.queued is None else rule.queued,
                      base.base if rule.generating is None else rule.generating,
                      base.per_second if rule.generating is None else 0.0)

    def select(self, *, header: str | None, prompt: str, api_key: str, model: str, family: str) -> Selection:
        """Pick the scenario of a new task, most specific first (see the module docstring).

        Raises:
            InvalidParameter: the header or prompt names an unknown scenario.
        """
        if header is not None:
            return Selection(header, self.check(header, SCENARIO_HEADER), "header")
        match = SCENARIO_DIRECTIVE.search(prompt)
        if match:
            return Selection(match.group(1), self.check(match.group(1), "prompt"), "prompt")
        if api_key in self.keys:
            return Selection(self.keys[api_key], self.check(self.keys[api_key]), "api_key")
        if self.queue:
            name = self.queue.popleft()
            return Selection(name, self.check(name), "queue")
        rule = self.rule_for(model, family)
        if (self.default == "success" and rule is not None and rule.failure_rate
                and self._random.random() < rule.failure_rate):
            kinds = list(rule.failure_kinds)
            kind = self._random.choices(kinds, weights=[rule.failure_kinds[k] for k in kinds])[0]
            return Selection(kind, Script(fail_at=self._random.randint(5, 95), error=kind), "failure_rate")
        return Selection(self.default, self.check(self.default), "default")

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (control API ``GET /_videomock/scenarios``)."""
        return {
            "default": self.default, "ttl": self.ttl, "not_ready": self.not_ready, "queue": list(self.queue),
            "keys": {key[:6] + "…": name for key, name in self.keys.items()},
            "scripts": {name: {f.name: _jsonable(getattr(script, f.name)) for f in fields(Script)}
                        for name, script in sorted(self.scripts.items())},
            "models": {name: {"queued": r.queued, "generating": r.generating, "failure_rate": r.failure_rate,
                              "failure_kinds": dict(r.failure_kinds)} for name, r in self.models.items()},
        }


def _jsonable(value: Any) -> Any:
    return "inf" if value == float("inf") else value
