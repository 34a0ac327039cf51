"""`videomock check-client`: sample client programs, each judged as expected (issue 8).

The samples live in tests/clients/: a well-behaved gateway client (requests), a well-behaved OpenAI
client (the SDK to create and poll, a checked resumable download), the SDK's own recipe
(create_and_poll + download_content().write_to_file()), and the gateway client with one flaw each
(``--flaw NAME``).

Timing. The simulator runs at SPEED simulated seconds per real second, and the samples divide their
poll interval by VIDEOMOCK_SPEED (5 s simulated is 0.1 s real here), so a 21 s task takes 0.4 s and
the poll-interval check, which reads the simulated clock, judges them as if they ran at full
length. Retry-After (1 s) and backoff (0.5 s, doubling) are real-time waits, judged in real time, and
are not scaled. Every (client, scenario) pair runs on its own simulator, all of them in one pool.

Scenario sets. The well-behaved gateway client runs under every scenario. Each flawed client runs
under the scenarios that reach its flaw's code path, plus ``happy``: the ``--flaw`` switch is read
only on that path, so elsewhere the flawed client's run is the well-behaved client's run. The two
SDK-based clients (about 1.5 s of CPU each run, for importing openai) run under the scenarios that
exercise their own code. VIDEOMOCK_FULL_CLIENT_MATRIX=1 runs every client under every scenario
(about twice as long; every case is then judged exactly as here).
"""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from conformance.client import CLIENT_CHECKS, SCENARIOS, build_report, run_scenario
from conformance.client.runner import classify
from mockserver.cli import main

CLIENTS = Path(__file__).parent / "clients"
GATEWAY = [sys.executable, str(CLIENTS / "gateway_client.py")]
SPEED = 50.0
TIMEOUT = 30.0
ALL = tuple(SCENARIOS)
FULL = os.environ.get("VIDEOMOCK_FULL_CLIENT_MATRIX") == "1"


@dataclass(frozen=True)
class Case:
    name: str
    command: tuple[str, ...]
    fails: frozenset[str]  # the checks it must fail, short names; every other check passes or is skipped
    scenarios: tuple[str, ...] = ALL
    timeout: float = TIMEOUT


def flawed(flaw: str, check: str, scenarios: tuple[str, ...], timeout: float = TIMEOUT) -> Case:
    return Case(flaw, (*GATEWAY, "--flaw", flaw), frozenset({check}), ("happy", *scenarios), timeout)


CASES = [
    # The forever-poller first: its kill at the timeout overlaps with every other run.
    flawed("polls-until-succeeded", "stops_polling_at_a_terminal_status", ("fails",), timeout=8.0),
    # The two SDK-based clients next: importing the openai package costs over a second of CPU per run, so
    # they run under the scenarios that exercise their own code (every one with VIDEOMOCK_FULL_CLIENT_MATRIX=1).
    Case("openai-well-behaved", (sys.executable, str(CLIENTS / "openai_client.py")), frozenset(),
         ("fails", "rate-limited", "flaky-5xx", "not-ready-json200", "download-cut", "create-answer-lost")),
    # The SDK's recipe: download_content writes whatever 2xx body comes (a 202 or JSON-on-200 answer) into
    # the .mp4, fetches a cut download again from byte 0, and retries a create whose answer was lost. It has
    # no flaw switch: it runs under the scenarios that show those three, plus happy.
    Case("openai-sdk-recipe", (sys.executable, str(CLIENTS / "sdk_naive.py")),
         frozenset({"saves_only_the_video", "resumes_a_cut_download", "does_not_retry_a_create_blindly"}),
         ("happy", "not-ready-202", "not-ready-json200", "download-cut", "create-answer-lost")),
    Case("gateway-well-behaved", tuple(GATEWAY), frozenset()),
    flawed("fast-polling", "polls_no_faster_than_the_documented_interval",
           ("slow", "fails", "rate-limited", "flaky-5xx")),
    flawed("ignores-retry-after", "honours_retry_after", ("rate-limited",)),
    flawed("no-backoff", "backs_off_after_5xx", ("flaky-5xx",)),
    flawed("downloads-early", "downloads_only_after_completion",
           ("fails", "expired", "not-ready-202", "not-ready-json200", "download-cut")),
    flawed("ignores-failure", "reports_a_failed_task_as_failure", ("fails", "expired")),
    flawed("saves-any-200", "saves_only_the_video", ("not-ready-202", "not-ready-json200", "expired")),
    flawed("no-resume", "resumes_a_cut_download", ("download-cut",)),
    flawed("blind-create-retry", "does_not_retry_a_create_blindly", ("flaky-5xx", "create-answer-lost")),
]


def short(check_id: str) -> str:
    return check_id.removeprefix("client.")


@pytest.fixture(scope="module")
def reports() -> dict[str, dict]:
    """Every case under its scenarios, judged; by case name."""
    started = datetime.now(UTC).isoformat()
    pairs = [(case, name) for case in CASES for name in (ALL if FULL else case.scenarios)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        runs = list(pool.map(lambda pair: (pair[0], run_scenario(pair[0].command, SCENARIOS[pair[1]], speed=SPEED,
                                                                 timeout=pair[0].timeout)), pairs))
    by_case = defaultdict(list)
    for case, run in runs:
        by_case[case.name].append(run)
    return {case.name: build_report(case.command, by_case[case.name], started, speed=SPEED, timeout=case.timeout)
            for case in CASES}


def describe(report: dict) -> str:
    lines = [f"{c['outcome']:8s} {short(c['id'])}: {c['message'][:400]}" for c in report["checks"]]
    lines += [f"  run {r['scenario']}: exit {r['exit_code']} timed_out={r['timed_out']} {r['seconds']} s "
              f"files={[(f['name'], f['kind']) for f in r['files']]} stderr={r['stderr_tail'][-300:]!r}"
              for r in report["runs"]]
    return "\n".join(lines)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_sample_client_fails_exactly_its_flaws(reports, case):
    report = reports[case.name]
    failed = {short(c["id"]) for c in report["checks"] if c["outcome"] == "failed"}
    assert failed == case.fails, describe(report)
    for check in report["checks"]:
        if short(check["id"]) in case.fails:
            assert check["evidence"], f"{check['id']} failed without evidence"


@pytest.mark.parametrize("name", ["gateway-well-behaved", "openai-well-behaved"])
def test_a_well_behaved_client_is_judged_by_every_check(reports, name):
    report = reports[name]
    assert {c["id"]: c["outcome"] for c in report["checks"]} == dict.fromkeys(CLIENT_CHECKS, "passed"), \
        describe(report)
    assert report["summary"]["passed"] == len(CLIENT_CHECKS) and report["summary"]["failed"] == 0
    outcomes = {run["scenario"]: (run["exit_code"], [f["kind"] for f in run["files"]]) for run in report["runs"]}
    for scenario in (SCENARIOS[name] for name in outcomes):
        if scenario.outcome == "video":
            assert outcomes[scenario.name] == (0, ["video"]), (scenario.name, describe(report))
        elif scenario.outcome == "failure":
            assert outcomes[scenario.name][0] not in (0, None) and not outcomes[scenario.name][1], scenario.name
    assert all(len(run["tasks"]) == 1 for run in report["runs"]), "one task per video, lost answer or not"


def test_the_sdk_recipe_saves_the_json_on_200_body_as_the_mp4(reports):
    check = next(c for c in reports["openai-sdk-recipe"]["checks"] if c["id"] == "client.saves_only_the_video")
    assert check["scenarios"]["not-ready-json200"]["outcome"] == "failed"
    assert "saved the 200 answer to GET /v1/videos/" in check["scenarios"]["not-ready-json200"]["message"]
    assert "saved the 202 answer to GET /v1/videos/" in check["scenarios"]["not-ready-202"]["message"]
    files = [e for e in check["evidence"] if e["method"] == "FILE" and e["scenario"] == "not-ready-json200"]
    assert files and files[0]["url"] == "video.mp4" and files[0]["status"] == "json"
    assert "video_processing" in files[0]["body_excerpt"]  # seed 004's "Error Response (200 with JSON)"
    resume = next(c for c in reports["openai-sdk-recipe"]["checks"] if c["id"] == "client.resumes_a_cut_download")
    assert "instead of asking for the rest with Range" in resume["message"]


def test_evidence_points_at_the_journal(reports):
    polls = next(c for c in reports["fast-polling"]["checks"]
                 if c["id"] == "client.polls_no_faster_than_the_documented_interval")
    assert "the recommended 3-5 s" in polls["message"]
    line = polls["evidence"][1]
    assert line["method"] == "GET" and "/v1/video/generations/video_" in line["url"] and line["seq"] > 0
    assert "s simulated" in line["body_excerpt"]
    retry = next(c for c in reports["ignores-retry-after"]["checks"] if c["id"] == "client.honours_retry_after")
    assert retry["evidence"][0]["status"] == 429 and retry["evidence"][0]["headers"]["Retry-After"] == "1"
    forever = next(c for c in reports["polls-until-succeeded"]["checks"]
                   if c["id"] == "client.stops_polling_at_a_terminal_status")
    assert "after it showed 'failed'" in forever["message"] and "killed at the 8 s timeout" in forever["message"]
    assert forever["scenarios"]["happy"]["outcome"] == "passed"


def test_saved_files_are_classified_by_content():
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(200)
    assert classify(video, {"video_1": video})[0] == "video"
    assert classify(video[:50], {"video_1": video}) == ("partial_video", "the first 50 of the 212 bytes of the "
                                                                         "video of video_1")
    assert classify(b'{"error": {"code": "video_processing"}}', {})[0] == "json"
    assert classify(b"", {})[0] == "empty"
    assert classify(b"<html>busy</html>", {})[0] == "other"


def test_cli_reports_in_every_format_and_exits_1_on_findings(tmp_path):
    paths = {name: tmp_path / name for name in ("report.json", "junit.xml", "report.html")}
    result = CliRunner().invoke(main, [
        "check-client", "--scenario", "happy", "--scenario", "fails", "--speed", str(SPEED), "--timeout", "30",
        "--report-json", str(paths["report.json"]), "--junit", str(paths["junit.xml"]),
        "--html", str(paths["report.html"]), "--", *GATEWAY, "--flaw", "ignores-failure"])
    assert result.exit_code == 1, result.output
    assert "FAIL client.reports_a_failed_task_as_failure" in result.output
    report = json.loads(paths["report.json"].read_text())
    assert (report["format"], report["kind"]) == ("videomock-report/1", "client")
    assert report["target"].endswith("gateway_client.py --flaw ignores-failure")
    assert [run["scenario"] for run in report["runs"]] == ["happy", "fails"]
    assert {c["id"]: c["outcome"] for c in report["checks"]}["client.honours_retry_after"] == "skipped"
    suite = ET.fromstring(paths["junit.xml"].read_bytes())
    assert suite.get("failures") == "1" and suite.get("tests") == str(len(CLIENT_CHECKS))
    assert "client.reports_a_failed_task_as_failure" in paths["report.html"].read_text()


def test_cli_exits_0_for_a_client_that_passes(tmp_path):
    result = CliRunner().invoke(main, ["check-client", "--scenario", "happy", "--speed", str(SPEED), "--timeout",
                                       "30", "--", *GATEWAY])
    assert result.exit_code == 0, result.output
    assert "happy" in result.output and "B, video)" in result.output and "0 failed" in result.output


@pytest.mark.parametrize("args", [
    [],  # no command
    ["--", "/nonexistent/videomock-client"],
    ["--scenario", "no-such-scenario", "--", sys.executable, "-c", "pass"],
    ["--timeout", "0", "--", sys.executable, "-c", "pass"],
])
def test_cli_usage_errors_exit_2(args):
    result = CliRunner().invoke(main, ["check-client", *args])
    assert result.exit_code == 2, result.output


def test_cli_lists_scenarios_and_checks():
    result = CliRunner().invoke(main, ["check-client", "--list"])
    assert result.exit_code == 0
    for name in [*SCENARIOS, *CLIENT_CHECKS]:
        assert name in result.output
