"""pytest hooks of the conformance suite: options, the shared context, ordering, baseline, reports.

Registered as the ``pytest11`` entry point ``videomock_conformance``, so
``pytest --pyargs conformance --base-url URL --api-key KEY`` runs the suite; ``videomock check`` runs
the same thing with friendlier option names. The hooks touch only the suite's own tests.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from conformance.context import Context
from conformance.failures import Finding, NotApplicable
from conformance.profiles import closest
from conformance.registry import CHECKS
from conformance.report import load_baseline, summarise, summary_lines, write_html, write_json, write_junit

RESULTS = pytest.StashKey[dict[str, dict[str, Any]]]()
CONTEXT = pytest.StashKey[Context]()
STARTED = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("videomock-conformance", "videomock conformance kit (pytest --pyargs conformance)")
    options = [
        ("--base-url", {"help": "the gateway's base URL (without /v1)"}),
        ("--api-key", {"default": os.environ.get("VIDEOMOCK_CHECK_API_KEY"),
                       "help": "Bearer key (or VIDEOMOCK_CHECK_API_KEY); never written to reports"}),
        ("--check-dialect", {"choices": ("gateway", "openai", "auto"), "default": "auto"}),
        ("--check-models", {"default": "sora,veo,wanxiang,seedance",
                            "help": "gateway model families to create tasks for, comma-separated"}),
        ("--check-only", {"action": "append", "default": [], "help": "run only these check ids (prefixes work)"}),
        ("--check-budget", {"type": int, "default": None, "help": "most tasks the run may create"}),
        ("--check-task-timeout", {"type": float, "default": 900.0, "help": "seconds to wait for one task"}),
        ("--check-poll-interval", {"type": float, "default": 5.0, "help": "seconds between status reads"}),
        ("--check-report-json", {"default": None, "help": "write the JSON report here"}),
        ("--check-report-junit", {"default": None, "help": "write the JUnit XML report here"}),
        ("--check-html", {"default": None, "help": "write the HTML report here"}),
        ("--check-baseline", {"default": None, "help": "JSON file of known deviations (check ids)"}),
    ]
    for name, settings in options:
        with contextlib.suppress(ValueError):  # --base-url also comes from pytest-base-url: share it
            group.addoption(name, **settings)


def detect_dialects(context: Context) -> tuple[str, ...]:
    """Which dialects the gateway serves: an empty create is a 4xx error where the route exists."""
    found = []
    for dialect, path in (("gateway", "/v1/video/generations"), ("openai", "/v1/videos")):
        exchange = context.request("POST", path, json={})
        if exchange.status not in (0, 404, 405):
            found.append(dialect)
    return tuple(found)


def make_context(config: pytest.Config) -> Context:
    """Build the run's context from the options.

    Raises:
        pytest.UsageError: no --base-url or no --api-key.
    """
    base_url, api_key = config.getoption("base_url"), config.getoption("api_key")
    if not base_url or not api_key:
        raise pytest.UsageError("the conformance suite needs --base-url and --api-key")
    models = tuple(m.strip() for m in config.getoption("check_models").split(",") if m.strip())
    context = Context(base_url=base_url, api_key=api_key, budget=config.getoption("check_budget"), models=models,
                      task_timeout=config.getoption("check_task_timeout"),
                      poll_interval=config.getoption("check_poll_interval"))
    dialect = config.getoption("check_dialect")
    context.dialects = detect_dialects(context) if dialect == "auto" else (dialect,)
    context.exchanges.clear()
    return context


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RESULTS] = {}
    config.stash[STARTED] = datetime.now(UTC).isoformat()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    only = config.getoption("check_only")
    dialect = config.getoption("check_dialect")
    selected, deselected = [], []
    for item in items:
        check_id = _check_id(item)
        if check_id is None:
            selected.append(item)
            continue
        wanted = not only or any(check_id == o or check_id.startswith(o.rstrip(".") + ".") for o in only)
        if dialect != "auto" and CHECKS[check_id].dialect != dialect:
            wanted = False
        (selected if wanted else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    # Free checks first; billable ones grouped by the shared tasks they use.
    selected.sort(key=lambda item: _order(item))
    items[:] = selected
    baseline_path = config.getoption("check_baseline")
    if baseline_path:
        baseline = load_baseline(baseline_path)
        for item in items:
            if _check_id(item) in baseline:
                item.add_marker(pytest.mark.xfail(reason="baselined deviation", strict=True, raises=Finding))


def _check_id(item: pytest.Item) -> str | None:
    return item.callspec.params.get("check_id") if hasattr(item, "callspec") else None


def _order(item: pytest.Item) -> tuple[int, str]:
    check_id = _check_id(item)
    if check_id is None:
        return (0, "")
    entry = CHECKS[check_id]
    return (0 if entry.free else 1 + len(entry.tasks), ",".join(entry.tasks) + entry.id)


@pytest.fixture(scope="session")
def conformance_context(pytestconfig: pytest.Config) -> Iterator[Context]:
    """The run's shared context (client, shared tasks, budget, observations)."""
    context = make_context(pytestconfig)
    pytestconfig.stash[CONTEXT] = context
    yield context
    context.close()


def run_check(check_id: str, context: Context) -> None:
    """Run one check: a deviation raises Finding; NotApplicable becomes a skip with its reason."""
    entry = CHECKS[check_id]
    try:
        entry.func(context)
    except NotApplicable as exc:
        pytest.skip(str(exc))
    except Finding:
        raise
    except Exception as exc:  # a response the check could not make sense of is itself a finding
        raise Finding(f"the gateway's answers could not be interpreted ({type(exc).__name__}: {exc})",
                      [e.evidence() for e in context.exchanges[-3:]]) from exc


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    check_id = _check_id(item)
    if check_id is None or (report.when != "call" and not report.skipped):
        return report
    entry = CHECKS[check_id]
    outcome = "passed" if report.passed else "skipped" if report.skipped else "failed"
    message, found_evidence = "", []
    if call.excinfo is not None:
        exc = call.excinfo.value
        message = exc.message if isinstance(exc, Finding) else str(exc)
        found_evidence = exc.evidence if isinstance(exc, Finding) else []
    if hasattr(report, "wasxfail"):
        outcome = "baselined" if report.skipped else "stale_baseline"
        if outcome == "stale_baseline":
            message = "listed in the baseline as a deviation, but it passes now: remove it from the baseline"
    elif report.skipped and isinstance(report.longrepr, tuple):
        message = str(report.longrepr[2]).removeprefix("Skipped: ")
    item.config.stash[RESULTS][check_id] = {
        "id": check_id, "statement": entry.statement, "source": entry.source, "level": entry.level,
        "cost": {"shared_tasks": list(entry.tasks), "own_tasks": entry.own_tasks}, "outcome": outcome,
        "message": message, "evidence": found_evidence, "seconds": round(report.duration, 3),
    }
    return report


def build_report(config: pytest.Config) -> dict[str, Any]:
    """The JSON-shaped report of this run (see :mod:`conformance.report`)."""
    context = config.stash.get(CONTEXT, None)
    checks = list(config.stash[RESULTS].values())
    observations = dict(context.observations) if context else {}
    return {
        "format": "videomock-report/1", "kind": "gateway", "target": config.getoption("base_url"),
        "started_at": config.stash[STARTED], "finished_at": datetime.now(UTC).isoformat(),
        "summary": summarise(checks, context.created if context else 0),
        "profile": closest(observations),
        "checks": checks,
    }


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not config.stash.get(RESULTS, None):
        return
    report = build_report(config)
    terminalreporter.section("videomock conformance")
    for line in summary_lines(report):
        terminalreporter.write_line(line)
    for option, writer in (("check_report_json", write_json), ("check_report_junit", write_junit),
                           ("check_html", write_html)):
        path = config.getoption(option)
        if path:
            writer(report, path)
            terminalreporter.write_line(f"wrote {path}")


