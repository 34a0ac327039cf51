"""Judge the runs of a client program: every check in every scenario it applies to, as one report.

The report has the shape of ``videomock check``'s (:mod:`conformance.report`, ``"videomock-report/1"``)
with ``"kind": "client"`` and ``"target"`` the command line. Each check is one entry: ``failed`` when
it failed in any scenario, ``passed`` when it passed in at least one and failed in none, ``skipped``
when no scenario gave it anything to judge. Additions to the shape: each check's ``scenarios``
(``{name: {"outcome", "message"}}``), each evidence item's ``scenario`` (and ``seq`` for journal
lines), and ``runs`` (per scenario: exit status, time, requests, tasks, saved files, output tails).
"""

from __future__ import annotations

import shlex
import time
from datetime import UTC, datetime
from typing import Any

from conformance.client.checks import CLIENT_CHECKS, ClientCheck
from conformance.client.runner import ScenarioRun
from conformance.failures import Finding, NotApplicable
from conformance.report import FORMAT, summarise


def judge_one(check: ClientCheck, run: ScenarioRun) -> tuple[str, str, list[dict[str, Any]]]:
    """One check in one run: (outcome, message, evidence)."""
    try:
        check.func(run)
    except Finding as finding:
        return "failed", finding.message, finding.evidence
    except NotApplicable as reason:
        return "skipped", str(reason), []
    return "passed", "", []


def judge(runs: list[ScenarioRun]) -> list[dict[str, Any]]:
    """Every check over the runs of the scenarios it applies to, as report check entries."""
    results = []
    for check in CLIENT_CHECKS.values():
        started = time.perf_counter()
        per_scenario: dict[str, dict[str, str]] = {}
        messages, evidence = [], []
        for run in runs:
            if run.scenario.name not in check.scenarios:
                continue
            outcome, message, found = judge_one(check, run)
            per_scenario[run.scenario.name] = {"outcome": outcome, "message": message}
            if outcome == "failed":
                messages.append(f"{run.scenario.name}: {message}")
                evidence += found
        outcomes = {entry["outcome"] for entry in per_scenario.values()}
        outcome = "failed" if "failed" in outcomes else "passed" if "passed" in outcomes else "skipped"
        if outcome == "skipped":
            messages = [f"{name}: {entry['message']}" for name, entry in per_scenario.items()] or [
                f"none of its scenarios ran ({', '.join(check.scenarios)})"]
        results.append({
            "id": check.id, "statement": check.statement, "source": check.source, "level": check.level,
            "cost": {"scenarios": list(check.scenarios)}, "outcome": outcome, "message": "; ".join(messages),
            "evidence": evidence, "seconds": round(time.perf_counter() - started, 3), "scenarios": per_scenario,
        })
    return results


def build_report(command: tuple[str, ...] | list[str], runs: list[ScenarioRun], started_at: str,
                 *, speed: float, timeout: float) -> dict[str, Any]:
    """The report of a client run (see the module docstring)."""
    checks = judge(runs)
    return {
        "format": FORMAT, "kind": "client", "target": shlex.join(command), "started_at": started_at,
        "finished_at": datetime.now(UTC).isoformat(),
        "summary": summarise(checks, sum(len(run.tasks) for run in runs)),
        "profile": {"name": "n/a (client run)", "scores": {}, "observations": {"speed": speed, "timeout": timeout}},
        "checks": checks,
        "runs": [run.describe() for run in runs],
    }
