"""The official ``openai`` SDK, sync and async, against a real simulator (issue 3, "Done when").

The simulator runs with a fast real clock (a minute of simulated work in a few milliseconds) so the
SDK's own poll helper finishes quickly; the TTL is long enough that nothing expires mid-test.
Every Videos method of the SDK is deprecated ("The Sora API is scheduled to permanently shut down"),
hence the warning filter.
"""

from __future__ import annotations

import time

import openai
import pytest
from PIL import Image

from conformance.media import probe_mp4
from mockserver.server import ServerThread

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: Simulated seconds per real second: a 12-second Sora video (84 simulated seconds) takes ~40 ms.
SPEED = 2000


@pytest.fixture
def fast():
    with ServerThread(speed=SPEED, ttl=1e9, seed=7, examples=False) as running:
        yield running


@pytest.fixture
def sdk(fast):
    with openai.OpenAI(base_url=fast.base_url + "/v1", api_key=fast.api_key, max_retries=0) as client:
        yield client


@pytest.fixture
async def async_sdk(fast):
    async with openai.AsyncOpenAI(base_url=fast.base_url + "/v1", api_key=fast.api_key, max_retries=0) as client:
        yield client


def check_downloads(video: openai.types.Video, download, tmp_path, width: int, height: int, seconds: int) -> None:
    """Write each variant with ``write_to_file`` and decode it: PyAV for the MP4, Pillow for the images."""
    for variant in ("video", "thumbnail", "spritesheet"):
        target = tmp_path / f"{video.id}-{variant}"
        download(video.id, variant=variant).write_to_file(target)
        if variant == "video":
            info = probe_mp4(target.read_bytes())  # av.open on the file's bytes
            assert (info.width, info.height, info.codec) == (width, height, "h264")
            assert abs(info.seconds - seconds) <= 1 / info.fps
        else:
            with Image.open(target) as image:
                assert image.format == ("WEBP" if variant == "thumbnail" else "JPEG")
                assert image.width > 0 and image.height > 0


def test_create_and_poll_then_retrieve_and_download(sdk, tmp_path):
    started = time.monotonic()
    # No poll_interval_ms: the SDK sleeps what openai-poll-after-ms says (else 1000 ms per poll).
    video = sdk.videos.create_and_poll(prompt="A calico cat playing a piano", seconds="8", size="1280x720")
    assert time.monotonic() - started < 1.0, "the SDK followed the server's poll hint"
    assert (video.status, video.progress, video.error) == ("completed", 100, None)
    assert (video.model, video.size, video.seconds) == ("sora-2", "1280x720", "8")
    assert video.completed_at is not None and video.expires_at is not None
    assert sdk.videos.retrieve(video.id) == video
    check_downloads(video, sdk.videos.download_content, tmp_path, 1280, 720, 8)


def test_the_poll_helper_returns_a_failed_video(sdk):
    video = sdk.videos.create_and_poll(prompt="A cat", poll_interval_ms=5,
                                       extra_headers={"X-Videomock-Scenario": "timeout"})
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "generation_timeout"


def test_list_across_pages_delete_and_remix(sdk, fast):
    made = []
    for number in range(5):
        made.append(sdk.videos.create(prompt=f"video {number}").id)
    first = sdk.videos.list(limit=2)
    pages = [[video.id for video in page.data] for page in first.iter_pages()]
    assert pages == [made[4:2:-1], made[2:0:-1], made[0:1]]
    assert [video.id for video in sdk.videos.list(limit=2, order="asc")] == made

    source = sdk.videos.poll(made[0], poll_interval_ms=5)
    remix = sdk.videos.remix(source.id, prompt="The same cat, at night")
    assert remix.remixed_from_video_id == source.id and remix.id not in made
    assert (remix.model, remix.size, remix.seconds, remix.prompt) == ("sora-2", "720x1280", "4",
                                                                      "The same cat, at night")

    deleted = sdk.videos.delete(made[1])
    assert (deleted.id, deleted.deleted, deleted.object) == (made[1], True, "video.deleted")
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.videos.retrieve(made[1])
    assert caught.value.code == "video_not_found" and caught.value.param == "video_id"
    with pytest.raises(openai.NotFoundError):
        sdk.videos.download_content(made[1])
    assert made[1] not in [video.id for video in sdk.videos.list(limit=100)]


# (A JSON integer for seconds is a 400 too, see test_openai_dialect.py; the SDK's multipart sends it as text.)
@pytest.mark.parametrize(("kwargs", "param"), [({"seconds": "5"}, "seconds"), ({"size": "1792x1024"}, "size"),
                                               ({"model": "sora-2", "size": "1024x1792"}, "size")])
def test_bad_request_error(sdk, kwargs, param):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.videos.create(prompt="A cat", **kwargs)
    assert caught.value.status_code == 400 and caught.value.param == param
    assert caught.value.type == "invalid_request_error"


def test_pro_sizes_with_sora_2_pro(sdk):
    video = sdk.videos.create(prompt="A cat", model="sora-2-pro", size="1792x1024", seconds="12")
    assert (video.model, video.size, video.seconds, video.status) == ("sora-2-pro", "1792x1024", "12", "queued")


def test_authentication_and_not_found_errors(sdk, fast):
    with (openai.OpenAI(base_url=fast.base_url + "/v1", api_key="sk-wrong", max_retries=0) as wrong,
          pytest.raises(openai.AuthenticationError) as caught):
        wrong.videos.list()
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError):
        sdk.videos.retrieve("video_does_not_exist")
    with pytest.raises(openai.NotFoundError):
        sdk.videos.remix("video_does_not_exist", prompt="x")
    with pytest.raises(openai.NotFoundError):
        sdk.videos.delete("video_does_not_exist")


def test_a_file_reference_sent_by_the_sdk(sdk, fast):
    video = sdk.videos.create(prompt="Animate this", input_reference=("ref.png", b"\x89PNG fake", "image/png"))
    task, _ = fast.backend.get_task(video.id)
    assert task.params["input_reference"] == {"filename": "ref.png", "content_type": "image/png", "bytes": 9}


async def test_async_create_and_poll_list_remix_delete_download(async_sdk, tmp_path):
    video = await async_sdk.videos.create_and_poll(prompt="A cat", model="sora-2-pro", size="1024x1792",
                                                   seconds="4", poll_interval_ms=5)
    assert (video.status, video.size, video.seconds) == ("completed", "1024x1792", "4")
    assert await async_sdk.videos.retrieve(video.id) == video
    for variant in ("video", "thumbnail", "spritesheet"):
        content = await async_sdk.videos.download_content(video.id, variant=variant)
        content.write_to_file(tmp_path / variant)
    info = probe_mp4((tmp_path / "video").read_bytes())
    assert (info.width, info.height) == (1024, 1792) and abs(info.seconds - 4) <= 1 / info.fps
    with Image.open(tmp_path / "thumbnail") as image:
        assert image.format == "WEBP"
    with Image.open(tmp_path / "spritesheet") as image:
        assert image.format == "JPEG"

    remix = await async_sdk.videos.remix(video.id, prompt="Again")
    assert remix.remixed_from_video_id == video.id
    listed = [item.id async for item in async_sdk.videos.list(limit=1)]
    assert listed == [remix.id, video.id], "auto-paginates one video per page, newest first"

    await async_sdk.videos.delete(video.id)
    with pytest.raises(openai.NotFoundError):
        await async_sdk.videos.retrieve(video.id)
    with pytest.raises(openai.BadRequestError):
        await async_sdk.videos.create(prompt="A cat", seconds="5")
