"""How to test a polling loop written with httpx, and check that it respects Retry-After."""

import httpx
import pytest


def wait_for_video(client: httpx.Client, task_id: str, sleep) -> dict:
    """The client code under test: poll until terminal, honouring Retry-After on 429."""
    while True:
        response = client.get(f"/v1/video/generations/{task_id}")
        if response.status_code == 429:
            sleep(float(response.headers["Retry-After"]))
            continue
        body = response.json()
        if body["status"] in ("succeeded", "failed"):
            return body
        sleep(5)


@pytest.mark.videomock(clock="manual",
                       faults=[{"match": {"operation": "gateway:query_task", "nth": [2]}, "status": 429,
                                "retry_after": 30}])
def test_the_poller_waits_as_told(videomock):
    with httpx.Client(base_url=videomock.base_url,
                      headers={"Authorization": f"Bearer {videomock.api_key}"}) as client:
        task_id = client.post("/v1/video/generations",
                              json={"model": "veo-3.1-fast-generate-preview", "prompt": "A sailboat"}).json()["task_id"]
        body = wait_for_video(client, task_id, sleep=videomock.advance)  # sleeping moves the simulated clock
    assert body["status"] == "succeeded" and "/media/" in body["url"]
    gaps = videomock.poll_gaps(task_id)
    assert gaps[1] == 30, "after the 429 the client waited Retry-After seconds"
    videomock.assert_poll_interval(task_id, at_least=5)
