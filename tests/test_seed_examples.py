"""Replay every documented example of seeds 000-003 against a real simulator and follow each task to its end.

The examples are data (fixtures/seeds/gateway_examples.yaml); each documented response field is
checked, literally unless the fixture marks it as a placeholder (an example ID, size or base64).
"""

from __future__ import annotations

import base64
import re

import pytest
from yarl import URL

from conformance.media import probe_mp4
from mockserver.fixtures_data import load

EXAMPLES = load("seeds/gateway_examples.yaml")["examples"]
TASK_ID = re.compile(r"^video_[0-9a-z]+$")


def check_documented(documented: dict, actual: dict, placeholders: list[str]) -> None:
    """Every documented field is present; literal ones equal, placeholders of the same type and shape."""
    missing = sorted(set(documented) - set(actual))
    assert not missing, f"documented fields missing: {missing} in {actual}"
    for key, value in documented.items():
        if key in placeholders:
            assert type(actual[key]) is type(value), (key, actual[key])
            if key == "task_id":
                assert TASK_ID.match(actual[key]), actual[key]
            if key in ("base64", "data_url"):
                # The documented data opens with the same 'ftyp isom' box as ours: compare 30 bytes' worth.
                head = value.index("AAAAIGZ0eXBp") + 40
                assert actual[key][:head] == value[:head], actual[key][:head]
        else:
            assert actual[key] == value, f"{key}: documented {value!r}, got {actual[key]!r}"


def follow_to_end(client, server, task_id: str, end: str) -> bytes:
    """Poll a task until it is terminal (advancing the manual clock), then fetch its video bytes."""
    seen = []
    for _ in range(200):
        body = client.get(f"/v1/video/generations/{task_id}").json()
        seen.append(body["status"])
        if body["status"] in ("succeeded", "failed"):
            break
        server.clock.advance(5)
    assert body["status"] == "succeeded", seen
    order = ["submitted", "queued", "in_progress", "succeeded"]
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen), f"status went back: {seen}"
    if end == "url":
        assert body["url"].startswith(server.base_url + "/media/"), body
        # The URL is signed like a CDN link: fetched without the API key, as a browser would.
        response = client.get(str(URL(body["url"])), headers={"Authorization": ""})
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "video/mp4"
        return response.content
    assert "url" not in body, "Sora 2 answers through the download endpoint, not a url (seed 000)"
    download = client.get("/v1/video/generations/download", params={"id": task_id})
    assert download.status_code == 200, download.text
    payload = download.json()
    data = base64.b64decode(payload["base64"], validate=True)
    assert payload["size"] == len(data)
    assert payload["data_url"] == "data:video/mp4;base64," + payload["base64"]
    assert payload["task_id"] == payload["generation_id"] == task_id
    assert payload["success"] is True and payload["format"] == "mp4"
    return data


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["name"] for e in EXAMPLES])
def test_documented_example(example, client, server):
    request, documented = example["request"], example["response"]
    response = client.request(request["method"], request["path"], json=request.get("json"))
    assert response.status_code == documented["status"], response.text
    body = response.json()
    if "error_param" in documented:
        assert body["error"]["param"] == documented["error_param"]
        assert body["error"]["message"]
        return
    check_documented(documented["json"], body, documented.get("placeholders", []))
    if "end" not in example:
        return
    data = follow_to_end(client, server, body["task_id"], example["end"])
    info = probe_mp4(data)
    assert (info.codec, info.pix_fmt, info.faststart) == ("h264", "yuv420p", True)
    expect = example.get("expect")
    if expect:
        assert (info.width, info.height) == (expect["width"], expect["height"])
        assert abs(info.seconds - expect["seconds"]) <= 1 / info.fps
        assert (info.audio_codec is not None) == expect.get("audio", False)


def test_every_seed_curl_line_is_replayed():
    """Each model of seed 003 and each endpoint of seeds 000-002 appears among the examples."""
    models = {e["request"].get("json", {}).get("model") for e in EXAMPLES} - {None}
    assert models >= {"sora-2", "veo-3.1-fast-generate-preview", "veo-3.1-generate-preview", "wanx-video-v1",
                      "seedance-1.0", "seedance-1.0-pro", "seedance-1.5-pro"}
    paths = {URL(e["request"]["path"]).path for e in EXAMPLES}
    assert {"/v1/video/generations", "/v1/video/generations/download"} <= paths
