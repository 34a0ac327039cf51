"""The gateway dialect over real HTTP: lifecycle, failures, expiry, auth, bad input, profiles."""

from __future__ import annotations

import pytest
import requests
from yarl import URL

from conformance.media import probe_mp4
from mockserver.server import ServerThread

SORA = {"model": "sora-2", "prompt": "A cute kitten playing in the garden", "seconds": "4", "size": "720x1280"}
VEO = {"model": "veo-3.1-fast-generate-preview", "prompt": "A sailboat at sunset", "durationSeconds": 4}


def submit(client, body, **kwargs):
    response = client.post("/v1/video/generations", json=body, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["task_id"]


def query(client, task_id):
    response = client.get(f"/v1/video/generations/{task_id}")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


def error_of(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["message"]
    return body["error"]


def test_lifecycle_moves_forward_on_the_clock_and_stops_at_a_terminal_status(client, server):
    task_id = submit(client, VEO)
    seen = []
    for _ in range(60):
        body = query(client, task_id)
        seen.append((body["status"], body["progress"]))
        server.clock.advance(1)
    statuses = [s for s, _ in seen]
    assert statuses[0] == "submitted"
    assert {"queued", "in_progress", "succeeded"} <= set(statuses)
    order = ["submitted", "queued", "in_progress", "succeeded"]
    assert statuses == sorted(statuses, key=order.index), "status never goes back"
    progress = [p for _, p in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert any(0 < p < 100 for s, p in seen if s == "in_progress"), "in_progress reports partial progress"
    first_success = statuses.index("succeeded")
    assert set(statuses[first_success:]) == {"succeeded"}, "a terminal status never changes"


def test_realistic_default_timing_takes_tens_of_seconds(client, server):
    task_id = submit(client, SORA)
    server.clock.advance(20)
    assert query(client, task_id)["status"] == "in_progress"
    server.clock.advance(300)
    assert query(client, task_id)["status"] == "succeeded"


@pytest.mark.parametrize(("kind", "code"), [("content_policy", "content_policy_violation"),
                                            ("timeout", "generation_timeout"), ("internal", "internal_error")])
def test_failed_task_carries_error_code_and_message(client, server, kind, code):
    task_id = submit(client, VEO, headers={"X-Videomock-Scenario": kind})
    server.clock.advance(600)
    body = query(client, task_id)
    assert body["status"] == "failed"
    assert body["error"]["code"] == code and body["error"]["message"]
    assert "url" not in body
    assert 0 < body["progress"] < 100, "a failure mid-generation keeps the progress it reached"


def test_prompt_directive_selects_a_failure_without_headers(client, server):
    task_id = submit(client, {**SORA, "prompt": "kitten [videomock scenario=content_policy]"})
    server.clock.advance(600)
    assert query(client, task_id)["status"] == "failed"
    error = error_of(client.get("/v1/video/generations/download", params={"id": task_id}), 400)
    assert error["code"] == "task_failed"


def test_unknown_scenario_is_rejected(client):
    error = error_of(client.post("/v1/video/generations", json=VEO, headers={"X-Videomock-Scenario": "boom"}), 400)
    assert "content_policy" in error["message"]


def test_stalled_task_never_completes(client, server):
    task_id = submit(client, VEO, headers={"X-Videomock-Scenario": "stall"})
    server.clock.advance(10**6)
    assert query(client, task_id)["status"] == "in_progress"


def test_video_expires_after_the_ttl(client, server):
    task_id = submit(client, VEO)
    server.clock.advance(200)
    body = query(client, task_id)
    url = str(URL(body["url"]))
    assert client.get(url).status_code == 200
    sora_id = submit(client, SORA)
    server.clock.advance(200)
    assert client.get("/v1/video/generations/download", params={"id": sora_id}).status_code == 200
    server.clock.advance(3600)
    assert query(client, task_id)["status"] == "succeeded", "expiry does not rewrite the terminal status"
    assert error_of(client.get(url), 404)["code"] == "video_expired"
    expired = error_of(client.get("/v1/video/generations/download", params={"id": sora_id}), 404)
    assert expired["code"] == "video_expired" and "expired" in expired["message"]


def test_download_errors_are_distinct(client, server):
    sora_id, veo_id = submit(client, SORA), submit(client, VEO)
    not_ready = error_of(client.get("/v1/video/generations/download", params={"id": sora_id}), 400)
    assert not_ready["code"] == "video_not_ready" and "submitted" in not_ready["message"]
    unknown = error_of(client.get("/v1/video/generations/download", params={"id": "video_nope"}), 404)
    assert unknown["code"] == "task_not_found"
    server.clock.advance(300)
    non_sora = error_of(client.get("/v1/video/generations/download", params={"id": veo_id}), 404)
    assert non_sora["code"] == "download_not_supported" and non_sora["param"] == "id"
    assert error_of(client.get("/v1/video/generations/download"), 400)["param"] == "id"


def test_url_needs_its_signature(client, server):
    task_id = submit(client, VEO)
    server.clock.advance(300)
    url = URL(query(client, task_id)["url"])
    assert error_of(client.get(str(url.with_query(sig="0" * 32))), 403)["code"] == "invalid_signature"
    assert client.get(str(url.with_query({}))).status_code == 403


def test_veo_audio_track_when_asked(client, server):
    task_id = submit(client, {**VEO, "generateAudio": True})
    server.clock.advance(300)
    data = client.get(str(URL(query(client, task_id)["url"]))).content
    assert probe_mp4(data).audio_codec == "aac"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk-wrong"}, {"Authorization": "sk-xxxxxxxxxx"},
                                     {"Authorization": "Basic sk-xxxxxxxxxx"}])
@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/video/generations"),
                                              ("GET", "/v1/video/generations/video_xxx"),
                                              ("GET", "/v1/video/generations/download?id=video_xxx")])
def test_missing_or_wrong_key_is_401(client, method, path, headers):
    response = client.request(method, path, json=SORA, headers={"Authorization": None, **headers})
    assert error_of(response, 401)["code"] == "invalid_api_key"


def test_several_keys_accepted():
    with ServerThread(api_keys=("sk-one", "sk-two")) as running:
        # Twice: the second time the valid header values are remembered ones; near misses stay 401.
        for _ in range(2):
            for key, status in (("sk-one", 200), ("sk-two", 200), ("sk-xxxxxxxxxx", 401), ("sk-on", 401),
                                ("sk-onee", 401)):
                response = requests.get(f"{running.base_url}/v1/video/generations/video_xxx",
                                        headers={"Authorization": f"Bearer {key}"}, timeout=10)
                assert response.status_code == status, key


BAD_BODIES = [
    ({"prompt": "x"}, "model"),
    ({"model": "sora-3", "prompt": "x"}, "model"),
    ({"model": 7, "prompt": "x"}, "model"),
    ({"model": "sora-2"}, "prompt"),
    ({"model": "sora-2", "prompt": "   "}, "prompt"),
    ({"model": "sora-2", "prompt": 5}, "prompt"),
    ({"model": "sora-2", "prompt": "x" * 32_001}, "prompt"),
    ({"model": "sora-2", "prompt": "x", "duration": 7}, "duration"),
    ({"model": "sora-2", "prompt": "x", "duration": True}, "duration"),
    ({"model": "sora-2", "prompt": "x", "resolution": "4k"}, "resolution"),
    ({"model": "sora-2", "prompt": "x", "aspect_ratio": "4:3"}, "aspect_ratio"),
    ({"model": "sora-2", "prompt": "x", "seconds": "5"}, "seconds"),
    ({"model": "sora-2", "prompt": "x", "size": "1792x1024"}, "size"),
    ({"model": "sora-2", "prompt": "x", "seconds": "4", "resolution": "720p"}, "resolution"),
    ({"model": "sora-2", "prompt": "x", "image_url": "file:///etc/passwd"}, "image_url"),
    ({"model": "sora-2", "prompt": "x", "durationSeconds": 8}, "durationSeconds"),
    ({"model": "veo-3.0-fast-generate-001", "prompt": "x", "lastFrameImage": "https://a.example/b.jpg",
      "image": "https://a.example/a.jpg"}, "lastFrameImage"),
    ({"model": "veo-3.1-generate-preview", "prompt": "x", "lastFrameImage": "https://a.example/b.jpg"},
     "lastFrameImage"),
    ({"model": "veo-3.1-generate-preview", "prompt": "x", "durationSeconds": 10}, "durationSeconds"),
    ({"model": "veo-3.1-generate-preview", "prompt": "x", "aspectRatio": "1:1"}, "aspectRatio"),
    ({"model": "veo-3.1-generate-preview", "prompt": "x", "generateAudio": "yes"}, "generateAudio"),
    ({"model": "veo-3.1-generate-preview", "prompt": "x", "image": "not an image!"}, "image"),
    ({"model": "wanx-video-v1", "prompt": "x", "duration": 4}, "duration"),
    ({"model": "wanx-video-v1", "prompt": "x", "size": "1920x1080"}, "size"),
    ({"model": "wanx-video-v1", "prompt": "x", "seed": -1}, "seed"),
    ({"model": "wanx-video-v1", "prompt": "x", "style": ""}, "style"),
    ({"model": "seedance-1.0", "prompt": "x", "duration": 10}, "duration"),
    ({"model": "seedance-1.0-pro", "prompt": "x", "aspect_ratio": "21:9"}, "aspect_ratio"),
    ({"model": "seedance-1.5-pro", "prompt": "x", "generateAudio": True}, "generateAudio"),
]


@pytest.mark.parametrize(("body", "param"), BAD_BODIES, ids=[f"{b.get('model')}-{p}" for b, p in BAD_BODIES])
def test_bad_input_is_a_400_naming_the_parameter(client, server, body, param):
    before = len(server.backend)
    error = error_of(client.post("/v1/video/generations", json=body), 400)
    assert error["param"] == param
    assert param in error["message"]
    assert len(server.backend) == before, "a rejected request creates no task"


def test_out_of_set_value_names_the_allowed_values(client):
    error = error_of(client.post("/v1/video/generations", json={**VEO, "durationSeconds": 5}), 400)
    assert "4, 6, 8" in error["message"]


def test_malformed_json_wrong_type_and_wrong_content_type(client):
    headers = {"Content-Type": "application/json"}
    assert error_of(client.post("/v1/video/generations", data=b"{nope", headers=headers), 400)["code"] == "invalid_json"
    assert error_of(client.post("/v1/video/generations", data=b"[1]", headers=headers), 400)["code"] == "invalid_json"
    bad_utf8 = client.post("/v1/video/generations", data=b"\xff\xfe", headers=headers)
    assert error_of(bad_utf8, 400)["code"] == "invalid_json"
    assert error_of(client.post("/v1/video/generations", data={"model": "sora-2"}), 415)["code"] == (
        "unsupported_media_type")


def test_oversized_body_is_413():
    with ServerThread(max_body_bytes=4096) as running:
        response = requests.post(f"{running.base_url}/v1/video/generations", json={**SORA, "prompt": "x" * 8000},
                                 headers={"Authorization": f"Bearer {running.api_key}"}, timeout=10)
        assert error_of(response, 413)["code"] == "request_too_large"


def test_unknown_route_and_method(client):
    assert error_of(client.get("/v1/video/nothing"), 404)["code"] == "not_found"
    response = client.delete("/v1/video/generations")
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_same_seed_gives_same_ids():
    ids = []
    for _ in range(2):
        with ServerThread(seed=7, manual_clock=True) as running:
            response = requests.post(f"{running.base_url}/v1/video/generations", json=SORA,
                                     headers={"Authorization": f"Bearer {running.api_key}"}, timeout=10)
            ids.append(response.json()["task_id"])
    assert ids[0] == ids[1] and ids[0].startswith("video_")


def test_two_servers_in_one_process_are_independent(client, server):
    task_id = submit(client, SORA)
    with ServerThread(manual_clock=True) as other:
        response = requests.get(f"{other.base_url}/v1/video/generations/{task_id}",
                                headers={"Authorization": f"Bearer {other.api_key}"}, timeout=10)
        assert response.status_code == 404
        other.clock.advance(1000)
    assert query(client, task_id)["status"] == "submitted", "advancing one clock leaves the other alone"


def test_new_api_profile():
    with ServerThread(profile="new-api", manual_clock=True) as running:
        headers = {"Authorization": f"Bearer {running.api_key}"}
        created = requests.post(f"{running.base_url}/v1/video/generations", json=VEO, headers=headers, timeout=10)
        body = created.json()
        assert body["object"] == "video" and body["status"] == "queued" and body["id"] == body["task_id"]
        running.clock.advance(300)
        fetched = requests.get(f"{running.base_url}/v1/video/generations/{body['task_id']}", headers=headers,
                               timeout=10).json()
        assert fetched["code"] == "success" and fetched["data"]["status"] == "SUCCESS"
        assert fetched["data"]["progress"] == "100%" and fetched["data"]["result_url"].startswith("http")
        missing = requests.get(f"{running.base_url}/v1/video/generations/video_nope", headers=headers, timeout=10)
        assert missing.status_code == 400
        assert missing.json() == {"code": "task_not_exist", "message": "task_not_exist", "data": None}


def test_nebula_profile_failure_code_is_integer():
    with ServerThread(profile="nebula", manual_clock=True) as running:
        headers = {"Authorization": f"Bearer {running.api_key}", "X-Videomock-Scenario": "content_policy"}
        task_id = requests.post(f"{running.base_url}/v1/video/generations", json=VEO, headers=headers,
                                timeout=10).json()["task_id"]
        running.clock.advance(300)
        body = requests.get(f"{running.base_url}/v1/video/generations/{task_id}", headers=headers, timeout=10).json()
        assert body["status"] == "failed" and body["error"]["code"] == 400 and "progress" not in body
        missing = requests.get(f"{running.base_url}/v1/video/generations/download?id=x", headers=headers, timeout=10)
        assert missing.status_code == 404 and set(missing.json()["error"]) == {"message", "type"}
