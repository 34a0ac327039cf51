"""The OpenAI Videos dialect over HTTP (issue 3, seed 004), every JSON answer checked against OpenAI's schema.

A real simulator on 127.0.0.1 (manual clock) driven with requests. Every OpenAI-dialect JSON body is
validated against ../shared/reference/openai-videos.openapi.json (VideoResource, VideoListResource,
DeletedVideoResource) or, for errors, the spec's ErrorResponse.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import requests
from jsonschema import Draft202012Validator
from PIL import Image
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.media import probe_mp4
from mockserver.dialects import openai
from mockserver.scenarios import ScenarioBook
from mockserver.server import ServerThread

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SPEC = json.loads((SHARED / "reference/openai-videos.openapi.json").read_text(encoding="utf-8"))
SPEC_URI = "urn:openai-videos-openapi"
#: The spec's ErrorResponse/Error (dialects.md §2.4). The /videos subset in shared/reference does not carry
#: it (no /videos operation references it), so it is written out here, all four inner keys required.
ERROR_RESPONSE = {
    "type": "object", "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["message", "type", "param", "code"],
        "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                       "param": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                       "code": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    }},
}
REGISTRY = Registry().with_resource(SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012))
VIDEO_KEYS = set(SPEC["components"]["schemas"]["VideoResource"]["required"])


def seed_004_not_ready_body() -> dict:
    """The JSON body quoted in seed 004 under "Example error response", parsed from the seed itself."""
    text = next((SHARED / "seeds").glob("004_*.txt")).read_text(encoding="utf-8")
    start = text.index("{", text.index("Example error response:"))
    return json.JSONDecoder().raw_decode(text[start:])[0]


def check_schema(body: dict, schema: str) -> dict:
    """Validate ``body`` against ``#/components/schemas/<schema>`` of the reference spec (or ErrorResponse)."""
    target = ERROR_RESPONSE if schema == "ErrorResponse" else {"$ref": f"{SPEC_URI}#/components/schemas/{schema}"}
    Draft202012Validator(target, registry=REGISTRY).validate(body)
    if schema == "VideoResource":
        assert set(body) == VIDEO_KEYS, "a Video carries exactly the schema's keys"
    return body


def check_error(response: requests.Response, status: int, *, param: str | None = None,
                code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = check_schema(response.json(), "ErrorResponse")["error"]
    if param is not None:
        assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code, error
    return error


def check_video(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    return check_schema(response.json(), "VideoResource")


def create(client, **body) -> dict:
    return check_video(client.post("/v1/videos", json={"prompt": "A calico cat playing a piano", **body}))


def complete(server, client, video_id: str) -> dict:
    """Advance the manual clock until the video is terminal; returns the final Video."""
    for _ in range(100):
        video = check_video(client.get(f"/v1/videos/{video_id}"))
        if video["status"] in ("completed", "failed"):
            return video
        server.clock.advance(10)
    raise AssertionError(f"{video_id} never finished: {video}")


@pytest.fixture
def bare():
    """A simulator without the seeds' preloaded example tasks, so listings hold only what a test made."""
    with ServerThread(manual_clock=True, seed=99, examples=False) as running:
        yield running


def session_for(server: ServerThread) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {server.api_key}"
    return session


# --- create ---------------------------------------------------------------------------------------------


def test_create_json_with_defaults(client):
    response = client.post("/v1/videos", json={"prompt": "A calico cat playing a piano on stage"})
    video = check_video(response)
    assert video["id"].startswith("video_") and video["object"] == "video"
    assert (video["model"], video["size"], video["seconds"]) == ("sora-2", "720x1280", "4")
    assert (video["status"], video["progress"]) == ("queued", 0)
    assert video["prompt"] == "A calico cat playing a piano on stage"
    assert isinstance(video["created_at"], int)
    assert video["completed_at"] is None and video["expires_at"] is None
    assert video["error"] is None and video["remixed_from_video_id"] is None
    assert response.headers[openai.POLL_HEADER] == str(openai.MANUAL_POLL_MS)


@pytest.mark.parametrize(("model", "size", "seconds"), [
    ("sora-2", "1280x720", "8"), ("sora-2-pro", "1792x1024", "12"), ("sora-2-pro", "1024x1792", "4"),
    ("sora-2-2025-10-06", "720x1280", "12"), ("sora-2-pro-2025-10-06", "1792x1024", "8"),
    ("sora-2-2025-12-08", "1280x720", "4"),
])
def test_create_multipart_every_model_size_and_duration(client, model, size, seconds):
    # The current SDK always sends multipart/form-data, with or without a file.
    fields = {"prompt": (None, "A cat"), "model": (None, model), "size": (None, size), "seconds": (None, seconds)}
    video = check_video(client.post("/v1/videos", files=fields))
    assert (video["model"], video["size"], video["seconds"]) == (model, size, seconds)


def test_create_multipart_with_a_file_reference(client, server):
    fields = {"prompt": (None, "Animate this"), "input_reference": ("ref.png", b"\x89PNG fake image", "image/png")}
    video = check_video(client.post("/v1/videos", files=fields))
    task, _ = server.backend.get_task(video["id"])
    assert task.params["input_reference"] == {"filename": "ref.png", "content_type": "image/png", "bytes": 15}
    assert task.dialect == "openai" and task.family == "sora"


@pytest.mark.parametrize("reference", [{"image_url": "https://example.com/cat.png"}, {"file_id": "file-123"},
                                       {"image_url": "data:image/png;base64,iVBORw0KGgo="}])
def test_create_with_a_reference_object_as_json_and_as_form_fields(client, server, reference):
    video = create(client, input_reference=reference)
    assert server.backend.get_task(video["id"])[0].params["input_reference"] == reference
    # The SDK encodes a nested object in multipart as bracketed keys: input_reference[image_url]=…
    ((key, value),) = reference.items()
    form = {"prompt": (None, "A cat"), f"input_reference[{key}]": (None, value)}
    video = check_video(client.post("/v1/videos", files=form))
    assert server.backend.get_task(video["id"])[0].params["input_reference"] == reference


def test_create_accepts_the_longest_prompt(client):
    assert create(client, prompt="x" * 32_000)["prompt"] == "x" * 32_000


@pytest.mark.parametrize(("body", "param", "words"), [
    ({"seconds": 4}, "seconds", ["'4', '8', '12'"]),
    ({"seconds": "5"}, "seconds", ["'5'", "'4', '8', '12'"]),
    ({"seconds": "16"}, "seconds", ["'4', '8', '12'"]),
    ({"size": "1792x1024"}, "size", ["sora-2-pro"]),
    ({"model": "sora-2-2025-12-08", "size": "1024x1792"}, "size", ["sora-2-pro"]),
    ({"size": "1920x1080"}, "size", ["'720x1280', '1280x720', '1024x1792', '1792x1024'"]),
    ({"size": 720}, "size", ["string"]),
    ({"model": 2}, "model", ["string"]),
    ({"prompt": ""}, "prompt", ["blank"]),
    ({"prompt": "x" * 32_001}, "prompt", ["32000"]),
    ({"prompt": None}, "prompt", ["required"]),
    ({"quality": "standard"}, "quality", ["Unknown parameter"]),
    ({"input_reference": {"image_url": "https://e.com/a.png", "file_id": "file-1"}}, "input_reference",
     ["exactly one"]),
    ({"input_reference": {}}, "input_reference", ["exactly one"]),
    ({"input_reference": {"url": "https://e.com/a.png"}}, "input_reference.url", ["image_url"]),
    ({"input_reference": {"image_url": "ftp://e.com/a.png"}}, "input_reference.image_url", ["http(s)"]),
    ({"input_reference": "https://e.com/a.png"}, "input_reference", ["file upload or an object"]),
])
def test_create_rejects_what_the_schema_does_not_allow(client, body, param, words):
    error = check_error(client.post("/v1/videos", json={"prompt": "A cat", **body}), 400, param=param)
    assert error["type"] == "invalid_request_error"
    for word in words:
        assert word in error["message"], error["message"]


def test_create_rejects_an_unknown_model_and_a_bad_body(client):
    error = check_error(client.post("/v1/videos", json={"prompt": "A cat", "model": "sora-3"}), 400,
                        param="model", code="model_not_found")
    assert "sora-2-pro" in error["message"]
    check_error(client.post("/v1/videos", data="prompt", headers={"Content-Type": "text/plain"}), 415)
    check_error(client.post("/v1/videos", data="{not json", headers={"Content-Type": "application/json"}), 400,
                code="invalid_json")
    repeated = [("prompt", (None, "a")), ("prompt", (None, "b"))]
    check_error(client.post("/v1/videos", files=repeated), 400, param="prompt", code="invalid_form_data")
    check_error(client.post("/v1/videos", data=b"x", headers={"Content-Type": "multipart/form-data"}), 400,
                code="invalid_form_data")
    error = check_error(client.post("/v1/videos", files={"prompt": (None, "a"), "seconds": ("s.txt", b"8")}), 400,
                        param="seconds")
    assert "a file upload" in error["message"]
    assert len(client.server.backend) == 2, "only the two preloaded example tasks: nothing was created"


# --- lifecycle, retrieve, poll pacing -------------------------------------------------------------------


def test_retrieve_follows_the_lifecycle_to_completed(client, server):
    video = create(client, seconds="8", size="1280x720")
    seen, progress = [], []
    for _ in range(100):
        response = client.get(f"/v1/videos/{video['id']}")
        body = check_video(response)
        assert response.headers["Content-Type"] == "application/json"
        seen.append(body["status"])
        progress.append(body["progress"])
        if body["status"] == "completed":
            assert openai.POLL_HEADER not in response.headers, "no poll hint once terminal"
            break
        assert response.headers[openai.POLL_HEADER] == str(openai.MANUAL_POLL_MS)
        assert body["completed_at"] is None and body["expires_at"] is None
        server.clock.advance(3)
    assert list(dict.fromkeys(seen)) == ["queued", "in_progress", "completed"], seen
    assert progress == sorted(progress) and progress[-1] == 100
    assert body["created_at"] <= body["completed_at"] < body["expires_at"]
    assert (body["size"], body["seconds"], body["error"]) == ("1280x720", "8", None)


def test_a_failed_video_carries_its_error_and_has_no_content(client, server):
    response = client.post("/v1/videos", json={"prompt": "A cat"}, headers={"X-Videomock-Scenario": "content_policy"})
    video = complete(server, client, check_video(response)["id"])
    assert video["status"] == "failed"
    assert video["error"] == {"code": "content_policy_violation", "message": "Prompt contains inappropriate content"}
    assert isinstance(video["completed_at"], int) and video["expires_at"] is None
    check_error(client.get(f"/v1/videos/{video['id']}/content"), 400, code="task_failed")


@pytest.mark.parametrize(("speed", "hint"), [(1, "1000"), (10, "100"), (1e6, str(openai.MIN_POLL_MS))])
def test_poll_hint_scales_with_the_clock_speed(speed, hint):
    with ServerThread(speed=speed, examples=False) as server, session_for(server) as session:
        response = session.post(server.base_url + "/v1/videos", json={"prompt": "A cat"})
        assert response.headers[openai.POLL_HEADER] == hint
        if speed == 1:
            retrieved = session.get(f"{server.base_url}/v1/videos/{response.json()['id']}")
            assert retrieved.headers[openai.POLL_HEADER] == hint


def test_retrieve_unknown_is_404(client):
    error = check_error(client.get("/v1/videos/video_nope"), 404, param="video_id", code="video_not_found")
    assert "video_nope" in error["message"]


# --- list -----------------------------------------------------------------------------------------------


def test_list_pages_through_every_video_in_both_orders(bare):
    with session_for(bare) as session:
        url = bare.base_url + "/v1/videos"
        empty = check_schema(session.get(url).json(), "VideoListResource")
        assert empty == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
        made = []
        for number in range(5):
            made.append(session.post(url, json={"prompt": f"video {number}"}).json()["id"])
            bare.clock.advance(1)
        for order, expected in (("desc", made[::-1]), ("asc", made)):
            pages, after = [], None
            while True:
                params = {"limit": 2, "order": order} | ({"after": after} if after else {})
                page = check_schema(session.get(url, params=params).json(), "VideoListResource")
                ids = [video["id"] for video in page["data"]]
                assert (page["first_id"], page["last_id"]) == (ids[0], ids[-1])
                pages.append(ids)
                if not page["has_more"]:
                    break
                after = page["last_id"]
            assert pages == [expected[0:2], expected[2:4], expected[4:5]]
        default = check_schema(session.get(url).json(), "VideoListResource")
        assert [video["id"] for video in default["data"]] == made[::-1], "newest first by default"
        assert [v["id"] for v in session.get(url, params={"limit": 5}).json()["data"]] == made[::-1]
        assert session.get(url, params={"limit": 5}).json()["has_more"] is False


@pytest.mark.parametrize(("params", "param"), [
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "ten"}, "limit"), ({"limit": -1}, "limit"),
    ({"order": "newest"}, "order"),
])
def test_list_rejects_bad_parameters(client, params, param):
    check_error(client.get("/v1/videos", params=params), 400, param=param)


def test_list_after_an_unknown_video_is_404(client):
    check_error(client.get("/v1/videos", params={"after": "video_unknown"}), 404, param="after", code="video_not_found")


# --- delete and remix -----------------------------------------------------------------------------------


def test_delete_then_everything_is_404(client):
    video = create(client)
    response = client.delete(f"/v1/videos/{video['id']}")
    assert response.status_code == 200
    assert check_schema(response.json(), "DeletedVideoResource") == {
        "id": video["id"], "object": "video.deleted", "deleted": True}
    check_error(client.get(f"/v1/videos/{video['id']}"), 404, code="video_not_found")
    check_error(client.delete(f"/v1/videos/{video['id']}"), 404, code="video_not_found")
    check_error(client.get(f"/v1/videos/{video['id']}/content"), 404, code="video_not_found")
    check_error(client.post(f"/v1/videos/{video['id']}/remix", json={"prompt": "again"}), 404)
    assert video["id"] not in [v["id"] for v in client.get("/v1/videos", params={"limit": 100}).json()["data"]]


def test_remix_a_completed_video_as_json_and_multipart(client, server):
    source = create(client, model="sora-2-pro", size="1792x1024", seconds="8")
    error = check_error(client.post(f"/v1/videos/{source['id']}/remix", json={"prompt": "Now at night"}), 400,
                        code="video_not_ready")
    assert "current status: queued" in error["message"], "worded in the OpenAI vocabulary"
    complete(server, client, source["id"])
    for request in ({"json": {"prompt": "Now at night"}}, {"files": {"prompt": (None, "Now at night")}}):
        remix = check_video(client.post(f"/v1/videos/{source['id']}/remix", **request))
        assert remix["id"] != source["id"] and remix["remixed_from_video_id"] == source["id"]
        assert (remix["model"], remix["size"], remix["seconds"]) == ("sora-2-pro", "1792x1024", "8")
        assert (remix["prompt"], remix["status"]) == ("Now at night", "queued")
    finished = complete(server, client, remix["id"])
    assert finished["status"] == "completed" and finished["remixed_from_video_id"] == source["id"]


def test_remix_errors(client, server):
    check_error(client.post("/v1/videos/video_nope/remix", json={"prompt": "x"}), 404, param="video_id")
    source = complete(server, client, create(client)["id"])
    check_error(client.post(f"/v1/videos/{source['id']}/remix", json={}), 400, param="prompt")
    check_error(client.post(f"/v1/videos/{source['id']}/remix", json={"prompt": "x", "seconds": "8"}), 400,
                param="seconds")


# --- content --------------------------------------------------------------------------------------------


def test_content_of_each_variant_once_completed(client, server):
    video = complete(server, client, create(client, size="1280x720", seconds="4")["id"])
    response = client.get(f"/v1/videos/{video['id']}/content")
    assert response.status_code == 200 and response.headers["Content-Type"] == "video/mp4"
    info = probe_mp4(response.content)
    assert (info.width, info.height, info.codec) == (1280, 720, "h264")
    assert abs(info.seconds - 4) <= 1 / info.fps
    assert client.get(f"/v1/videos/{video['id']}/content", params={"variant": "video"}).content == response.content
    for variant, content_type, image_format in (("thumbnail", "image/webp", "WEBP"),
                                                ("spritesheet", "image/jpeg", "JPEG")):
        response = client.get(f"/v1/videos/{video['id']}/content", params={"variant": variant})
        assert response.status_code == 200 and response.headers["Content-Type"] == content_type
        with Image.open(io.BytesIO(response.content)) as image:
            assert image.format == image_format
            if variant == "thumbnail":
                assert abs(image.width / image.height - 1280 / 720) < 0.02, image.size
    check_error(client.get(f"/v1/videos/{video['id']}/content", params={"variant": "poster"}), 400, param="variant")


def test_content_not_ready_answers_per_mode(client):
    video_id = create(client)["id"]
    url = f"/v1/videos/{video_id}/content"
    # Default: 202 with the not-ready error of seed 004 in the OpenAI envelope.
    error = check_error(client.get(url), 202, code="video_processing")
    assert error["type"] == "video_not_ready"
    assert error == seed_004_not_ready_body()["data"]["error"]
    # json200: HTTP 200, application/json, exactly the body quoted in seed 004.
    response = client.get(url, headers={openai.NOT_READY_HEADER: "json200"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    assert response.json() == seed_004_not_ready_body()
    check_error(client.get(url, headers={openai.NOT_READY_HEADER: "404"}), 404, code="video_processing")
    check_error(client.get(url, headers={openai.NOT_READY_HEADER: "418"}), 400, param=openai.NOT_READY_HEADER)


def test_not_ready_mode_per_task_and_at_start_up(client, server):
    headers = {openai.NOT_READY_HEADER: "json200"}
    video_id = check_video(client.post("/v1/videos", json={"prompt": "A cat"}, headers=headers))["id"]
    assert client.get(f"/v1/videos/{video_id}/content").json() == seed_004_not_ready_body()
    # The request's own header wins over the task's.
    check_error(client.get(f"/v1/videos/{video_id}/content", headers={openai.NOT_READY_HEADER: "404"}), 404)
    check_error(client.post("/v1/videos", json={"prompt": "A cat"}, headers={openai.NOT_READY_HEADER: "x"}), 400)
    # A scenario script may carry the mode too (mockserver.scenarios).
    server.call(lambda: server.backend.scenarios.add("early-json", {"not_ready": "json200"}))
    scripted = client.post("/v1/videos", json={"prompt": "A cat"}, headers={"X-Videomock-Scenario": "early-json"})
    assert client.get(f"/v1/videos/{check_video(scripted)['id']}/content").json() == seed_004_not_ready_body()

    # Start-up default: the scenario file's not_ready (mockserver.scenarios).
    server = ServerThread(manual_clock=True, examples=False)
    server.backend.scenarios = ScenarioBook({"not_ready": "404"})
    with server, session_for(server) as session:
        video_id = session.post(server.base_url + "/v1/videos", json={"prompt": "A cat"}).json()["id"]
        check_error(session.get(f"{server.base_url}/v1/videos/{video_id}/content"), 404, code="video_processing")


def test_content_of_an_expired_video_is_404(client, server):
    video = complete(server, client, create(client)["id"])
    server.clock.advance(video["expires_at"] - server.clock.now() + 1)
    check_error(client.get(f"/v1/videos/{video['id']}/content"), 404, code="video_expired")
    assert check_video(client.get(f"/v1/videos/{video['id']}"))["status"] == "completed", "the metadata stays"


# --- auth, unknown routes, one task store ---------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/videos"), ("GET", "/v1/videos"),
                                              ("GET", "/v1/videos/video_xxx"), ("DELETE", "/v1/videos/video_xxx"),
                                              ("POST", "/v1/videos/video_xxx/remix"),
                                              ("GET", "/v1/videos/video_xxx/content")])
@pytest.mark.parametrize("authorization", [None, "Bearer sk-wrong", "sk-xxxxxxxxxx"])
def test_missing_or_wrong_key_is_401(server, method, path, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = requests.request(method, server.base_url + path, headers=headers, json={"prompt": "x"}, timeout=30)
    check_error(response, 401, code="invalid_api_key")


def test_edits_extensions_and_characters_say_they_are_not_simulated(client):
    for path in ("/v1/videos/edits", "/v1/videos/extensions", "/v1/videos/characters"):
        error = check_error(client.post(path, json={"prompt": "x"}), 404)
        assert "does not simulate" in error["message"]
    assert "does not simulate" in check_error(client.get("/v1/videos/characters/char_123"), 404)["message"]


def test_a_task_is_one_thing_in_both_dialects(client, server):
    # Submitted through the gateway, seen as an OpenAI Video.
    submitted = client.post("/v1/video/generations",
                            json={"model": "sora-2", "prompt": "A cat", "seconds": "8", "size": "1280x720"}).json()
    video = check_video(client.get(f"/v1/videos/{submitted['task_id']}"))
    assert (video["model"], video["size"], video["seconds"], video["status"]) == ("sora-2", "1280x720", "8", "queued")
    # A gateway size outside VideoSize is still shown as WIDTHxHEIGHT (the one schema exception).
    wanx = client.post("/v1/video/generations",
                       json={"model": "wanx-video-v1", "prompt": "A cat", "size": "960x960", "duration": 5}).json()
    body = client.get(f"/v1/videos/{wanx['task_id']}").json()
    assert (body["size"], body["seconds"], body["model"]) == ("960x960", "5", "wanx-video-v1")
    assert set(body) == VIDEO_KEYS
    # Created through the OpenAI dialect, seen by the gateway; the seeds' preloaded examples are listed too.
    created = create(client)
    assert client.get(f"/v1/video/generations/{created['id']}").json()["task_id"] == created["id"]
    listed = [v["id"] for v in client.get("/v1/videos", params={"limit": 100}).json()["data"]]
    assert {created["id"], submitted["task_id"], "video_69095b4ce0048190893a01510c0c98b0"} <= set(listed)
    documented = check_video(client.get("/v1/videos/video_69095b4ce0048190893a01510c0c98b0"))
    assert documented["status"] == "completed" and documented["expires_at"] is None, "preloaded: never expires"
    deleted = client.delete(f"/v1/videos/{submitted['task_id']}")
    assert deleted.status_code == 200
    assert client.get(f"/v1/video/generations/{submitted['task_id']}").status_code == 404
