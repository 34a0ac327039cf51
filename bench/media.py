"""Media benchmark: synthesis time (cold and warm) and download throughput against nginx, side by side.

Targets (issue 4, a 2-core machine): warm synthesis <= 20 ms, cold <= 1.5 s; download of a 15 MB
MP4 from the simulator at least half of nginx's rate for the same file. Printed, never asserted.

    .venv/bin/python bench/media.py [--downloads 40] [--concurrency 4]

nginx comes from Debian (``apt-get install nginx-light``); without it the download comparison is
reported as skipped. Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from mockserver.catalog import RenderSpec
from mockserver.media import MediaSynthesizer
from mockserver.server import ServerThread

CASES = {"720p 4 s": RenderSpec(1280, 720, 4), "1080p 20 s": RenderSpec(1920, 1080, 20)}
DOCUMENTED_SIZE = 15_728_640  # bytes, the docs' example answer


def synthesis() -> None:
    print("synthesis (fresh cache for cold; same GOP, new duration for warm)")
    print(f"  {'case':<12} {'cold s':>8} {'warm ms':>9}   targets: cold <= 1.5 s, warm <= 20 ms")
    for name, render in CASES.items():
        media = MediaSynthesizer()
        try:
            start = time.perf_counter()
            media.path_sync(render, name)
            cold = time.perf_counter() - start
            warm = []
            for extra in range(1, 6):  # another duration: the GOP is cached, only the remux runs
                other = RenderSpec(render.width, render.height, render.seconds + extra)
                start = time.perf_counter()
                media.path_sync(other, name)
                warm.append(time.perf_counter() - start)
            print(f"  {name:<12} {cold:8.3f} {statistics.median(warm) * 1000:9.1f}")
        finally:
            media.close()


async def _download(url: str, count: int, concurrency: int, headers: dict[str, str]) -> tuple[float, int]:
    done = 0
    total = 0

    async with aiohttp.ClientSession() as session:
        async def worker() -> None:
            nonlocal done, total
            while done < count:
                done += 1
                async with session.get(url, headers=headers) as response:
                    assert response.status == 200, response.status
                    async for chunk in response.content.iter_chunked(1 << 16):
                        total += len(chunk)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, total


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_nginx(root: Path, port: int) -> subprocess.Popen[bytes]:
    conf = root / "nginx.conf"
    conf.write_text(f"""
daemon off; worker_processes 1; pid {root}/nginx.pid; error_log {root}/error.log;
events {{ worker_connections 256; }}
http {{ access_log off; sendfile on; tcp_nopush on;
  types {{ video/mp4 mp4; }}
  server {{ listen 127.0.0.1:{port}; root {root}; }} }}
""")
    process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(root)])
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("nginx did not start")


def downloads(count: int, concurrency: int) -> None:
    print(f"\ndownload of a {DOCUMENTED_SIZE:,}-byte MP4, {count} times, {concurrency} at once")
    with ServerThread(video_bytes=DOCUMENTED_SIZE, manual_clock=True) as server, \
            tempfile.TemporaryDirectory() as root:
        headers = {"Authorization": f"Bearer {server.api_key}"}

        async def video_url() -> str:
            async with aiohttp.ClientSession(headers=headers) as session:
                body = {"model": "wanx-video-v1", "prompt": "bench", "duration": 5}
                async with session.post(f"{server.base_url}/v1/video/generations", json=body) as response:
                    task_id = (await response.json())["task_id"]
                server.clock.advance(600)
                async with session.get(f"{server.base_url}/v1/video/generations/{task_id}") as response:
                    return (await response.json())["url"]

        url = asyncio.run(video_url())
        data = asyncio.run(_fetch(url))
        Path(root).chmod(0o755)  # nginx workers run as an unprivileged user
        (Path(root) / "video.mp4").write_bytes(data)
        (Path(root) / "video.mp4").chmod(0o644)
        rows = {"videomock": asyncio.run(_download(url, count, concurrency, {}))}
        if shutil.which("nginx"):
            port = _free_port()
            nginx = _start_nginx(Path(root), port)
            try:
                rows["nginx"] = asyncio.run(_download(f"http://127.0.0.1:{port}/video.mp4", count, concurrency, {}))
            finally:
                nginx.terminate()
                nginx.wait(timeout=10)
        for name, (seconds, total) in rows.items():
            print(f"  {name:<10} {total / seconds / 1e6:9.1f} MB/s  ({total:,} bytes in {seconds:.2f} s)")
        if "nginx" in rows:
            ratio = (rows["videomock"][1] / rows["videomock"][0]) / (rows["nginx"][1] / rows["nginx"][0])
            print(f"  ratio videomock/nginx = {ratio:.2f} (target >= 0.50)")
        else:
            print("  nginx: skipped (not installed; apt-get install nginx-light)")


async def _fetch(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--downloads", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    synthesis()
    downloads(args.downloads, args.concurrency)


if __name__ == "__main__":
    sys.exit(main())
