"""How to test an asyncio client written with aiohttp (the simulator runs in its own thread)."""

import aiohttp
import pytest

from conformance.media import probe_mp4


@pytest.mark.videomock(speed=5000)  # a fast real clock: a minute of generation takes ~12 ms
async def test_async_client_fetches_the_video_url(videomock):
    headers = {"Authorization": f"Bearer {videomock.api_key}"}
    async with aiohttp.ClientSession(videomock.base_url, headers=headers) as session:
        async with session.post("/v1/video/generations", json={"model": "seedance-1.0", "prompt": "A girl dancing",
                                                               "duration": 4, "resolution": "480p"}) as response:
            task_id = (await response.json())["task_id"]
        while True:
            async with session.get(f"/v1/video/generations/{task_id}") as response:
                body = await response.json()
            if body["status"] == "succeeded":
                break
        async with aiohttp.ClientSession() as anonymous, anonymous.get(body["url"]) as response:
            data = await response.read()  # the url is signed: no key needed, like a CDN link
    info = probe_mp4(data)
    assert (info.width, info.height, round(info.seconds)) == (854, 480, 4)
