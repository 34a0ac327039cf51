"""The conformance kit against the simulator: it passes in every profile, and it catches each deviation."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from conformance.context import Context
from conformance.runner import run_checks
from mockserver.deviations import DEVIATIONS
from mockserver.server import ServerThread

FAST = {"speed": 1000, "seed": 11, "ttl": 1e9}


def kit(server: ServerThread) -> dict[str, tuple[str, str]]:
    context = Context(base_url=server.base_url, api_key=server.api_key, poll_interval=0.01, task_timeout=60)
    try:
        return run_checks(context)
    finally:
        context.close()


@pytest.mark.parametrize("profile", ["seed", "new-api", "nebula"])
def test_kit_passes_against_the_simulator_in_every_profile(profile):
    with ServerThread(profile=profile, **FAST) as server:
        results = kit(server)
    failed = {k: v[1] for k, v in results.items() if v[0] == "failed"}
    assert not failed, failed
    # The contract describes the documented behaviour; on a known variant that check says so and steps aside.
    not_passed = {k for k, (outcome, _) in results.items() if outcome != "passed"}
    assert not_passed <= ({"gateway.contract.responses_match_the_contract"} if profile != "seed" else set()), results
    assert len(results) >= 45


def test_at_least_fifteen_deviations():
    assert len(DEVIATIONS) >= 15


@pytest.mark.parametrize("name", sorted(DEVIATIONS))
def test_each_deviation_fails_exactly_its_checks(name):
    # A status regression shows only while a task is in progress: slow the clock so polls see that phase.
    settings = {**FAST, "speed": 300} if name == "status-goes-back" else FAST
    with ServerThread(deviations=(name,), **settings) as server:
        results = kit(server)
    failed = {check_id for check_id, (outcome, _) in results.items() if outcome == "failed"}
    assert failed == set(DEVIATIONS[name].caught_by), {k: results[k][1][:200] for k in failed}


def test_unknown_deviation_is_refused():
    with pytest.raises(ValueError, match="no-auth"):
        ServerThread(deviations=("nope",))


def test_videomock_check_cli_reports_and_baseline(tmp_path):
    """The whole CLI path: pytest underneath, JSON/JUnit/HTML reports, exit codes, and the baseline."""
    with ServerThread(deviations=("no-format",), api_keys=("sk-test-secret-4711",), **FAST) as server:
        base = [sys.executable, "-m", "mockserver", "check", "--base-url", server.base_url, "--api-key",
                server.api_key, "--poll-interval", "0.01"]
        reports = ["--report-json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "r.xml"),
                   "--html", str(tmp_path / "r.html")]
        run = subprocess.run(base + reports, capture_output=True, text=True, timeout=300)
        assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["format"] == "videomock-report/1" and report["profile"]["name"] == "seed"
        failed = sorted(c["id"] for c in report["checks"] if c["outcome"] == "failed")
        assert failed == ["gateway.contract.responses_match_the_contract",
                          "gateway.submit.answers_task_id_status_format"]
        assert report["checks"][0]["evidence"] == [] or "url" in report["checks"][0]["evidence"][0]
        finding = next(c for c in report["checks"] if c["id"] == "gateway.submit.answers_task_id_status_format")
        assert finding["evidence"] and finding["source"].startswith("seed 003")
        suite = ET.parse(tmp_path / "r.xml").getroot()
        assert suite.get("failures") == "2" and len(suite.findall("testcase")) == len(report["checks"])
        html = (tmp_path / "r.html").read_text()
        assert "gateway.submit.answers_task_id_status_format" in html and server.api_key not in html
        assert server.api_key not in (tmp_path / "r.json").read_text()

        baseline = tmp_path / "baseline.json"
        baseline.write_text(json.dumps({"deviations": ["gateway.submit.answers_task_id_status_format",
                                                       "gateway.contract.responses_match_the_contract"]}))
        only = ["--only", "gateway.submit", "--only", "gateway.contract", "--baseline", str(baseline)]
        assert subprocess.run(base + only, capture_output=True, timeout=300).returncode == 0
        stale = tmp_path / "stale.json"
        stale.write_text(json.dumps({"deviations": ["gateway.submit.missing_prompt_is_rejected"]}))
        rerun = subprocess.run([*base, "--only", "gateway.submit", "--baseline", str(stale)], capture_output=True,
                               text=True, timeout=300)
        assert rerun.returncode == 1 and "XPASS(strict)" in rerun.stdout


def test_check_exit_codes_for_usage_and_connection_errors():
    unreachable = subprocess.run([sys.executable, "-m", "mockserver", "check", "--base-url", "http://127.0.0.1:9",
                                  "--api-key", "k"], capture_output=True, text=True, timeout=60)
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr
    usage = subprocess.run([sys.executable, "-m", "mockserver", "check"], capture_output=True, timeout=60)
    assert usage.returncode == 2


def test_budget_and_dry_run():
    with ServerThread(**FAST) as server:
        context = Context(base_url=server.base_url, api_key=server.api_key, poll_interval=0.01, budget=1)
        results = run_checks(context)
        context.close()
        assert context.created <= 1
        assert any(outcome == "skipped" and "budget" in message for outcome, message in results.values())
        assert len(server.control.tasks()) <= 2 + 1, "the documented examples plus at most the budget"
    plan = subprocess.run([sys.executable, "-m", "mockserver", "check", "--base-url", "http://127.0.0.1:9",
                           "--api-key", "k", "--dry-run"], capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0 and "Shared tasks" in plan.stdout and "sora-2" in plan.stdout


def test_pytest_pyargs_entry(pytester):
    """`pytest --pyargs conformance --base-url …` runs the same suite."""
    with ServerThread(**FAST) as server:
        result = pytester.runpytest_subprocess("--pyargs", "conformance", "-p", "no:cacheprovider",
                                               "--base-url", server.base_url, "--api-key", server.api_key,
                                               "--check-poll-interval", "0.01", "--check-only", "gateway.auth")
    result.assert_outcomes(passed=2)
