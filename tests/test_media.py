"""Synthetic media decoded with PyAV and Pillow, and served as a CDN serves it (Range, ETag, HEAD)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from yarl import URL

from conformance.media import probe_mp4
from mockserver.catalog import RenderSpec
from mockserver.keys import JOURNAL
from mockserver.media import MediaSynthesizer


@pytest.fixture
def media():
    synthesizer = MediaSynthesizer(cache_bytes=64 * 1024 * 1024)
    yield synthesizer
    synthesizer.close()


@pytest.mark.parametrize("render", [RenderSpec(1280, 720, 4), RenderSpec(720, 1280, 12), RenderSpec(854, 480, 5),
                                    RenderSpec(960, 960, 3), RenderSpec(640, 360, 2, fps=30)],
                         ids=lambda r: f"{r.size}-{r.seconds}s-{r.fps}fps")
def test_video_is_h264_of_the_requested_size_duration_and_rate(media, render):
    info = probe_mp4(media.path_sync(render, "a prompt").read_bytes())
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", render.width, render.height)
    assert info.fps == render.fps
    assert abs(info.seconds - render.seconds) <= 1 / render.fps
    assert info.faststart and info.audio_codec is None
    assert info.container.startswith("mov,mp4")


def test_audio_track_when_asked(media):
    info = probe_mp4(media.path_sync(RenderSpec(1280, 720, 4, audio=True), "p").read_bytes())
    assert info.audio_codec == "aac"
    import av

    with av.open(str(media.path_sync(RenderSpec(1280, 720, 4, audio=True), "p"))) as container:
        audio = container.streams.audio[0]
        assert audio.sample_rate == 48_000
        assert abs(float(audio.duration * audio.time_base) - 4) < 0.05


def test_same_input_same_bytes_other_prompt_other_video(media):
    render = RenderSpec(854, 480, 2)
    first = media.path_sync(render, "a cat").read_bytes()
    media._files.clear()  # evicted: rebuilt on demand, identical
    assert media.path_sync(render, "a cat").read_bytes() == first
    assert media.path_sync(render, "a dog").read_bytes() != first


def test_target_size_keeps_a_valid_mp4(media):
    path = media.path_sync(RenderSpec(720, 1280, 4, target_bytes=15_728_640), "kitten")
    assert path.stat().st_size == 15_728_640
    info = probe_mp4(path.read_bytes())
    assert (info.width, info.height, info.frames) == (720, 1280, 96)


def test_cache_is_bounded_by_bytes():
    small = MediaSynthesizer(cache_bytes=300_000)
    try:
        paths = [small.path_sync(RenderSpec(854, 480, 4), f"prompt {n}") for n in range(8)]
        kept = [p for p in paths if p.exists()]
        assert sum(p.stat().st_size for p in kept) <= 300_000
        assert not paths[0].exists() and paths[-1].exists()
    finally:
        small.close()


def test_thumbnail_is_webp_in_the_video_aspect_ratio(media):
    image = Image.open(media.path_sync(RenderSpec(720, 1280, 4), "p", "thumbnail"))
    assert image.format == "WEBP"
    assert abs(image.width / image.height - 720 / 1280) < 0.01


def test_spritesheet_is_a_grid_of_frames(media):
    image = Image.open(media.path_sync(RenderSpec(1280, 720, 8), "p", "spritesheet"))
    assert image.format == "JPEG"
    assert image.size == (160 * 5, 90 * 2)


# --- served over HTTP --------------------------------------------------------------------------


@pytest.fixture
def video_url(client, server):
    body = {"model": "wanx-video-v1", "prompt": "A dragon", "duration": 3}
    task_id = client.post("/v1/video/generations", json=body).json()["task_id"]
    server.clock.advance(300)
    return str(URL(client.get(f"/v1/video/generations/{task_id}").json()["url"]))


def test_full_download_headers(client, video_url):
    response = client.get(video_url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "video/mp4"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.headers["ETag"]


@pytest.mark.parametrize(("range_header", "start", "end"), [("bytes=0-99", 0, 99), ("bytes=100-", 100, None),
                                                            ("bytes=-100", None, None)])
def test_range_requests(client, video_url, range_header, start, end):
    full = client.get(video_url).content
    response = client.get(video_url, headers={"Range": range_header})
    assert response.status_code == 206
    expected = full[-100:] if start is None else full[start : (end + 1 if end is not None else None)]
    assert response.content == expected
    assert response.headers["Content-Range"].endswith(f"/{len(full)}")


def test_unsatisfiable_range_is_416(client, video_url):
    size = len(client.get(video_url).content)
    response = client.get(video_url, headers={"Range": f"bytes={size + 10}-"})
    assert response.status_code == 416


def test_etag_if_none_match_and_if_range(client, video_url):
    first = client.get(video_url)
    etag = first.headers["ETag"]
    assert client.get(video_url, headers={"If-None-Match": etag}).status_code == 304
    resumed = client.get(video_url, headers={"Range": "bytes=10-", "If-Range": etag})
    assert resumed.status_code == 206 and resumed.content == first.content[10:]
    stale = client.get(video_url, headers={"Range": "bytes=10-", "If-Range": '"stale"'})
    assert stale.status_code == 200 and stale.content == first.content
    # The whole file was sent once: the next answer on the same connection is intact.
    after = client.get(video_url, headers={"Range": "bytes=0-9"})
    assert after.status_code == 206 and after.content == first.content[:10]


def test_file_answers_are_journaled_with_their_final_status(client, server, video_url):
    client.get(video_url, headers={"Range": "bytes=0-9"})
    client.get(video_url, headers={"Range": "bytes=999999999-"})
    client.head(video_url)
    media = [entry for entry in server.app[JOURNAL].entries if entry.operation == "media:serve_media"]
    assert [(entry.method, entry.status) for entry in media[-3:]] == [("GET", 206), ("GET", 416), ("HEAD", 200)]


def test_head_gives_headers_without_body(client, video_url):
    size = len(client.get(video_url).content)
    response = client.head(video_url)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == size and response.content == b""


def test_download_base64_is_built_from_the_same_bytes(client, server):
    import base64

    url_body = client.get("/v1/video/generations/download", params={"id": "video_xxx"}).json()
    data = base64.b64decode(url_body["base64"])
    assert len(data) == url_body["size"] == 15_728_640
    assert probe_mp4(data).frames == 96
    assert io.BytesIO(data).read(8)[4:] == b"ftyp"
