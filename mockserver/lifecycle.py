"""A task's lifecycle: the transition table, the plan a task follows, and its state at any time.

A task's status is never stored: it is derived from the task's :class:`Plan` and the clock, so it
moves forward on its own and a terminal status never changes (the clock never runs backwards).
Statuses are the gateway dialect's words (seed 003: submitted, queued, in_progress, succeeded,
failed); each dialect and profile maps them to its own vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise


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

    def __post_init__(self) -> None:
        statuses = [p.status for p in self.phases] + [self.outcome]
        if statuses[0] is not Status.SUBMITTED:
            raise ValueError("a plan starts in 'submitted'")
        for before, after in pairwise(statuses):
            if after not in TRANSITIONS[before]:
                raise ValueError(f"a plan cannot go from {before} to {after}")

    @property
    def outcome(self) -> Status:
        """The terminal status this plan ends in."""
        return Status.SUCCEEDED if self.error is None else Status.FAILED

    @property
    def duration(self) -> float:
        """Simulated seconds from submission to the terminal status (inf if it stalls)."""
        return math.fsum(p.seconds for p in self.phases)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A task's state at one moment.

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


def snapshot(plan: Plan, created_at: float, now: float) -> Snapshot:
    """The state of a task that follows ``plan`` from ``created_at``, at ``now`` (unix seconds)."""
    elapsed = max(0.0, now - created_at)
    start = 0.0
    for phase in plan.phases:
        if elapsed < start + phase.seconds:
            low, high = phase.progress
            fraction = 0.0 if math.isinf(phase.seconds) else (elapsed - start) / phase.seconds
            return Snapshot(phase.status, int(low + (high - low) * fraction), None, None, False)
        start += phase.seconds
    completed_at = created_at + start
    expires_at = completed_at + plan.ttl
    last = plan.phases[-1].progress[1] if plan.phases else 0
    progress = 100 if plan.error is None else last
    return Snapshot(plan.outcome, progress, completed_at, expires_at, now >= expires_at)


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

#: Scenario names a request can ask for (header or prompt directive); see :func:`plan_for`.
SCENARIOS = ("success", "content_policy", "timeout", "internal", "stall")


def plan_for(timing: Timing, video_seconds: float, *, scenario: str = "success", ttl: float = 3600.0) -> Plan:
    """Build the plan of a new task.

    Args:
        timing: The model family's timing.
        video_seconds: Requested video duration, in seconds.
        scenario: One of :data:`SCENARIOS`: succeed, fail with a failure kind at 40 % progress, or
            stall forever in ``in_progress``.
        ttl: Seconds from completion to expiry.

    Raises:
        ValueError: unknown scenario.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
    generating = timing.generating(video_seconds)
    head = (Phase(Status.SUBMITTED, timing.submitted), Phase(Status.QUEUED, timing.queued))
    if scenario == "stall":
        return Plan((*head, Phase(Status.IN_PROGRESS, math.inf, (0, 0))), ttl=ttl)
    if scenario in FAILURES:
        return Plan((*head, Phase(Status.IN_PROGRESS, generating * 0.4, (0, 40))), FAILURES[scenario], ttl)
    return Plan((*head, Phase(Status.IN_PROGRESS, generating, (0, 99))), ttl=ttl)
