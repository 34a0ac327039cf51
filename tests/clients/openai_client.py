"""An OpenAI Videos client: the official SDK to create and poll, then a checked, resumable download with httpx.

Usage: ``python openai_client.py``, under ``videomock check-client``, which sets
OPENAI_BASE_URL, OPENAI_API_KEY, VIDEOMOCK_OUTPUT_DIR and VIDEOMOCK_SPEED.

Well behaved: creates without the SDK's automatic retries (a POST is not idempotent): on 429 it waits
Retry-After and on 503 backs off, as neither created anything; when the answer is lost it lists the
videos and picks up its own (found by its unique prompt) before it would create another. It polls
with ``videos.poll`` (which waits ``openai-poll-after-ms``; the SDK's retries honour Retry-After and
back off on 5xx), treats "failed" as failure, and downloads with httpx: only a ``video/*`` answer is the
video (202 or JSON: not ready yet, seed 004), a cut transfer is resumed with Range, 404 means expired.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
import warnings

import httpx
import openai

warnings.simplefilter("ignore", DeprecationWarning)  # the SDK deprecates the Sora 2 API

OUTPUT = os.environ["VIDEOMOCK_OUTPUT_DIR"]
POLL = 5.0 / float(os.environ.get("VIDEOMOCK_SPEED", "1"))  # simulated seconds between content retries
BACKOFF = 0.5  # real seconds, doubled per consecutive 5xx
PROMPT = f"A lighthouse at dusk, waves below ({uuid.uuid4().hex[:8]})"

client = openai.OpenAI()


def wait_seconds(response: httpx.Response, default: float) -> float:
    if "retry-after-ms" in response.headers:
        return float(response.headers["retry-after-ms"]) / 1000
    return float(response.headers.get("retry-after", default))


def find_mine() -> openai.types.Video | None:
    """My video, if a create whose answer was lost made it."""
    return next((v for v in client.videos.list(limit=20).data if getattr(v, "prompt", None) == PROMPT), None)


def create() -> openai.types.Video:
    once = client.with_options(max_retries=0)
    delay = BACKOFF
    for _ in range(6):
        try:
            return once.videos.create(prompt=PROMPT, model="sora-2", seconds="4", size="1280x720")
        except openai.RateLimitError as exc:
            time.sleep(wait_seconds(exc.response, 1.0))
        except openai.InternalServerError as exc:
            if exc.status_code != 503:  # may have been created
                return find_mine() or sys.exit(f"create failed ({exc.status_code}) and made no video")
            time.sleep(delay)
            delay *= 2
        except openai.APIConnectionError as exc:  # the answer was lost: look before creating again
            found = find_mine()
            if found is not None:
                print("found the video the lost create made:", found.id, flush=True)
                return found
            print(f"create: no answer ({exc}) and no video made; creating again", flush=True)
    sys.exit("create: giving up")


def download(video_id: str) -> bytes:
    url = os.environ["OPENAI_BASE_URL"].rstrip("/") + f"/videos/{video_id}/content"
    data = bytearray()
    delay = BACKOFF
    with httpx.Client(headers={"Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"}, timeout=30,
                      trust_env=False) as http:
        for _ in range(40):
            headers = {"Range": f"bytes={len(data)}-"} if data else {}
            try:
                with http.stream("GET", url, headers=headers) as response:
                    if response.status_code == 429:
                        time.sleep(wait_seconds(response, 1.0))
                        continue
                    if response.status_code >= 500:
                        time.sleep(delay)
                        delay *= 2
                        continue
                    if response.status_code == 404:
                        sys.exit(f"the video is gone (expired?): {response.read()[:200]!r}")
                    if response.status_code == 202 or not response.headers.get("content-type", "").startswith("video/"):
                        response.read()
                        if response.status_code >= 400:
                            sys.exit(f"download: {response.status_code} {response.text[:200]}")
                        time.sleep(POLL)  # not ready yet (seed 004)
                        continue
                    response.raise_for_status()
                    if response.status_code == 200:
                        data.clear()
                    for chunk in response.iter_bytes():
                        data.extend(chunk)
            except httpx.TransportError as exc:
                print(f"download cut after {len(data)} bytes: {exc}", flush=True)
                continue
            return bytes(data)
    sys.exit("download: gave up")


def main() -> None:
    video = client.videos.poll(create().id)
    if video.status != "completed":
        sys.exit(f"generation {video.status}: {video.error}")
    data = download(video.id)
    with open(os.path.join(OUTPUT, f"{video.id}.mp4"), "wb") as file:
        file.write(data)
    print(f"saved {len(data)} bytes")


if __name__ == "__main__":
    main()
