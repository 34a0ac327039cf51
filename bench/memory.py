"""Memory per stored task: bytes the task store holds per task, with 100 000 tasks (issue 9).

Tasks are created in-process the way the dialect handlers create them (``catalog.validate`` for
gateway bodies, the OpenAI create path's params), with a distinct ~60-character prompt each, a mix
of models and scenarios. Two measurements:

- ``tracemalloc``: Python allocations still alive after the tasks were stored, divided by their
  number (the store, the tasks, their params, prompts, plans and the eviction index);
- ``RSS``: growth of the process's resident set (``/proc/self/status`` VmRSS) while a first,
  untraced store of the same tasks fills, which also counts allocator slack.

The media cache is excluded (no video is rendered). Target: <= 1.5 KB per task (the closest peer
keeps about 4.6 KB per stored video). Printed, never asserted; the exit status is 0.

A third figure, for the journal (issue 5) rather than the store: the bytes a journal entry keeps
alive per status poll. A real server (``ServerThread``, 127.0.0.1, port 0) answers ``--polls``
polls of one documented task from an aiohttp client in the same process; ``tracemalloc`` counts
what is still allocated afterwards, the client's own allocations filtered out. No target: it is
the cost of keeping each exchange, printed so a change to the entry shows up.

A fourth, for the resolved routes (``mockserver.routing``): the same kind of server, with a journal
of one entry, answers ``--targets`` (2 000) status polls of the same task, each with its own query
(``?n=1``, ``?n=2``, ...), so each is a new request target whose route is remembered; the bytes
still allocated afterwards, per target. ``--target-length N`` pads each query to make every
target N characters long (``TARGET_LIMIT`` is the longest kept). No target either: the table
holds at most ``RESOLVED_LIMIT`` targets per method.

    .venv/bin/python bench/memory.py [--tasks 100000] [--polls 3000] [--targets 2000] [--target-length N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mockserver import catalog
from mockserver.backend import VideoBackend
from mockserver.catalog import RenderSpec
from mockserver.clock import Clock
from mockserver.keys import JOURNAL
from mockserver.routing import RESOLVED_LIMIT, TARGET_LIMIT
from mockserver.server import ServerThread

POLLED = "video_69095b4ce0048190893a01510c0c98b0"  # the documented example task (seed 000)
KEY = "sk-xxxxxxxxxx"

TARGET = 1536
BODIES = [
    {"model": "sora-2", "seconds": "4", "size": "720x1280"},
    {"model": "sora-2", "duration": 10, "resolution": "1080p", "aspect_ratio": "16:9"},
    {"model": "veo-3.1-fast-generate-preview", "durationSeconds": 8, "aspectRatio": "16:9", "generateAudio": True},
    {"model": "wanx-video-v1", "duration": 5, "size": "1280x720", "image_url": "https://example.com/cat.png"},
    {"model": "seedance-1.0-pro", "duration": 6, "resolution": "1080p", "aspect_ratio": "16:9"},
]
SCENARIOS = ["success", "success", "success", "content_policy", "stall"]


def rss_bytes() -> int:
    """The resident set size of this process, in bytes (0 where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def prepared() -> list[tuple[catalog.ModelSpec, dict]]:
    """The gateway bodies that the catalog accepts, with their specs (unknown models skipped)."""
    found = []
    for body in BODIES:
        try:
            spec = catalog.lookup(body["model"])
            catalog.validate(spec, body)
        except Exception:  # a model renamed in the catalog: skip it, the mix stays representative
            continue
        found.append((spec, body))
    return found


def fill(backend: VideoBackend, count: int, bodies: list[tuple[catalog.ModelSpec, dict]]) -> None:
    """Store ``count`` tasks: four of five through the gateway path, one through the OpenAI path."""
    for index in range(count):
        prompt = f"A red fox running through fresh snow at dawn, shot {index:07d}, cinematic"
        scenario = SCENARIOS[index % len(SCENARIOS)]
        if index % 5 == 4:
            backend.create_task(model="sora-2", family="sora", prompt=prompt,
                                params={"model": "sora-2", "seconds": "8", "size": "1280x720"},
                                render=RenderSpec(1280, 720, 8), dialect="openai", scenario=scenario)
            continue
        spec, body = bodies[index % len(bodies)]
        params, render = catalog.validate(spec, body)  # fresh objects per request, as a handler gets
        backend.create_task(model=spec.model, family=spec.family, prompt=prompt, params=params, render=render,
                            dialect="gateway", scenario=scenario)


async def poll(base_url: str, count: int, paths: list[str] | None = None) -> None:
    """``count`` sequential status polls of :data:`POLLED` over one keep-alive connection (``paths``: one GET each)."""
    import aiohttp  # the simulator's own dependency; imported here so the store figures need only the backend

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as session:
        for path in paths if paths is not None else [f"/v1/video/generations/{POLLED}"] * count:
            async with session.get(f"{base_url}{path}") as response:
                await response.read()
                if response.status != 200:
                    raise SystemExit(f"GET {path} answered {response.status}: {await response.text()}")


def journal_bytes(polls: int) -> tuple[float, int, int, list[tracemalloc.StatisticDiff]]:
    """Bytes kept alive per journaled status poll, server side.

    Returns:
        (bytes per poll, polls measured (``polls``, at most the journal's limit less 200), journal
        entries kept, the largest allocation sites).
    """
    # The client's allocations (aiohttp's client modules, this file) are not the journal's.
    server_side = [tracemalloc.Filter(False, "*/aiohttp/client*"), tracemalloc.Filter(False, __file__)]
    with ServerThread() as server:
        polls = min(polls, server.app[JOURNAL].entries.maxlen - 200)  # none of the measured entries may fall out
        asyncio.run(poll(server.base_url, 200))  # warm up: connections, caches, the rendered body
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot().filter_traces(server_side)
        asyncio.run(poll(server.base_url, polls))
        gc.collect()
        after = tracemalloc.take_snapshot().filter_traces(server_side)
        tracemalloc.stop()
        kept = len(server.app[JOURNAL].entries)
    stats = after.compare_to(before, "lineno")
    return sum(stat.size_diff for stat in stats) / polls, polls, kept, stats[:5]


def resolved_route_bytes(targets: int, length: int = 0) -> float:
    """Bytes kept alive per remembered request target (``mockserver.routing.ResolvedRoutes``), server side.

    ``length``: pad each target's query with ``x`` to that many characters (0: as short as it comes).
    """
    server_side = [tracemalloc.Filter(False, "*/aiohttp/client*"), tracemalloc.Filter(False, __file__)]
    paths = [f"/v1/video/generations/{POLLED}?n={n}&pad=".ljust(length, "x") for n in range(targets + 100)]
    with ServerThread(journal_limit=1) as server:
        asyncio.run(poll(server.base_url, 0, paths[:100]))  # warm up, as above
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot().filter_traces(server_side)
        asyncio.run(poll(server.base_url, 0, paths[100:]))
        gc.collect()
        after = tracemalloc.take_snapshot().filter_traces(server_side)
        tracemalloc.stop()
    return sum(stat.size_diff for stat in after.compare_to(before, "filename")) / targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000, help="how many tasks to store (default 100000)")
    parser.add_argument("--polls", type=int, default=3000, help="status polls for the journal figure (default 3000)")
    parser.add_argument("--targets", type=int, default=2000,
                        help=f"distinct request targets for the resolved-routes figure (default 2000, at most "
                             f"{RESOLVED_LIMIT - 100})")
    parser.add_argument("--target-length", type=int, default=0,
                        help=f"pad each of those targets to this many characters (at most {TARGET_LIMIT}, the "
                             "longest remembered; default: unpadded, about 70)")
    args = parser.parse_args()
    bodies = prepared()
    # Warm up caches (interned plans, catalog lookups) outside the measured span.
    fill(VideoBackend(Clock(manual=True), seed=1), 100, bodies)
    gc.collect()

    # RSS first, without tracemalloc (which costs memory per traced block itself).
    backend = VideoBackend(Clock(manual=True), seed=1)
    gc.collect()
    rss_before = rss_bytes()
    started = time.perf_counter()
    fill(backend, args.tasks, bodies)
    elapsed = time.perf_counter() - started
    gc.collect()
    rss_after = rss_bytes()
    stored = len(backend)
    del backend
    gc.collect()

    backend = VideoBackend(Clock(manual=True), seed=1)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    fill(backend, args.tasks, bodies)
    gc.collect()
    after = tracemalloc.take_snapshot()
    traced = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    top = after.compare_to(before, "lineno")[:6]
    tracemalloc.stop()

    print(f"stored tasks:           {stored} (created in {elapsed:.2f} s, {args.tasks / elapsed:,.0f} tasks/s)")
    print(f"tracemalloc per task:   {traced / args.tasks:,.0f} bytes")
    if rss_before:
        print(f"RSS growth per task:    {(rss_after - rss_before) / args.tasks:,.0f} bytes")
    print("largest allocation sites:")
    for stat in top:
        print(f"  {stat.size_diff / args.tasks:8.1f} B/task  {stat.traceback}")
    per_task = traced / args.tasks
    verdict = "meets" if per_task <= TARGET else "misses"
    print(f"memory per stored task = {per_task:,.0f} bytes ({verdict} the target <= {TARGET} bytes)")

    per_poll, polls, kept, sites = journal_bytes(args.polls)
    print(f"journal: {per_poll:,.0f} bytes kept per status poll ({polls} polls, {kept} entries in the journal); "
          "largest sites:")
    for stat in sites:
        print(f"  {stat.size_diff / polls:8.1f} B/poll  {stat.traceback}")
    targets = min(args.targets, RESOLVED_LIMIT - 100)  # none of the measured targets may be forgotten
    length = min(args.target_length, TARGET_LIMIT)
    print(f"resolved routes: {resolved_route_bytes(targets, length):,.0f} bytes kept per remembered request target "
          f"({targets} targets{f' of {length} characters' if length else ''}; at most {RESOLVED_LIMIT} per method)")


if __name__ == "__main__":
    main()
