"""How to test a gateway-dialect client written with requests, on a manual clock."""

import base64

import pytest
import requests


@pytest.mark.videomock(clock="manual")
def test_submit_poll_and_download_a_sora_video(videomock):
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {videomock.api_key}"
    task = http.post(f"{videomock.base_url}/v1/video/generations", timeout=10,
                     json={"model": "sora-2", "prompt": "A cute kitten", "seconds": "4", "size": "720x1280"}).json()
    assert task["status"] == "submitted"

    videomock.advance(120)  # two simulated minutes pass at once: the task is done
    status = http.get(f"{videomock.base_url}/v1/video/generations/{task['task_id']}", timeout=10).json()
    assert status["status"] == "succeeded"

    download = http.get(f"{videomock.base_url}/v1/video/generations/download",
                        params={"id": task["task_id"]}, timeout=10).json()
    assert len(base64.b64decode(download["base64"])) == download["size"]
    videomock.assert_polled(task["task_id"], times=1)


@pytest.mark.videomock(clock="manual", scenario="content_policy")
def test_a_failed_generation(videomock):
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {videomock.api_key}"
    task_id = http.post(f"{videomock.base_url}/v1/video/generations", timeout=10,
                        json={"model": "wanx-video-v1", "prompt": "A dragon"}).json()["task_id"]
    videomock.advance(600)
    body = http.get(f"{videomock.base_url}/v1/video/generations/{task_id}", timeout=10).json()
    assert body["status"] == "failed" and body["error"]["code"] == "content_policy_violation"
