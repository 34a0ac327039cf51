"""``videomock check-client -- CMD ARGS…``: run a client program under each scenario and judge it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from conformance.client.scenarios import SCENARIOS, longest_task_seconds

#: Real seconds a run needs beyond the task's life: interpreter start, downloads, a Retry-After or two.
_SLACK_SECONDS = 15.0


def print_catalogue() -> None:
    """List the scenarios and the checks, with where each check applies."""
    from conformance.client.checks import CLIENT_CHECKS

    click.echo("Scenarios:")
    for scenario in SCENARIOS.values():
        click.echo(f"  {scenario.name:20s} {scenario.summary} (a correct program ends with: {scenario.outcome})")
    click.echo("Checks:")
    for check in CLIENT_CHECKS.values():
        where = "all scenarios" if set(check.scenarios) == set(SCENARIOS) else ", ".join(check.scenarios)
        click.echo(f"  {check.id} [{check.level}] ({where})\n      {check.statement}\n      source: {check.source}")


@click.command("check-client", context_settings={"allow_interspersed_args": False})
@click.option("--scenario", "scenarios", multiple=True, type=click.Choice(list(SCENARIOS)), metavar="NAME",
              help=f"Run only this scenario (repeatable). Default: all of {', '.join(SCENARIOS)}.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=240.0, show_default=True,
              help="Real seconds one run may take before the program (and its process group) is killed.")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Simulated seconds per real second (VIDEOMOCK_SPEED). Poll intervals are judged on the "
                   "simulated clock: above 1, only a program that divides its interval by VIDEOMOCK_SPEED is "
                   "judged at its true pace.")
@click.option("--jobs", type=click.IntRange(min=0), default=0, show_default=True,
              help="Scenarios run at once; 0 runs them all at once.")
@click.option("--report-json", type=click.Path(dir_okay=False), default=None, help="Write the JSON report here.")
@click.option("--junit", type=click.Path(dir_okay=False), default=None, help="Write JUnit XML here.")
@click.option("--html", type=click.Path(dir_okay=False), default=None, help="Write the HTML report here.")
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and checks; run nothing.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
def check_client(scenarios: tuple[str, ...], timeout: float, speed: float, jobs: int, report_json: str | None,
                 junit: str | None, html: str | None, list_only: bool, command: tuple[str, ...]) -> None:
    """Run a client program once per scenario against a fresh simulator and judge what it did.

    \b
    The program gets, on top of the caller's environment:
      VIDEOMOCK_BASE_URL    http://127.0.0.1:PORT (no /v1)
      VIDEOMOCK_API_KEY     the Bearer key (fresh per scenario)
      OPENAI_BASE_URL       $VIDEOMOCK_BASE_URL/v1
      OPENAI_API_KEY        the same key
      VIDEOMOCK_SCENARIO    the scenario's name (for logs only)
      VIDEOMOCK_OUTPUT_DIR  an empty directory: save the video there
      VIDEOMOCK_SPEED       simulated seconds per real second (--speed)
    It must make one video (any dialect and model), save it in VIDEOMOCK_OUTPUT_DIR (every file left
    there is judged as a video) and exit 0 if and only if it has the video.

    \b
    Example:
      videomock check-client --html report.html -- python my_client.py

    Exit status: 0 when the program passes every check, 1 on findings, 2 on usage errors.
    """  # noqa: D301 - click's \b (no rewrapping) is the backspace character, not a raw backslash
    if list_only:
        print_catalogue()
        return
    from conformance.client import CommandError, build_report, run_all
    from conformance.client.runner import check_command
    from conformance.report import exit_code, summary_lines, write_html, write_json, write_junit

    try:
        check_command(command)
    except CommandError as exc:
        raise click.UsageError(str(exc)) from None
    names = list(scenarios) or list(SCENARIOS)
    needed = longest_task_seconds(names) / speed + _SLACK_SECONDS
    if timeout < needed:
        click.echo(f"warning: --timeout {timeout:g} s may be too short: the longest task of these scenarios takes "
                   f"{longest_task_seconds(names):g} s simulated, {longest_task_seconds(names) / speed:.1f} s real "
                   f"at --speed {speed:g}", err=True)
    started = datetime.now(UTC).isoformat()
    runs = run_all(command, names, speed=speed, timeout=timeout, jobs=jobs)
    report = build_report(command, runs, started, speed=speed, timeout=timeout)
    for run in runs:
        ended = "killed at the timeout" if run.timed_out else f"exit {run.exit_code}"
        files = ", ".join(f"{f.name} ({f.size} B, {f.kind})" for f in run.files) or "no file"
        click.echo(f"{run.scenario.name:20s} {ended:22s} {run.seconds:6.1f} s  {len(run.entries):4d} requests  "
                   f"{len(run.tasks)} task(s)  {files}")
        if run.server_errors:
            click.echo(f"  warning: the simulator failed {len(run.server_errors)} time(s) during this run", err=True)
    for line in summary_lines(report):
        if not line.startswith("closest known variant"):
            click.echo(line)
    for path, writer in ((report_json, write_json), (junit, write_junit), (html, write_html)):
        if path:
            writer(report, path)
            click.echo(f"wrote {path}")
    sys.exit(exit_code(report))
