"""How to test a hand-written OpenAI Videos client (httpx): multipart create, 202 while not ready."""

import httpx
import pytest


@pytest.mark.videomock(clock="manual", not_ready="202")
def test_content_is_202_until_completed(videomock):
    with httpx.Client(base_url=videomock.openai_base_url,
                      headers={"Authorization": f"Bearer {videomock.api_key}"}) as client:
        video = client.post("/videos", data={"prompt": "A cat", "seconds": "8", "size": "720x1280"},
                            files={"input_reference": ("cat.png", b"\x89PNG\r\n\x1a\n", "image/png")}).json()
        assert client.get(f"/videos/{video['id']}/content").status_code == 202
        videomock.advance(600)
        assert client.get(f"/videos/{video['id']}").json()["status"] == "completed"
        response = client.get(f"/videos/{video['id']}/content")
        assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
