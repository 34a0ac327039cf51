"""A task's lifecycle: the transition table, the plan a task follows, and its state at any time.

A task's status is never stored: it is derived from the task's :class:`Plan` and the clock, so it
moves forward on its own and a terminal status never changes (the clock never runs backwards).
Statuses are the gateway dialect's words (seed 003: submitted, queued, in_progress, succeeded,
failed); each dialect and profile maps them to its own vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from typing import NamedTuple


class Status(StrEnum):
    """The internal status of a task (seed 003 vocabulary)."""

    SUBMITTED = "submitted"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


#: Which status may follow which. The lifecycle of every plan is checked against it.
TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.SUBMITTED: (Status.QUEUED, Status.IN_PROGRESS, Status.FAILED),
    Status.QUEUED: (Status.IN_PROGRESS, Status.FAILED),
    Status.IN_PROGRESS: (Status.SUCCEEDED, Status.FAILED),
    Status.SUCCEEDED: (),
    Status.FAILED: (),
}

TERMINAL = frozenset(s for s, following in TRANSITIONS.items() if not following)
#: The terminal statuses as module constants, for the status poll's path: on Python 3.11 reading
#: ``Status.SUCCEEDED`` costs about ten times a global's lookup (``python -m timeit``, bench/README.md).
SUCCEEDED, FAILED = Status.SUCCEEDED, Status.FAILED


@dataclass(frozen=True, slots=True)
class TaskError:
    """Why a task failed: the ``error`` object of a failed task.

    Attributes:
        code: Machine-readable reason, e.g. ``content_policy_violation``.
        message: Human-readable reason.
    """

    code: str
    message: str


#: Failure kinds a plan can end with (seed 003: "Please follow content policies ...").
FAILURES: dict[str, TaskError] = {
    "content_policy": TaskError("content_policy_violation", "Prompt contains inappropriate content"),
    "timeout": TaskError("generation_timeout", "Video generation timed out upstream"),
    "internal": TaskError("internal_error", "The upstream video service failed while generating"),
}


@dataclass(frozen=True, slots=True)
class Phase:
    """One non-terminal stretch of a plan.

    Attributes:
        status: The status shown during the phase.
        seconds: How long it lasts in simulated seconds (``math.inf``: it never ends).
        progress: Progress (percent) at the start and at the end of the phase; in between it moves
            linearly with time.
    """

    status: Status
    seconds: float
    progress: tuple[int, int] = (0, 0)


@dataclass(frozen=True, slots=True)
class Plan:
    """The whole life of one task, fixed when it is created.

    Attributes:
        phases: The non-terminal phases in order, starting with ``submitted``.
        error: None to end in ``succeeded``; a TaskError to end in ``failed``.
        ttl: Seconds from completion until the video expires ("Generated videos have an
            expiration period", seed 003).
    """

    phases: tuple[Phase, ...]
    error: TaskError | None = None
    ttl: float = 3600.0
    #: Simulated seconds from submission to the terminal status (inf if it stalls); derived, summed
    #: phase by phase as :func:`snapshot` walks them, and kept so a poll need not walk the phases.
    end: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        statuses = [p.status for p in self.phases] + [self.outcome]
        if statuses[0] is not Status.SUBMITTED:
            raise ValueError("a plan starts in 'submitted'")
        for before, after in pairwise(statuses):
            if after is not before and after not in TRANSITIONS[before]:
                raise ValueError(f"a plan cannot go from {before} to {after}")
        end = 0.0
        for phase in self.phases:
            end += phase.seconds
        object.__setattr__(self, "end", end)  # frozen: set once, here

    @property
    def outcome(self) -> Status:
        """The terminal status this plan ends in."""
        return Status.SUCCEEDED if self.error is None else Status.FAILED


class Snapshot(NamedTuple):
    """A task's state at one moment (a named tuple: one is made on every status poll).

    Attributes:
        status: Status at that moment.
        progress: Approximate completion, 0-100 percent.
        completed_at: Unix seconds when it reached a terminal status, else None.
        expires_at: Unix seconds when its video expires, else None (not yet completed).
        expired: Whether ``expires_at`` has passed.
    """

    status: Status
    progress: int
    completed_at: float | None
    expires_at: float | None
    expired: bool

    @property
    def terminal(self) -> bool:
        """Whether the status is final."""
        return self.status in TERMINAL


_new_snapshot = tuple.__new__  # what Snapshot(...) calls, without its Python-level __new__: one per status poll


def snapshot(plan: Plan, created_at: float, now: float) -> Snapshot:
    """The state of a task that follows ``plan`` from ``created_at``, at ``now`` (unix seconds)."""
    elapsed = now - created_at
    if elapsed < 0.0:
        elapsed = 0.0
    if elapsed >= plan.end:  # terminal: the common case of a poll, answered without walking the phases
        completed_at = created_at + plan.end
        expires_at = completed_at + plan.ttl
        if plan.error is None:
            return _new_snapshot(Snapshot, (SUCCEEDED, 100, completed_at, expires_at, now >= expires_at))
        last = plan.phases[-1].progress[1] if plan.phases else 0
        return _new_snapshot(Snapshot, (FAILED, last, completed_at, expires_at, now >= expires_at))
    start = 0.0
    for phase in plan.phases:
        if elapsed < start + phase.seconds:
            low, high = phase.progress
            fraction = 0.0 if math.isinf(phase.seconds) else (elapsed - start) / phase.seconds
            return _new_snapshot(Snapshot, (phase.status, int(low + (high - low) * fraction), None, None, False))
        start += phase.seconds
    raise AssertionError("unreachable: elapsed < plan.end means some phase is running")


@dataclass(frozen=True, slots=True)
class Timing:
    """Simulated durations of a model's generation, in seconds.

    Attributes:
        submitted: Time shown as ``submitted`` before the task is queued.
        queued: Queue wait.
        base: Fixed part of the generation time.
        per_second: Generation time per second of requested video.
    """

    submitted: float = 1.0
    queued: float = 5.0
    base: float = 30.0
    per_second: float = 4.0

    def generating(self, video_seconds: float) -> float:
        """Generation time for a video of ``video_seconds`` seconds."""
        return self.base + self.per_second * video_seconds


#: Realistic defaults per model family: real generations take tens of seconds to minutes.
DEFAULT_TIMINGS: dict[str, Timing] = {
    "sora": Timing(queued=5.0, base=30.0, per_second=4.0),
    "veo": Timing(queued=3.0, base=25.0, per_second=4.0),
    "wanxiang": Timing(queued=5.0, base=30.0, per_second=4.0),
    "seedance": Timing(queued=4.0, base=20.0, per_second=4.0),
}

@dataclass(frozen=True, slots=True)
class Script:
    """A scripted lifecycle: how one task's life deviates from a plain success.

    Attributes:
        fail_at: Fail when progress reaches this percent (0-99), or None to succeed.
        error: The failure kind when failing (a key of :data:`FAILURES`).
        stall_at: Progress percent at which progress stalls, or None.
        stall_seconds: How long it stalls, in simulated seconds (``math.inf``: forever).
        ttl: Seconds from completion to expiry, overriding the default (e.g. to expire early).
        queued: Queue wait in seconds, overriding the model's timing.
        generating: Generation time in seconds, overriding the model's timing.
        not_ready: How the content endpoint answers while the task is not ready (``202``,
            ``json200`` or ``404``), overriding the server default.
    """

    fail_at: int | None = None
    error: str = "content_policy"
    stall_at: int | None = None
    stall_seconds: float = math.inf
    ttl: float | None = None
    queued: float | None = None
    generating: float | None = None
    not_ready: str | None = None

    def __post_init__(self) -> None:
        for name in ("fail_at", "stall_at"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 99:
                raise ValueError(f"{name} must be a percent between 0 and 99, got {value}")
        if self.error not in FAILURES:
            raise ValueError(f"unknown failure kind {self.error!r}; one of {', '.join(FAILURES)}")
        if self.stall_seconds <= 0:
            raise ValueError("stall_seconds must be positive")
        if self.not_ready not in (None, "202", "json200", "404"):
            raise ValueError(f"not_ready must be 202, json200 or 404, got {self.not_ready!r}")


#: Built-in scripts, by name (a scenario file may add more or override these).
BUILTIN_SCRIPTS: dict[str, Script] = {
    "success": Script(),
    "content_policy": Script(fail_at=40, error="content_policy"),
    "timeout": Script(fail_at=40, error="timeout"),
    "internal": Script(fail_at=40, error="internal"),
    "fail-at-40": Script(fail_at=40),
    "stall": Script(stall_at=0),
    "expire-early": Script(ttl=60.0),
    "stall-then-resume": Script(stall_at=50, stall_seconds=120.0),
}


def plan_for(timing: Timing, video_seconds: float, script: Script = BUILTIN_SCRIPTS["success"], *,
             ttl: float = 3600.0) -> Plan:
    """Build the plan of a new task.

    Args:
        timing: The model's timing.
        video_seconds: Requested video duration, in seconds.
        script: How the life deviates from a plain success (fail at N %, stall, expire early …).
        ttl: Default seconds from completion to expiry (the script's ``ttl`` wins).
    """
    generating = timing.generating(video_seconds) if script.generating is None else script.generating
    queued = timing.queued if script.queued is None else script.queued
    end = 99 if script.fail_at is None else script.fail_at
    phases = [Phase(Status.SUBMITTED, timing.submitted), Phase(Status.QUEUED, queued)]
    stall = script.stall_at if script.stall_at is not None and script.stall_at <= end else None
    for index, (low, high) in enumerate([(0, end)] if stall is None else [(0, stall), (stall, end)]):
        if high > low:
            phases.append(Phase(Status.IN_PROGRESS, generating * (high - low) / 99, (low, high)))
        if stall is not None and index == 0:
            phases.append(Phase(Status.IN_PROGRESS, script.stall_seconds, (stall, stall)))
    error = None if script.fail_at is None else FAILURES[script.error]
    return Plan(tuple(phases), error, ttl if script.ttl is None else script.ttl)


def settle(plan: Plan, created_at: float, now: float, *, error: TaskError | None = None,
           expire: bool = False) -> Plan:
    """A plan that follows ``plan`` until ``now`` and then ends at once (the control API's force).

    Args:
        plan: The current plan.
        created_at: When the task was submitted (unix seconds).
        now: The moment to end it (unix seconds).
        error: None to succeed now; a TaskError to fail now.
        expire: Also make the video expire now.

    Returns:
        The new plan; a task already terminal keeps its outcome (only ``expire`` applies to it).
    """
    state = snapshot(plan, created_at, now)
    if state.terminal:
        if not expire:
            return plan
        assert state.completed_at is not None
        return Plan(plan.phases, plan.error, max(0.0, now - state.completed_at))
    elapsed, phases = max(0.0, now - created_at), []
    start = 0.0
    for phase in plan.phases:
        if start + phase.seconds <= elapsed:
            phases.append(phase)
            start += phase.seconds
            continue
        phases.append(Phase(phase.status, elapsed - start, (phase.progress[0], state.progress)))
        break
    if error is None and phases[-1].status is not Status.IN_PROGRESS:
        phases.append(Phase(Status.IN_PROGRESS, 0.0, (state.progress, state.progress)))
    return Plan(tuple(phases), error, 0.0 if expire else plan.ttl)
