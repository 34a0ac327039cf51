"""Conformance checks for client programs: ``videomock check-client -- CMD ARGS…`` (issue 8).

The program is run once per scenario (:mod:`conformance.client.scenarios`) against a fresh simulator,
with the environment described in :mod:`conformance.client.runner`, and judged from the
simulator's journal, its exit status and the files it saved by the checks of
:mod:`conformance.client.checks`; :mod:`conformance.client.judge` turns that into a report of the
same shape as ``videomock check``'s.

Example::

    from conformance.client import check_client

    report = check_client(["python", "my_client.py"], speed=50, timeout=60)
    assert report["summary"]["failed"] == 0
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conformance.client.checks import CLIENT_CHECKS, ClientCheck, client_check
from conformance.client.judge import build_report, judge
from conformance.client.runner import CommandError, ScenarioRun, run_all, run_scenario
from conformance.client.scenarios import SCENARIOS, ClientScenario

__all__ = [
    "CLIENT_CHECKS",
    "SCENARIOS",
    "ClientCheck",
    "ClientScenario",
    "CommandError",
    "ScenarioRun",
    "build_report",
    "check_client",
    "client_check",
    "judge",
    "run_all",
    "run_scenario",
]


def check_client(command: list[str] | tuple[str, ...], scenarios: list[str] | tuple[str, ...] | None = None, *,
                 speed: float = 1.0, timeout: float = 240.0, jobs: int = 0, cwd: str | None = None) -> dict[str, Any]:
    """Run ``command`` under each scenario and judge it.

    Args:
        command: The program and its arguments.
        scenarios: Scenario names (default: all, in :data:`SCENARIOS` order).
        speed: Simulated seconds per real second.
        timeout: Real seconds each run may take before the program is killed.
        jobs: Scenarios run at once (0: all).
        cwd: The program's working directory (default: the caller's).

    Returns:
        The report (``conformance.report`` shape, ``kind: "client"``).

    Raises:
        CommandError: the program cannot be started.
        KeyError: an unknown scenario name.
    """
    started = datetime.now(UTC).isoformat()
    runs = run_all(tuple(command), scenarios, speed=speed, timeout=timeout, jobs=jobs, cwd=cwd)
    return build_report(command, runs, started, speed=speed, timeout=timeout)
