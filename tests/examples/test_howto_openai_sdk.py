"""How to test code that uses the official openai SDK's Videos API, sync and async."""

import json

import openai
import pytest

from conformance.media import probe_mp4

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK deprecates the Sora API


@pytest.mark.videomock(speed=5000)
def test_create_and_poll_then_download(videomock, tmp_path):
    client = openai.OpenAI(base_url=videomock.openai_base_url, api_key=videomock.api_key, max_retries=0)
    video = client.videos.create_and_poll(model="sora-2", prompt="A cat on a piano", seconds="4", size="1280x720")
    assert video.status == "completed"
    client.videos.download_content(video.id).write_to_file(tmp_path / "cat.mp4")
    info = probe_mp4((tmp_path / "cat.mp4").read_bytes())
    assert (info.width, info.height, round(info.seconds)) == (1280, 720, 4)


@pytest.mark.videomock(speed=5000)
async def test_async_client(videomock):
    client = openai.AsyncOpenAI(base_url=videomock.openai_base_url, api_key=videomock.api_key, max_retries=0)
    video = await client.videos.create_and_poll(prompt="A dog", seconds="4")
    thumbnail = await client.videos.download_content(video.id, variant="thumbnail")
    assert thumbnail.content[:4] == b"RIFF"  # image/webp


@pytest.mark.videomock(clock="manual", not_ready="json200")
def test_the_sdk_saves_a_json_error_as_the_video(videomock, tmp_path):
    """Seed 004: a gateway may answer 200 + JSON while the video is not ready; the SDK does not check."""
    client = openai.OpenAI(base_url=videomock.openai_base_url, api_key=videomock.api_key, max_retries=0)
    video = client.videos.create(prompt="A cat", seconds="4")
    client.videos.download_content(video.id).write_to_file(tmp_path / "cat.mp4")
    saved = json.loads((tmp_path / "cat.mp4").read_bytes())
    assert saved["data"]["error"]["code"] == "video_processing"
