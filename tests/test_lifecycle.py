"""The transition table, plans and snapshots, without HTTP."""

from __future__ import annotations

import math

import pytest

from mockserver.clock import Clock
from mockserver.lifecycle import (
    BUILTIN_SCRIPTS,
    FAILURES,
    TERMINAL,
    TRANSITIONS,
    Phase,
    Plan,
    Script,
    Status,
    Timing,
    plan_for,
    settle,
    snapshot,
)


def test_terminal_statuses_have_no_successor():
    assert frozenset({Status.SUCCEEDED, Status.FAILED}) == TERMINAL
    assert all(not TRANSITIONS[s] for s in TERMINAL)


def test_plan_refuses_a_transition_outside_the_table():
    with pytest.raises(ValueError, match="plan cannot go from in_progress to queued"):
        Plan((Phase(Status.SUBMITTED, 1), Phase(Status.IN_PROGRESS, 1), Phase(Status.QUEUED, 1)))
    with pytest.raises(ValueError, match="starts in 'submitted'"):
        Plan((Phase(Status.QUEUED, 1),))


def test_snapshot_walks_the_plan():
    plan = plan_for(Timing(submitted=1, queued=2, base=10, per_second=0), 4, ttl=100)
    assert snapshot(plan, 0, 0.5).status is Status.SUBMITTED
    assert snapshot(plan, 0, 2).status is Status.QUEUED
    middle = snapshot(plan, 0, 8)
    assert middle.status is Status.IN_PROGRESS and middle.progress == 49
    done = snapshot(plan, 0, 13)
    assert (done.status, done.progress, done.completed_at, done.expires_at, done.expired) == (
        Status.SUCCEEDED, 100, 13, 113, False)
    assert snapshot(plan, 0, 113).expired


def test_failure_at_forty_percent():
    plan = plan_for(Timing(submitted=0, queued=0, base=10, per_second=0), 4, BUILTIN_SCRIPTS["timeout"])
    state = snapshot(plan, 0, 100)
    assert state.status is Status.FAILED and state.progress == 40 and plan.error == FAILURES["timeout"]


def test_stall_never_ends():
    plan = plan_for(Timing(), 4, BUILTIN_SCRIPTS["stall"])
    assert math.isinf(plan.end)
    assert snapshot(plan, 0, 1e12).status is Status.IN_PROGRESS


def test_manual_clock_stands_still_until_advanced_and_never_goes_back():
    clock = Clock(manual=True, start=1000)
    assert clock.now() == 1000
    assert clock.advance(5) == 1005
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_speed_scales_real_time():
    clock = Clock(speed=3600)
    start = clock.now()
    import time

    time.sleep(0.05)
    assert clock.now() - start >= 3600 * 0.05 * 0.9
    clock.set_speed(1)
    assert clock.speed == 1


def test_script_checks_its_fields():
    with pytest.raises(ValueError, match="fail_at"):
        Script(fail_at=100)
    with pytest.raises(ValueError, match="failure kind"):
        Script(error="nope")
    with pytest.raises(ValueError, match="not_ready"):
        Script(not_ready="500")


def test_stall_then_resume_plan():
    plan = plan_for(Timing(submitted=0, queued=0, base=99, per_second=0), 4, Script(stall_at=50, stall_seconds=10))
    assert snapshot(plan, 0, 50).progress == 50
    assert snapshot(plan, 0, 59).progress == 50
    assert snapshot(plan, 0, 61).progress == 51
    assert snapshot(plan, 0, 110).status is Status.SUCCEEDED


def test_settle_ends_a_task_now():
    plan = plan_for(Timing(submitted=1, queued=1, base=100, per_second=0), 4)
    succeeded = settle(plan, 0, 30)
    state = snapshot(succeeded, 0, 30)
    assert state.status is Status.SUCCEEDED and state.completed_at == 30
    failed = settle(plan, 0, 0.5, error=FAILURES["internal"])
    assert snapshot(failed, 0, 0.5).status is Status.FAILED
    expired = settle(plan, 0, 10, expire=True)
    assert snapshot(expired, 0, 10).expired
    assert settle(succeeded, 0, 40) is succeeded, "a terminal task keeps its outcome"
