"""Soak test (issue 9): N concurrent clients for a bounded time against a `videomock serve` subprocess.

Every client loops over a mix of the whole API on both dialects until the deadline:

- gateway flow: ``POST /v1/video/generations`` (sora-2, veo, wanx), poll ``GET …/{task_id}`` until
  ``succeeded``, then download (the base64 ``…/download?id=`` for sora-2, the signed media URL otherwise);
- OpenAI flow: ``POST /v1/videos``, poll ``GET /v1/videos/{id}`` until ``completed``, ``GET
  …/content``, and delete one video in three;
- list: ``GET /v1/videos?limit=20``.

The server runs with a fast clock (``--speed``, default 600: a 52 s generation takes 0.09 s), so
tasks complete, expire and are evicted during the run (``--ttl`` and ``--evict-grace`` of 3600
simulated seconds are 6 real seconds each). Prompts come from a small pool, so the media cache is
warm after the first minute, as on a long-running shared simulator.

Printed every ``--every`` seconds: requests, req/s, unexpected answers, p50/p99 latency (ms) of
the window, the server's RSS (``/proc/PID/status`` VmRSS) and stored tasks. At the end: per
operation counts, errors, p50/p99/max, and the RSS growth after warm-up. Target: 0 unexpected
errors and flat RSS after warm-up. Printed, never asserted (exit status 0).

Loopback only (127.0.0.1); the run stops by itself after ``--duration`` seconds, and stops the
server it started, also on Ctrl-C.

    .venv/bin/python bench/soak.py [--clients 1000] [--duration 600] [--connections 256] [--speed 600]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from array import array
from collections import Counter, defaultdict
from pathlib import Path

import aiohttp

HOST = "127.0.0.1"
KEY = "sk-xxxxxxxxxx"
HEADERS = {"Authorization": f"Bearer {KEY}"}
PROMPTS = [f"soak scene {n}: a lighthouse at dusk" for n in range(12)]
GATEWAY_BODIES = [
    {"model": "sora-2", "seconds": "4", "size": "1280x720"},
    {"model": "veo-3.1-fast-generate-preview", "durationSeconds": 4, "aspectRatio": "16:9"},
    {"model": "wanx-video-v1", "duration": 3, "size": "1280x720"},
]


def rss_mb(pid: int) -> float:
    """The resident set size of process ``pid`` in MiB (0 when unknown)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def percentile(values: list[float] | array, fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Stats:
    """Latencies (ms) and unexpected answers, per operation and per reporting window."""

    def __init__(self) -> None:
        self.latency: dict[str, array] = defaultdict(lambda: array("d"))
        self.window: list[float] = []
        self.errors: Counter[str] = Counter()
        self.window_errors = 0
        self.requests = 0
        self.examples: dict[str, str] = {}

    def record(self, op: str, started: float) -> None:
        ms = (time.perf_counter() - started) * 1000
        self.latency[op].append(ms)
        self.window.append(ms)
        self.requests += 1

    def error(self, op: str, what: str) -> None:
        key = f"{op}: {what}"
        self.errors[key] += 1
        self.window_errors += 1
        self.examples.setdefault(key, what)


class Client:
    """One simulated client of the simulator (a coroutine looping until the deadline)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, stats: Stats, rng: random.Random) -> None:
        self.session, self.base, self.stats, self.rng = session, base, stats, rng

    async def call(self, op: str, method: str, url: str, expect: tuple[int, ...] = (200,), **kwargs) -> tuple[
            int, bytes, dict]:
        started = time.perf_counter()
        try:
            async with self.session.request(method, url, headers=HEADERS, **kwargs) as response:
                body = await response.read()
                status, headers = response.status, dict(response.headers)
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.stats.error(op, type(exc).__name__)
            return 0, b"", {}
        self.stats.record(op, started)
        if status not in expect:
            self.stats.error(op, f"HTTP {status} {body[:120]!r}")
        return status, body, headers

    async def poll(self, op: str, url: str, done: tuple[str, ...], deadline: float) -> dict | None:
        while time.monotonic() < deadline:
            status, body, _ = await self.call(op, "GET", url)
            if status != 200:
                return None
            state = _json(body)
            if state.get("status") in done:
                return state
            if state.get("status") == "failed":
                self.stats.error(op, "task failed")
                return None
            await asyncio.sleep(0.05)
        return None

    async def gateway_flow(self, deadline: float) -> None:
        body = {**self.rng.choice(GATEWAY_BODIES), "prompt": self.rng.choice(PROMPTS)}
        status, raw, _ = await self.call("gateway.submit", "POST", f"{self.base}/v1/video/generations", json=body)
        if status != 200:
            return
        task_id = _json(raw)["task_id"]
        state = await self.poll("gateway.query", f"{self.base}/v1/video/generations/{task_id}", ("succeeded",),
                                deadline)
        if state is None:
            return
        if body["model"] == "sora-2":
            await self.call("gateway.download", "GET", f"{self.base}/v1/video/generations/download",
                            params={"id": task_id})
        else:
            await self.call("media.download", "GET", state["url"])

    async def openai_flow(self, deadline: float) -> None:
        body = {"prompt": self.rng.choice(PROMPTS), "seconds": "4", "size": self.rng.choice(["720x1280", "1280x720"])}
        status, raw, _ = await self.call("openai.create", "POST", f"{self.base}/v1/videos", json=body)
        if status != 200:
            return
        video_id = _json(raw)["id"]
        if await self.poll("openai.retrieve", f"{self.base}/v1/videos/{video_id}", ("completed",), deadline) is None:
            return
        await self.call("openai.content", "GET", f"{self.base}/v1/videos/{video_id}/content")
        if self.rng.random() < 1 / 3:
            await self.call("openai.delete", "DELETE", f"{self.base}/v1/videos/{video_id}")

    async def run(self, deadline: float) -> None:
        await asyncio.sleep(self.rng.random() * 2)  # ramp up over two seconds
        while time.monotonic() < deadline:
            pick = self.rng.random()
            if pick < 0.4:
                await self.gateway_flow(deadline)
            elif pick < 0.8:
                await self.openai_flow(deadline)
            else:
                await self.call("openai.list", "GET", f"{self.base}/v1/videos", params={"limit": "20"})
            await asyncio.sleep(self.rng.random() * 0.2)


def _json(raw: bytes) -> dict:
    import json

    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    """``videomock serve`` on 127.0.0.1, a free port, the fast clock; returns the process and its base URL."""
    env = {k: v for k, v in os.environ.items() if k != "VIDEOMOCK_VALIDATE_RESPONSES"}
    command = [sys.executable, "-m", "mockserver", "serve", "--host", HOST, "--port", "0", "--speed", str(args.speed),
               "--seed", "1", "--evict-grace", "3600", "--ttl", "3600"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", first)
    if not match:
        process.kill()
        raise SystemExit(f"the server did not start: {first!r} {process.communicate(timeout=10)}")
    return process, match.group(0)


async def monitor(base: str, pid: int, stats: Stats, started: float, every: float, rss: list[tuple[float, float]],
                  session: aiohttp.ClientSession) -> None:
    last_requests, last_time = 0, time.monotonic()
    print(f"{'t(s)':>6} {'requests':>9} {'req/s':>7} {'errors':>6} {'p50 ms':>7} {'p99 ms':>8} {'RSS MiB':>8} "
          f"{'tasks':>7}", flush=True)
    while True:
        await asyncio.sleep(every)
        now = time.monotonic()
        window, stats.window = stats.window, []
        tasks = "?"
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            async with session.get(f"{base}/_videomock/health") as response:
                tasks = str((await response.json()).get("tasks", "?"))
        memory = rss_mb(pid)
        rss.append((now - started, memory))
        rate = (stats.requests - last_requests) / (now - last_time)
        print(f"{now - started:6.0f} {stats.requests:9d} {rate:7.0f} {stats.window_errors:6d} "
              f"{percentile(window, 0.5):7.1f} {percentile(window, 0.99):8.1f} {memory:8.1f} {tasks:>7}", flush=True)
        stats.window_errors = 0
        last_requests, last_time = stats.requests, now


async def soak(args: argparse.Namespace, base: str, pid: int) -> tuple[Stats, list[tuple[float, float]]]:
    stats, rss = Stats(), [(0.0, rss_mb(pid))]
    connector = aiohttp.TCPConnector(limit=args.connections, limit_per_host=args.connections)
    timeout = aiohttp.ClientTimeout(total=60)
    started = time.monotonic()
    deadline = started + args.duration
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        watcher = asyncio.create_task(monitor(base, pid, stats, started, args.every, rss, session))
        rng = random.Random(args.seed)
        clients = [Client(session, base, stats, random.Random(rng.random())) for _ in range(args.clients)]
        try:
            await asyncio.wait_for(asyncio.gather(*(client.run(deadline) for client in clients)),
                                   timeout=args.duration + 90)
        except TimeoutError:
            print("some clients were still busy 90 s after the deadline; stopped them", flush=True)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    rss.append((time.monotonic() - started, rss_mb(pid)))
    return stats, rss


def report(stats: Stats, rss: list[tuple[float, float]], warmup: float, server_log: str) -> None:
    print(f"\n{'operation':18} {'count':>8} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    per_op_errors: Counter[str] = Counter()
    for key, count in stats.errors.items():
        per_op_errors[key.split(":", 1)[0]] += count
    everything: list[float] = []
    for op in sorted(set(stats.latency) | set(per_op_errors)):
        values = stats.latency.get(op, array("d"))
        everything.extend(values)
        print(f"{op:18} {len(values):8d} {per_op_errors[op]:7d} {percentile(values, 0.5):8.1f} "
              f"{percentile(values, 0.99):8.1f} {max(values, default=float('nan')):8.1f}")
    total_errors = sum(stats.errors.values())
    print(f"{'all':18} {len(everything):8d} {total_errors:7d} {percentile(everything, 0.5):8.1f} "
          f"{percentile(everything, 0.99):8.1f} {max(everything, default=float('nan')):8.1f}")
    for key, count in stats.errors.most_common(10):
        print(f"  {count:6d} x {key}")
    after = [mb for t, mb in rss if t >= warmup]
    if len(after) >= 2:
        first, last, peak = after[0], after[-1], max(after)
        growth = last - first
        print(f"\nRSS after warm-up ({warmup:.0f} s): first {first:.1f} MiB, last {last:.1f} MiB, peak {peak:.1f} MiB, "
              f"growth {growth:+.1f} MiB ({growth / max(first, 1) * 100:+.1f} %)")
        half = len(after) // 2
        if half >= 2:
            print(f"RSS median, first half vs second half after warm-up: {statistics.median(after[:half]):.1f} vs "
                  f"{statistics.median(after[half:]):.1f} MiB")
    internal = server_log.count("internal error")
    print(f"server log: {internal} internal errors, {len(server_log.splitlines())} lines")
    verdict = "meets" if total_errors == 0 and internal == 0 else "misses"
    print(f"unexpected errors = {total_errors} ({verdict} the target 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="concurrent clients (default 1000)")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load (default 600)")
    parser.add_argument("--connections", type=int, default=256,
                        help="most open connections from all clients together (default 256)")
    parser.add_argument("--speed", type=float, default=600.0, help="the server's clock speed (default 600)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between progress lines (default 10)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds of warm-up left out of the RSS verdict (default: a sixth of the run, ≥ 10 s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the clients' choices")
    args = parser.parse_args()
    warmup = args.warmup if args.warmup is not None else max(10.0, args.duration / 6)
    process, base = start_server(args)
    print(f"server {base} (pid {process.pid}); {args.clients} clients, {args.connections} connections, "
          f"{args.duration:g} s, clock x{args.speed:g}", flush=True)
    server_log = ""
    try:
        stats, rss = asyncio.run(soak(args, base, process.pid))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, server_log = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, server_log = process.communicate(timeout=10)
    report(stats, rss, warmup, server_log or "")


if __name__ == "__main__":
    main()
