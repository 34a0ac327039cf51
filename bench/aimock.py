"""Peer benchmark: ``GET /v1/videos/{id}`` of the simulator against aimock (issue 3).

aimock (npm ``@copilotkit/aimock``) is the closest peer: a Node mock that serves the OpenAI video
status route from a static fixture. Both run side by side on 127.0.0.1, each in its own process,
under identical load (``wrk -t1`` when on PATH, else an aiohttp client), and the result is the ratio
simulator/aimock in req/s (target >= 1.10). Printed, never asserted: the exit status is 0.

The simulator (``videomock serve``'s way, key ``sk-xxxxxxxxxx``) gets one OpenAI video, forced to
complete through the control API; aimock gets a fixture with that video's id, the same key
(``AIMOCK_API_KEYS``), and one ``POST /v1/videos`` to register it. aimock's status body carries only
id, status and created_at (its handler builds it), so the body sizes are printed too. aimock is
installed at run time with npm into ``bench/.peers`` (git-ignored) unless it is already there.

    .venv/bin/python bench/aimock.py [--duration 5] [--concurrency 32] [--rounds 3] [--client auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

# bench/ is on sys.path when run as a script
from poll_rps import aiohttp_load, interpreter, measure, request, start, stop

KEY = "sk-xxxxxxxxxx"
PACKAGE = "@copilotkit/aimock"
PEERS = Path(__file__).resolve().parent / ".peers"
TARGET = 1.10


def skip(why: str, tried: list[str]) -> int:
    print(f"aimock comparison skipped: {why}")
    for step in tried:
        print(f"  tried: {step}")
    return 0


def install(peers: Path, tried: list[str]) -> Path:
    """The aimock server script (the ``llmock`` bin, which takes ``--fixtures``), npm-installing it if needed."""
    cli = peers / "node_modules" / PACKAGE / "dist" / "cli.js"
    if not cli.exists():
        command = ["npm", "install", "--prefix", str(peers), "--no-audit", "--no-fund", PACKAGE]
        tried.append(" ".join(command))
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not cli.exists():
            raise RuntimeError(f"npm install failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return cli


def start_aimock(cli: Path, fixture: Path, processes: list[subprocess.Popen[bytes]]) -> int:
    log = fixture.with_name("aimock.log")  # its stderr, read back if it does not start
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with log.open("wb") as stderr:
        process = subprocess.Popen(["node", str(cli), "--port", str(port), "--host", "127.0.0.1", "--fixtures",
                                    str(fixture), "--log-level", "silent"], env={**os.environ, "AIMOCK_API_KEYS": KEY},
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    processes.append(process)
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return port
        time.sleep(0.05)
    error = log.read_text(errors="replace")[-500:] if process.poll() is not None else ""
    raise RuntimeError(f"aimock did not start (exit status {process.poll()}) {error}".strip())


def main() -> int | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run (default 5)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections / workers (default 32)")
    parser.add_argument("--rounds", type=int, default=3, help="repeat, alternating order; median (default 3)")
    parser.add_argument("--client", choices=("auto", "wrk", "aiohttp"), default="auto")
    parser.add_argument("--peers", type=Path, default=PEERS, help="npm prefix for aimock (default bench/.peers)")
    args = parser.parse_args()
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "aiohttp")

    tried: list[str] = []
    missing = [tool for tool in ("node", "npm") if not shutil.which(tool)]
    if missing:
        return skip(f"{' and '.join(missing)} not on PATH", ["shutil.which('node'), shutil.which('npm')"])
    processes: list[subprocess.Popen[bytes]] = []
    try:
        try:
            cli = install(args.peers, tried)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            return skip(str(error), tried)
        version = json.loads((cli.parent.parent / "package.json").read_text())["version"]

        sim_port = start("simulator", processes)
        sim = f"http://127.0.0.1:{sim_port}"
        video_id = json.loads(request("POST", f"{sim}/v1/videos", {"prompt": "x", "seconds": "4"}))["id"]
        request("POST", f"{sim}/_videomock/tasks/{video_id}/succeed", {})
        sim_body = request("GET", f"{sim}/v1/videos/{video_id}")
        video = json.loads(sim_body)
        assert video["status"] == "completed", video

        fixture = args.peers / "videomock-fixture.json"
        fixture.write_text(json.dumps({"fixtures": [{"match": {"endpoint": "video"}, "response": {"video": {
            key: video[key] for key in ("id", "status", "url") if video.get(key) is not None}}}]}))
        tried.append(f"node {cli} --fixtures {fixture} (video fixture id {video_id}), AIMOCK_API_KEYS={KEY}")
        try:
            ai_port = start_aimock(cli, fixture, processes)
            ai = f"http://127.0.0.1:{ai_port}"
            tried.append("POST /v1/videos {'prompt': 'x', 'seconds': '4'}, then GET /v1/videos/{id}")
            request("POST", f"{ai}/v1/videos", {"prompt": "x", "seconds": "4"})
            ai_body = request("GET", f"{ai}/v1/videos/{video_id}")
            if json.loads(ai_body).get("id") != video_id:
                raise RuntimeError(f"aimock answered GET /v1/videos/{video_id} with {ai_body[:200]!r}")
        except (RuntimeError, OSError, ValueError) as error:  # urllib's HTTPError and URLError are OSErrors
            return skip(f"aimock could not serve GET /v1/videos/{{id}}: {error}", tried)

        servers = {"simulator": (processes[0], f"{sim}/v1/videos/{video_id}", sim_body),
                   f"aimock {version}": (processes[1], f"{ai}/v1/videos/{video_id}", ai_body)}
        print(f"GET /v1/videos/{{id}} (completed video): client {client}, {args.concurrency} connections, "
              f"{args.duration:g} s x {args.rounds} round(s), median reported; 127.0.0.1, {os.cpu_count()} CPUs; "
              f"simulator on {interpreter()}; "
              f"node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}")
        for _, url, _ in servers.values():  # warm-up (JIT, caches), not counted
            asyncio.run(aiohttp_load(url, 8, 0.5))
        runs: dict[str, list[tuple]] = {}
        for round_ in range(args.rounds):
            for name, (process, url, _) in list(servers.items())[::1 if round_ % 2 == 0 else -1]:
                runs.setdefault(name, []).append(measure(client, process, url, args))

        line = "  {:<16} {:>6} {:>9} {:>8} {:>6} {:>5} {:>9}"
        print("\n" + line.format("server", "bytes", "requests", "req/s", "errors", "cpu%", "req/cpu-s"))
        rates, per_cpu = {}, {}
        for name, results in runs.items():
            ok, rate, errors, cpu, rate_cpu = zip(*results, strict=True)
            rates[name], per_cpu[name] = statistics.median(rate), statistics.median(rate_cpu)
            print(line.format(name, len(servers[name][2]), sum(ok), f"{rates[name]:.0f}", sum(errors),
                              f"{statistics.median(cpu):.0f}", f"{per_cpu[name]:.0f}"))
        print("  bytes: response body; cpu%, req/cpu-s: of the server process (both check the same Bearer key)")
        sim_name, ai_name = servers
        by_cpu = per_cpu[sim_name] / (per_cpu[ai_name] or float("nan"))
        print(f"  per server CPU-second: simulator/aimock = {by_cpu:.2f}")
        print(f"ratio simulator/aimock = {rates[sim_name] / rates[ai_name]:.2f} (target >= {TARGET:.2f})")
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except subprocess.CalledProcessError as error:  # wrk; also when a Ctrl-C reached it before this process
        print(f"\nwrk stopped with exit status {error.returncode} (interrupted?), no result", file=sys.stderr)
        return 1
    finally:
        for process in processes:
            stop(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
