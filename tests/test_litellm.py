"""A second real client of the OpenAI Videos dialect: LiteLLM's video functions (issue 3, "Done when").

LiteLLM calls ``{api_base}/videos`` (multipart create, ``/videos/{id}``, ``/videos/{id}/content``) and
wraps the video ID with its provider; it needs ``LITELLM_LOCAL_MODEL_COST_MAP=True`` to stay offline
(its model cost map is otherwise fetched from GitHub at import).
"""

from __future__ import annotations

import json
import os

# Set before LiteLLM is imported: it reads the variable at import.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import litellm
import pytest

from conformance.media import probe_mp4
from mockserver.dialects import openai as dialect

litellm.suppress_debug_info = True
# LiteLLM's own pydantic models warn about TypedDict ReadOnly items when first built; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning")


@pytest.fixture
def api(server):
    """Keyword arguments that point LiteLLM at the simulator."""
    return {"api_base": server.base_url + "/v1", "api_key": server.api_key}


def test_generation_status_and_content(server, api):
    video = litellm.video_generation(prompt="A calico cat playing a piano", model="openai/sora-2", seconds="8",
                                     size="1280x720", **api)
    assert (video.status, video.size, video.seconds, video.model) == ("queued", "1280x720", "8", "sora-2")
    assert video.usage == {"duration_seconds": 8.0}
    assert litellm.video_status(video_id=video.id, **api).status == "queued"

    server.clock.advance(120)
    status = litellm.video_status(video_id=video.id, **api)
    assert (status.status, status.progress) == ("completed", 100)
    assert status.completed_at is not None and status.expires_at is not None

    info = probe_mp4(litellm.video_content(video_id=video.id, **api))
    assert (info.width, info.height) == (1280, 720) and abs(info.seconds - 8) <= 1 / info.fps
    assert litellm.video_content(video_id=video.id, variant="thumbnail", **api)[8:12] == b"WEBP"
    assert litellm.video_content(video_id=video.id, variant="spritesheet", **api)[:3] == b"\xff\xd8\xff"


def test_content_before_completion_per_not_ready_mode(api):
    video = litellm.video_generation(prompt="A cat", model="openai/sora-2", **api)
    # Seed 004's 202: a client that takes any 2xx as content gets the JSON body as "video" bytes.
    saved = json.loads(litellm.video_content(video_id=video.id, **api))
    assert saved["error"]["code"] == "video_processing"
    with pytest.raises(litellm.exceptions.NotFoundError) as caught:
        litellm.video_content(video_id=video.id, extra_headers={dialect.NOT_READY_HEADER: "404"}, **api)
    assert caught.value.status_code == 404 and "video_processing" in str(caught.value)


def test_errors_reach_litellm_with_their_status(api):
    with pytest.raises(litellm.exceptions.BadRequestError) as caught:
        litellm.video_generation(prompt="A cat", model="openai/sora-2", seconds="5", **api)
    assert caught.value.status_code == 400 and "'4', '8', '12'" in str(caught.value)
    with pytest.raises(litellm.exceptions.AuthenticationError):
        litellm.video_status(video_id="video_xxx", api_base=api["api_base"], api_key="sk-wrong")
    # LiteLLM up to 1.10x mapped a 404 on video_status to its BadRequestError, later releases to its
    # NotFoundError; either way the status code and our error code reach the caller.
    with pytest.raises((litellm.exceptions.NotFoundError, litellm.exceptions.BadRequestError)) as caught:
        litellm.video_status(video_id="video_does_not_exist", **api)
    assert caught.value.status_code == 404 and "video_not_found" in str(caught.value)


async def test_async_generation_status_and_content(server, api):
    video = await litellm.avideo_generation(prompt="A cat", model="openai/sora-2-pro", size="1024x1792", **api)
    server.clock.advance(120)
    status = await litellm.avideo_status(video_id=video.id, **api)
    assert (status.status, status.size, status.seconds) == ("completed", "1024x1792", "4")
    info = probe_mp4(await litellm.avideo_content(video_id=video.id, **api))
    assert (info.width, info.height) == (1024, 1792)
