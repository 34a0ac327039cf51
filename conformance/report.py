"""Reports of a conformance run: a terminal summary, JSON (a documented, stable shape), JUnit XML, HTML.

The JSON report (``"format": "videomock-report/1"``)::

    {"format": "videomock-report/1", "kind": "gateway" | "client", "target": "<base URL or command>",
     "started_at": "<ISO 8601>", "finished_at": "<ISO 8601>",
     "summary": {"passed": n, "failed": n, "skipped": n, "baselined": n, "stale_baseline": n,
                 "tasks_created": n},
     "profile": {"name": "<closest known variant>", "scores": {"<variant>": n, …}, "observations": {…}},
     "checks": [{"id", "statement", "source", "level": "MUST" | "SHOULD", "cost", "outcome":
                 "passed" | "failed" | "skipped" | "baselined" | "stale_baseline",
                 "message", "evidence": [{"method", "url", "status", "content_type", "headers",
                 "body_excerpt", "seconds"}], "seconds"}]}

Keys never appear in any report: evidence is redacted when recorded.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

FORMAT = "videomock-report/1"
OUTCOMES = ("passed", "failed", "skipped", "baselined", "stale_baseline")


def summarise(checks: list[dict[str, Any]], tasks_created: int) -> dict[str, int]:
    """Counts per outcome, plus ``tasks_created``."""
    summary = {outcome: 0 for outcome in OUTCOMES}
    for entry in checks:
        summary[entry["outcome"]] += 1
    summary["tasks_created"] = tasks_created
    return summary


def exit_code(report: dict[str, Any]) -> int:
    """0 when nothing failed (baselined deviations count as passing), else 1."""
    summary = report["summary"]
    return 1 if summary["failed"] or summary["stale_baseline"] else 0


def write_json(report: dict[str, Any], path: str | Path) -> None:
    """Write the JSON report."""
    Path(path).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")


def to_junit(report: dict[str, Any]) -> bytes:
    """The report as JUnit XML: one testcase per check (failure, skipped, or passed)."""
    summary = report["summary"]
    suite = ET.Element("testsuite", name=f"videomock {report['kind']} conformance", tests=str(len(report["checks"])),
                       failures=str(summary["failed"] + summary["stale_baseline"]), skipped=str(summary["skipped"]),
                       errors="0")
    for entry in report["checks"]:
        case = ET.SubElement(suite, "testcase", classname=entry["id"].rsplit(".", 1)[0], name=entry["id"],
                             time=f"{entry.get('seconds', 0):.3f}")
        if entry["outcome"] in ("failed", "stale_baseline"):
            failure = ET.SubElement(case, "failure", message=entry["message"] or entry["outcome"])
            failure.text = "\n".join(f"{e['method']} {e['url']} -> {e['status']} {e['body_excerpt']}"
                                     for e in entry.get("evidence", []))
        elif entry["outcome"] == "skipped":
            ET.SubElement(case, "skipped", message=entry["message"] or "")
        ET.SubElement(case, "properties").extend([
            ET.Element("property", name=key, value=str(entry[key])) for key in ("level", "source", "outcome")])
    return ET.tostring(ET.ElementTree(suite).getroot(), encoding="utf-8", xml_declaration=True)


def write_junit(report: dict[str, Any], path: str | Path) -> None:
    """Write the JUnit XML report."""
    Path(path).write_bytes(to_junit(report))




def to_html(report: dict[str, Any]) -> str:
    """One self-contained HTML page: per check pass/fail with its evidence."""
    environment = Environment(loader=FileSystemLoader(Path(__file__).parent),
                              autoescape=select_autoescape(default=True, default_for_string=True))
    return environment.get_template("report.html.j2").render(report=report)


def write_html(report: dict[str, Any], path: str | Path) -> None:
    """Write the HTML report."""
    Path(path).write_text(to_html(report), encoding="utf-8")


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A short terminal summary: failures with their first evidence line, then the totals."""
    lines = []
    for entry in report["checks"]:
        if entry["outcome"] in ("failed", "stale_baseline"):
            lines.append(f"FAIL {entry['id']} [{entry['level']}]: {entry['message']}")
            lines.append(f"     source: {entry['source']}")
    summary = report["summary"]
    lines.append(", ".join(f"{value} {key}" for key, value in summary.items()))
    lines.append(f"closest known variant: {report['profile']['name']}")
    return lines


def load_baseline(path: str | Path) -> set[str]:
    """Check ids listed as known deviations: JSON ``{"deviations": [...]}`` or a list, one id per entry.

    Raises:
        ValueError: the file holds neither.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    items = data.get("deviations") if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"{path}: a baseline is {{\"deviations\": [\"check.id\", …]}}")
    return set(items)
