"""``videomock check``: run the conformance suite against a live gateway, with pytest underneath."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import httpx
import pytest

from conformance.context import CHEAPEST
from conformance.registry import load_all


def print_plan(only: tuple[str, ...], dialect: str, models: tuple[str, ...], budget: int | None) -> None:
    """Print the checks that would run and the tasks they would create, without any request."""
    checks = [c for c in load_all().values() if (dialect == "auto" or c.dialect == dialect)
              and (not only or any(c.id == o or c.id.startswith(o.rstrip(".") + ".") for o in only))]
    shared = sorted({t for c in checks for t in c.tasks if t == "openai" or t in models})
    click.echo(f"{len(checks)} checks; {sum(c.free for c in checks)} free.")
    click.echo("Shared tasks (created once each, cheapest documented parameters):")
    for kind in shared:
        users = [c.id for c in checks if kind in c.tasks]
        click.echo(f"  {kind}: {CHEAPEST[kind]} — used by {len(users)} checks")
    click.echo("Checks that create tasks of their own:")
    for entry in (c for c in checks if c.own_tasks):
        click.echo(f"  {entry.id}: {entry.own_tasks}")
    risky = [c for c in checks if c.risk_tasks]
    click.echo(f"Checks that create a task only if the gateway wrongly accepts a request it must refuse: "
               f"{len(risky)} ({', '.join(c.id.rsplit('.', 1)[1] for c in risky)})")
    worst = len(shared) + sum(c.own_tasks + c.risk_tasks for c in checks)
    click.echo(f"At most {worst} tasks{f'; --budget {budget} caps it' if budget is not None else ''}.")


def preflight(base_url: str) -> str | None:
    """An error message when the gateway cannot be reached, else None."""
    try:
        httpx.get(base_url.rstrip("/") + "/v1/video/generations/videomock-preflight", timeout=30)
    except httpx.HTTPError as exc:
        return f"cannot reach {base_url}: {type(exc).__name__}: {exc}"
    return None


@click.command("check")
@click.option("--base-url", required=True, help="The gateway's base URL, without /v1.")
@click.option("--api-key", required=True, envvar="VIDEOMOCK_CHECK_API_KEY", help="Bearer key; never reported.")
@click.option("--dialect", type=click.Choice(["gateway", "openai", "auto"]), default="auto", show_default=True)
@click.option("--models", default="sora,veo,wanxiang,seedance", show_default=True,
              help="Gateway model families to create tasks for.")
@click.option("--only", multiple=True, metavar="ID", help="Run only these check ids (or id prefixes).")
@click.option("--budget", type=click.IntRange(min=0), default=None, help="Most tasks the run may create.")
@click.option("--dry-run", is_flag=True, help="List what would run and what it would create; send nothing.")
@click.option("--junit", type=click.Path(dir_okay=False), default=None, help="Write JUnit XML here.")
@click.option("--report-json", type=click.Path(dir_okay=False), default=None, help="Write the JSON report here.")
@click.option("--html", type=click.Path(dir_okay=False), default=None, help="Write the HTML report here.")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False), default=None,
              help="JSON list of known deviations: they may fail; the run fails if one passes again.")
@click.option("--task-timeout", type=float, default=900.0, show_default=True, help="Seconds to wait for a task.")
@click.option("--poll-interval", type=float, default=5.0, show_default=True, help="Seconds between polls.")
def check(base_url: str, api_key: str, dialect: str, models: str, only: tuple[str, ...], budget: int | None,
          dry_run: bool, junit: str | None, report_json: str | None, html: str | None, baseline: str | None,
          task_timeout: float, poll_interval: float) -> None:
    """Check a live gateway against the documented behaviour, clause by clause.

    Exit status: 0 when every selected check passes (or is a baselined, still-failing deviation),
    1 on findings, 2 on usage or connection errors.
    """
    families = tuple(m.strip() for m in models.split(",") if m.strip())
    if dry_run:
        print_plan(only, dialect, families, budget)
        return
    problem = preflight(base_url)
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    args = ["--pyargs", "conformance", "-v", "--no-header", "-p", "no:cacheprovider", "-p", "conformance.plugin",
            "-c", str(Path(__file__).with_name("pytest.ini")), "--rootdir", str(Path(__file__).parent),
            "--base-url", base_url, "--api-key", api_key, "--check-dialect", dialect, "--check-models", models,
            "--check-task-timeout", str(task_timeout), "--check-poll-interval", str(poll_interval)]
    for check_id in only:
        args += ["--check-only", check_id]
    for flag, value in (("--check-budget", budget), ("--check-report-junit", junit),
                        ("--check-report-json", report_json), ("--check-html", html),
                        ("--check-baseline", baseline)):
        if value is not None:
            args += [flag, str(value)]
    # Only this suite's hooks: the checked project's or the environment's plugins stay out of the run.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    code = pytest.main(args)
    sys.exit({0: 0, 1: 1}.get(int(code), 2))
