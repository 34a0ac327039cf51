"""`videomock serve --state FILE` (issue 9): kill -9 and restart lose nothing acknowledged; SIGTERM drains.

Every server here is a real `videomock serve` subprocess on 127.0.0.1 (or a ServerThread for the
in-process checks); nothing leaves loopback.
"""

from __future__ import annotations

import math
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from mockserver.app import create_app
from mockserver.server import ServerThread

KEY = {"Authorization": "Bearer sk-xxxxxxxxxx"}
EXAMPLE = "video_69095b4ce0048190893a01510c0c98b0"


class Serve:
    """A `videomock serve --port 0` subprocess and its base URL."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--port", "0", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", first)
        if not match:
            self.process.kill()
            pytest.fail(f"server did not start: {first!r} {self.process.communicate(timeout=10)}")
        self.url, self.port = match.group(0), int(match.group(1))
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # never block on a full pipe

    def get(self, path: str, **kwargs):
        return requests.get(self.url + path, headers=KEY, timeout=10, **kwargs)

    def post(self, path: str, body: dict | None = None, **kwargs):
        return requests.post(self.url + path, json=body or {}, headers={**KEY, **kwargs.pop("headers", {})},
                             timeout=10, **kwargs)

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        return self.process.returncode


@pytest.fixture
def servers():
    started: list[Serve] = []

    def start(*args: str) -> Serve:
        started.append(Serve(*args))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def rows(state: str) -> int:
    """How many tasks the state file holds (read by a second connection, as after a crash)."""
    with sqlite3.connect(state) as db:
        return db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]


def inspect(server: Serve, task_id: str) -> dict:
    response = server.get(f"/_videomock/tasks/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_kill_9_with_a_manual_clock_resumes_every_task_at_the_same_moment(tmp_path, servers):
    state = str(tmp_path / "state.db")
    args = ("--state", state, "--clock", "manual", "--seed", "11")
    first = servers(*args)
    ids = [first.post("/v1/video/generations", {"model": "sora-2", "prompt": "a fox"}).json()["task_id"]]
    first.post("/_videomock/clock/advance", {"seconds": 20})
    ids.append(first.post("/v1/video/generations", {"model": "veo-3.1-fast-generate-preview", "prompt": "a hen"},
                          headers={"X-Videomock-Scenario": "content_policy"}).json()["task_id"])
    created = first.post("/v1/videos", {"prompt": "an owl", "seconds": "8"},
                         headers={"X-Videomock-Not-Ready": "json200"})
    assert created.status_code == 200, created.text
    ids.append(created.json()["id"])
    ids.append(first.post("/v1/video/generations", {"model": "wanx-video-v1", "prompt": "a cat"}).json()["task_id"])
    first.post("/_videomock/clock/advance", {"seconds": 30})
    assert first.post(f"/_videomock/tasks/{ids[3]}/succeed").status_code == 200  # a plan changed in place
    deleted = ids.pop(0)
    assert requests.delete(f"{first.url}/v1/videos/{deleted}", headers=KEY, timeout=10).status_code == 200
    before = {task_id: inspect(first, task_id) for task_id in ids}
    clock_before = first.get("/_videomock/clock").json()["now"]
    first.kill9()

    second = servers(*args)
    assert second.get("/_videomock/clock").json()["now"] == pytest.approx(clock_before, abs=1e-6)
    for task_id in ids:
        assert inspect(second, task_id) == before[task_id], task_id
    assert {before[i]["status"] for i in ids} == {"failed", "in_progress", "succeeded"}
    assert second.get(f"/v1/videos/{deleted}").status_code == 404, "a deletion is kept too"
    not_ready = second.get(f"/v1/videos/{ids[1]}/content")
    assert not_ready.status_code == 200 and "still in progress" in not_ready.text, "the task's not-ready mode is kept"
    assert second.get(f"/v1/video/generations/{EXAMPLE}").json()["status"] == "succeeded", "examples preloaded"

    fresh = [second.post("/v1/video/generations", {"model": "sora-2", "prompt": "new"}).json()["task_id"]
             for _ in range(3)]
    assert not set(fresh) & {*ids, deleted}, "the same --seed after a restart never repeats an ID"
    second.stop()
    third = servers(*args)
    for task_id in [*ids, *fresh]:
        assert third.get(f"/_videomock/tasks/{task_id}").status_code == 200


def test_kill_9_with_a_running_clock_counts_the_downtime_and_keeps_urls(tmp_path, servers):
    state = str(tmp_path / "state.db")
    first = servers("--state", state, "--speed", "60")
    veo = first.post("/v1/video/generations", {"model": "veo-3.1-fast-generate-preview", "prompt": "rain"})
    ids = [veo.json()["task_id"]]
    assert first.post(f"/_videomock/tasks/{ids[0]}/succeed").status_code == 200
    url = first.get(f"/v1/video/generations/{ids[0]}").json()["url"]
    for index in range(5):
        answer = first.post("/v1/video/generations", {"model": "sora-2", "prompt": f"p{index}"})
        assert answer.status_code == 200
        ids.append(answer.json()["task_id"])
    before = {task_id: inspect(first, task_id) for task_id in ids}
    t0 = time.monotonic()
    clock_before = first.get("/_videomock/clock").json()["now"]
    t1 = time.monotonic()
    first.kill9()  # right after the last acknowledgement
    time.sleep(1.0)

    second = servers("--state", state, "--speed", "60")
    t2 = time.monotonic()
    clock_after = second.get("/_videomock/clock").json()["now"]
    t3 = time.monotonic()
    # The clock resumed as if it had kept running while the server was down (state.py's rule).
    assert (t2 - t1) * 60 - 1 <= clock_after - clock_before <= (t3 - t0) * 60 + 1
    for task_id in ids:
        after = inspect(second, task_id)
        assert after["created_at"] == before[task_id]["created_at"]
        duration = math.fsum(phase["seconds"] for phase in after["plan"])
        if clock_after - after["created_at"] > duration + 1:  # the clock says it must be done
            assert after["status"] == "succeeded", after
    assert {inspect(second, i)["status"] for i in ids[1:]} == {"succeeded"}, "52 s of work; >60 s passed"
    video = requests.get(url.replace(url.split("/media/")[0], second.url), timeout=30)
    assert video.status_code == 200 and video.headers["Content-Type"] == "video/mp4", "signed URLs outlive a restart"


def test_sigterm_lets_a_slow_download_finish_then_stops_and_saves(tmp_path, servers):
    state = str(tmp_path / "state.db")
    server = servers("--state", state, "--clock", "manual", "--shutdown-timeout", "10")
    task_id = server.post("/v1/video/generations", {"model": "wanx-video-v1", "prompt": "a slow one",
                                                    "duration": 3}).json()["task_id"]
    server.post(f"/_videomock/tasks/{task_id}/succeed")
    url = server.get(f"/v1/video/generations/{task_id}").json()["url"]
    size = len(requests.get(url, timeout=30).content)  # renders it once (the cache makes the next one quick)
    rule = server.post("/_videomock/faults", {"match": {"dialect": "media"}, "action": "slow_body",
                                              "bytes_per_second": size / 2})
    assert rule.status_code == 201, rule.text
    result: dict = {}

    def download() -> None:
        try:
            response = requests.get(url, timeout=30)
            result["status"], result["bytes"] = response.status_code, len(response.content)
        except requests.RequestException as exc:
            result["error"] = exc

    downloader = threading.Thread(target=download)
    downloader.start()
    time.sleep(0.6)
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.4)
    with pytest.raises(OSError):  # no longer accepting
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    downloader.join(timeout=20)
    assert result == {"status": 200, "bytes": size}, "the in-flight download completed"
    assert server.stop() == 0
    assert rows(state) == 1


def test_state_file_round_trip_in_process(tmp_path):
    state = str(tmp_path / "state.db")
    with ServerThread(state_path=state, manual_clock=True, seed=3) as first:
        stalled = first.backend.create_task(model="sora-2", family="sora", prompt="stuck", params={"seconds": "4"},
                                            render=first.backend.find(EXAMPLE).render, dialect="openai",
                                            scenario="stall")
        first.clock.advance(5)
        saved = first.control.task(stalled.id)
        example = first.control.task(EXAMPLE)
        time.sleep(1.3)  # the Python API's writes are saved by housekeeping within a second
        assert rows(state) == 1, "examples are not written until they change"
    with ServerThread(state_path=state, manual_clock=True, seed=3) as second:
        assert second.control.task(stalled.id) == saved
        assert math.inf in [phase.seconds for phase in second.backend.find(stalled.id).plan.phases]
        assert second.control.task(EXAMPLE)["status"] == example["status"] == "succeeded"


def test_a_file_that_is_not_a_state_file_is_refused(tmp_path):
    bogus = tmp_path / "state.db"
    bogus.write_text("not sqlite at all, " * 100)
    with pytest.raises(ValueError, match="not a videomock state file"):  # `videomock serve` shows it as a usage error
        create_app(state_path=str(bogus))


def test_reset_clears_the_file_and_evictions_delete_rows(tmp_path):
    state = str(tmp_path / "state.db")
    with ServerThread(state_path=state, manual_clock=True, evict_grace=10, examples=False) as server:
        session = requests.Session()
        session.headers.update(KEY)
        for _ in range(3):
            assert session.post(f"{server.base_url}/v1/videos", json={"prompt": "x"}, timeout=10).status_code == 200
        assert rows(state) == 3
        server.clock.advance(4000 + 3600 + 11)  # done, expired, grace over
        assert session.post(f"{server.base_url}/v1/videos", json={"prompt": "y"}, timeout=10).status_code == 200
        assert rows(state) == 1, "the submit evicted the three and saved that"
        session.post(f"{server.base_url}/_videomock/reset", json={}, timeout=10)
        assert rows(state) == 0
    assert Path(state).exists()
