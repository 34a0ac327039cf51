"""A bounded task store (issue 9): eviction after a grace period, a cap with a clear 429, shared plans."""

from __future__ import annotations

import time

import pytest
import requests

from mockserver.backend import VideoBackend
from mockserver.catalog import RenderSpec
from mockserver.clock import Clock
from mockserver.errors import TaskNotFound, TooManyTasks
from mockserver.server import ServerThread

KEY = {"Authorization": "Bearer sk-xxxxxxxxxx"}
RENDER = RenderSpec(1280, 720, 4)
#: Simulated seconds a plain sora-2 4 s task takes: 1 submitted + 5 queued + 30 + 4 x 4 generating.
DONE = 52.0


def make(backend: VideoBackend, scenario: str = "success", **kwargs):
    return backend.create_task(model="sora-2", family="sora", prompt="p", params={}, render=RENDER,
                               dialect="openai", scenario=scenario, **kwargs)


@pytest.fixture
def backend() -> VideoBackend:
    return VideoBackend(Clock(manual=True, start=1_000_000.0), seed=1, ttl=100.0, evict_grace=50.0, max_tasks=5)


def test_expired_tasks_are_evicted_after_the_grace_period(backend):
    task = make(backend)
    assert backend.evictable_at(task) == task.created_at + DONE + 100 + 50
    backend.clock.advance(DONE + 100 + 49)
    assert backend.evict() == []
    assert backend.get_task(task.id)[1].expired, "expired but still inside the grace period: still known"
    backend.clock.advance(1)
    make(backend)  # eviction runs lazily on submit
    with pytest.raises(TaskNotFound):
        backend.get_task(task.id)


def test_failed_tasks_are_evicted_grace_seconds_after_failing_and_stalled_ones_never(backend):
    failed, stalled = make(backend, "content_policy"), make(backend, "stall")
    failed_at = backend.get_task(failed.id)[0].created_at + backend.find(failed.id).plan.end
    assert backend.evictable_at(failed) == pytest.approx(failed_at + 50)
    assert backend.evictable_at(stalled) == float("inf")
    backend.clock.advance(10**7)
    assert backend.evict() == [failed.id]
    assert backend.find(stalled.id) is not None


def test_a_full_store_answers_429_until_something_is_evictable(backend):
    for _ in range(5):
        make(backend)
    with pytest.raises(TooManyTasks) as refused:
        make(backend)
    assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "60"  # a manual clock
    assert "at most 5 tasks" in refused.value.message
    backend.clock.advance(DONE + 150)
    make(backend)
    assert len(backend) == 1, "every expired task went at once when room was needed"


def test_sweep_catches_plans_replaced_after_submission(backend):
    from mockserver.lifecycle import settle

    stalled = make(backend, "stall")
    stalled.plan = settle(stalled.plan, stalled.created_at, backend.clock.now())  # the control API's "succeed"
    backend.clock.advance(200)
    assert backend.evict() == [], "the schedule did not know the new plan"
    assert backend.sweep() == [stalled.id]


def test_identical_plans_and_renders_are_shared_and_stale_schedule_entries_compacted(backend):
    backend.max_tasks = 10**6
    first, second = make(backend), make(backend)
    assert first.plan is second.plan and first.render is second.render
    for _ in range(3000):
        backend.delete_task(make(backend).id)
    assert len(backend._due) <= 2 * len(backend) + 1024 + 1


def test_http_submit_beyond_the_cap_is_429_in_each_dialect_envelope():
    with ServerThread(manual_clock=True, max_tasks=3, examples=False) as server:
        session = requests.Session()
        session.headers.update(KEY)
        for _ in range(3):
            assert session.post(f"{server.base_url}/v1/videos", json={"prompt": "x"}, timeout=10).status_code == 200
        openai = session.post(f"{server.base_url}/v1/videos", json={"prompt": "x"}, timeout=10)
        gateway = session.post(f"{server.base_url}/v1/video/generations", json={"model": "sora-2", "prompt": "x"},
                               timeout=10)
        for response in (openai, gateway):
            assert response.status_code == 429, response.text
            assert response.headers["Retry-After"] == "60"
            assert response.json()["error"]["code"] == "task_limit_reached"
            assert response.json()["error"]["type"] == "rate_limit_error"
        video_id = session.get(f"{server.base_url}/v1/videos", timeout=10).json()["data"][0]["id"]
        assert session.delete(f"{server.base_url}/v1/videos/{video_id}", timeout=10).status_code == 200
        assert session.post(f"{server.base_url}/v1/videos", json={"prompt": "x"}, timeout=10).status_code == 200
        assert not server.errors


def test_housekeeping_evicts_without_any_submit():
    with ServerThread(manual_clock=True, evict_grace=0, ttl=10, examples=False) as server:
        session = requests.Session()
        session.headers.update(KEY)
        video_id = session.post(f"{server.base_url}/v1/videos", json={"prompt": "x"}, timeout=10).json()["id"]
        server.clock.advance(DONE + 10)
        for _ in range(40):  # housekeeping runs once a second
            if session.get(f"{server.base_url}/v1/videos/{video_id}", timeout=10).status_code == 404:
                break
            time.sleep(0.05)
        assert session.get(f"{server.base_url}/v1/videos/{video_id}", timeout=10).status_code == 404
