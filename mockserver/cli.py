"""The ``videomock`` command line (click)."""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from mockserver.config import DEFAULT_API_KEY, ServerConfig
from mockserver.deviations import DEVIATIONS
from mockserver.profiles import PROFILES
from mockserver.server import run


@click.group()
@click.version_option(package_name="videomock")
def main() -> None:
    """videomock: a stateful simulator of asynchronous video-generation APIs."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port; 0 picks a free one.")
@click.option("--api-key", "api_keys", multiple=True, metavar="KEY",
              help=f"Accepted Bearer key; repeat for several. Default: {DEFAULT_API_KEY} (the seeds' example key).")
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Simulated seconds per real second: 60 makes a minute of work take a second.")
@click.option("--clock", "clock_kind", type=click.Choice(["real", "manual"]), default="real", show_default=True,
              help="'manual' stands still until advanced.")
@click.option("--seed", type=int, default=None, help="Seed for task IDs: the same seed gives the same IDs.")
@click.option("--ttl", default=3600.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Seconds from completion until a video expires.")
@click.option("--profile", type=click.Choice(sorted(PROFILES)), default="seed", show_default=True,
              help="Gateway dialect profile: 'seed' is the documented behaviour.")
@click.option("--max-body", "max_body_bytes", default=32 * 1024 * 1024, show_default=True, type=click.IntRange(1024),
              help="Largest request body in bytes; larger bodies get 413.")
@click.option("--video-bytes", type=click.IntRange(min=1), default=None,
              help="Pad every MP4 to this many bytes (still valid), to test large downloads.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Scenario file (YAML or JSON): timings, failure rates, scripts, keys, faults.")
@click.option("--not-ready", type=click.Choice(["202", "json200", "404"]), default=None,
              help="How /v1/videos/{id}/content answers while not ready (overrides the scenario file; default 202).")
@click.option("--control-token", default=None, metavar="TOKEN",
              help="Open the /_videomock/ control API to callers off loopback that send X-Videomock-Token.")
@click.option("--deviate", "deviations", multiple=True, type=click.Choice(sorted(DEVIATIONS)), metavar="NAME",
              help="Break one documented behaviour on purpose (repeatable), to test a conformance kit.")
@click.option("--examples/--no-examples", default=True, show_default=True,
              help="Preload the task IDs of the seeds' examples (video_69095b4c…, video_xxx).")
@click.option("--validate-responses", is_flag=True, default=False,
              help="Check every response against openapi/videomock.yaml; drift answers 500 (also: "
                   "VIDEOMOCK_VALIDATE_RESPONSES=1).")
# Issue 9: staying up for days, under load and abuse, without losing a task.
@click.option("--state", "state_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="SQLite file keeping tasks, the clock and the ID sequence across restarts (even kill -9).")
@click.option("--max-tasks", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Most tasks stored at once; a submit beyond it, with nothing evictable, gets 429.")
@click.option("--evict-grace", type=click.FloatRange(min=0), default=3600.0, show_default=True,
              help="Simulated seconds a task is kept after its video expired (or it failed) before eviction.")
@click.option("--shutdown-timeout", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds in-flight requests (downloads) get to finish on SIGTERM.")
@click.option("--body-timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="Seconds a request body may take to arrive; slower bodies get 408.")
@click.option("--max-header-size", "max_header_bytes", type=click.IntRange(min=1024), default=8190,
              show_default=True, help="Longest request line or header field in bytes; longer ones get 400.")
@click.option("--max-form-parts", type=click.IntRange(min=1), default=32, show_default=True,
              help="Most parts in a multipart or urlencoded form; more get 413.")
@click.option("--max-part-bytes", type=click.IntRange(min=1), default=24 * 1024 * 1024, show_default=True,
              help="Largest single form part in bytes; larger ones get 413.")
def serve(host: str, port: int, api_keys: tuple[str, ...], speed: float, clock_kind: str, seed: int | None,
          ttl: float, profile: str, max_body_bytes: int, video_bytes: int | None, config_file: str | None,
          not_ready: str | None, control_token: str | None, examples: bool, validate_responses: bool,
          deviations: tuple[str, ...], **limits: Any) -> None:
    """Run the simulator until Ctrl-C or SIGTERM."""
    scenarios = _load_scenarios(config_file)
    if not_ready is not None:
        scenarios["not_ready"] = not_ready
    config = ServerConfig(host=host, port=port, api_keys=api_keys or (DEFAULT_API_KEY,), speed=speed,
                          manual_clock=clock_kind == "manual", seed=seed, ttl=ttl, profile=profile,
                          max_body_bytes=max_body_bytes, video_bytes=video_bytes, scenarios=scenarios,
                          control_token=control_token, examples=examples, deviations=deviations,
                          **({"validate_responses": True} if validate_responses else {}), **limits)
    if not _is_loopback(host):
        click.echo(f"warning: binding {host}, which is not loopback: other machines can reach this simulator",
                   err=True)

    def announce(bound_host: str, bound_port: int) -> None:
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        click.echo(f"videomock serving on http://{shown}:{bound_port}", err=False)
        click.echo(f"  base URL: http://{shown}:{bound_port}/v1")
        key = config.api_keys[0]
        if key == DEFAULT_API_KEY:  # the seeds' public example key; a key of your own is never printed
            click.echo(f"  API key:  {key}  (Authorization: Bearer {key})")
        else:
            click.echo(f"  API key:  the {len(config.api_keys)} key(s) given with --api-key (not shown)")
        click.echo(f"  profile:  {profile}; clock: {clock_kind} x{speed:g}; Ctrl-C stops", err=False)
        if config.state_path:
            click.echo(f"  state:    {config.state_path} (tasks, clock and IDs survive restarts)")
        sys.stdout.flush()

    try:
        run(config, announce)
    except ValueError as exc:  # an invalid scenario file or fault rule
        raise click.UsageError(str(exc)) from None
    click.echo("videomock stopped")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _load_scenarios(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--config") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path}: a scenario file holds a mapping", param_hint="--config")
    return data


def _register_check() -> None:
    from conformance.cli import check
    from conformance.client_cli import check_client

    main.add_command(check)
    main.add_command(check_client)


_register_check()
