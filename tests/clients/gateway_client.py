"""A gateway-dialect client (seed 003) written with requests: well behaved, unless told to have one flaw.

Usage: ``python gateway_client.py [--flaw NAME]``, under ``videomock check-client``, which sets
VIDEOMOCK_BASE_URL, VIDEOMOCK_API_KEY, VIDEOMOCK_OUTPUT_DIR and VIDEOMOCK_SPEED.

Well behaved: submits once (a Seedance model, whose finished task carries a download URL), reads the status
every 5 s of simulated time (seed 003's example interval divided by VIDEOMOCK_SPEED), waits as long
as Retry-After says on 429 and backs off 0.5 s, 1 s, 2 s… (real time) on 5xx, treats "failed" as a
failure, takes only a video/* answer for the video (202 or JSON: not ready yet, wait and fetch again),
resumes a cut download with Range, and never submits twice: when the submit's answer is lost, the
task may exist, so it gives up rather than pay for a second one (the gateway has no way to look it up).

Flaws (each breaks exactly one of those behaviours):

- fast-polling: reads the status 25 times as often.
- ignores-retry-after: after a 429 waits its poll interval instead of Retry-After.
- no-backoff: retries a 5xx answer at once.
- ignores-failure: prints the failed task and exits 0.
- polls-until-succeeded: loops until "succeeded", so a failed task is polled forever.
- blind-create-retry: submits again when the submit's answer is lost.
- no-resume: starts a cut download over from byte 0.
- saves-any-200: saves any 200 answer to the download as the video, without looking at its Content-Type.
- downloads-early: never reads the status; asks new-api's proxy content URL (``/v1/videos/{task_id}/content``,
  dialects.md §1.6) for the video until it comes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

import requests

FLAWS = ("fast-polling", "ignores-retry-after", "no-backoff", "ignores-failure", "polls-until-succeeded",
         "blind-create-retry", "no-resume", "saves-any-200", "downloads-early")
BASE = os.environ["VIDEOMOCK_BASE_URL"] + "/v1"
OUTPUT = os.environ["VIDEOMOCK_OUTPUT_DIR"]
POLL = 5.0 / float(os.environ.get("VIDEOMOCK_SPEED", "1"))  # seed 003: time.sleep(5), on the simulated clock
BACKOFF = 0.5  # real seconds, doubled per consecutive 5xx; never scaled (judged in real time)
MODEL = "seedance-1.0"  # 480p, 4 s: the cheapest video for the simulator to make

session = requests.Session()
session.trust_env = False
session.headers["Authorization"] = f"Bearer {os.environ['VIDEOMOCK_API_KEY']}"


def retry_after(response: requests.Response) -> float:
    """The wait a 429 asks for, in seconds: retry-after-ms, else Retry-After, else 1."""
    if "retry-after-ms" in response.headers:
        return float(response.headers["retry-after-ms"]) / 1000
    return float(response.headers.get("Retry-After", "1"))


def call(flaw: str | None, method: str, url: str, **kwargs) -> requests.Response:
    """One request, repeated after 429 (waiting Retry-After) and 5xx (backing off), up to 6 times."""
    delay = BACKOFF
    for _ in range(6):
        response = session.request(method, url, timeout=30, **kwargs)
        if response.status_code == 429:
            response.close()
            time.sleep(POLL if flaw == "ignores-retry-after" else retry_after(response))
        elif response.status_code >= 500:
            response.close()
            time.sleep(0 if flaw == "no-backoff" else delay)
            delay *= 2
        else:
            return response
    sys.exit(f"{method} {url}: still failing after 6 attempts")


def submit(flaw: str | None) -> str:
    body = {"model": MODEL, "duration": 4, "resolution": "480p",
            "prompt": f"A lighthouse at dusk, waves below ({uuid.uuid4().hex[:8]})"}
    for _ in range(3):
        try:
            response = call(flaw, "POST", f"{BASE}/video/generations", json=body)
        except requests.RequestException as exc:
            if flaw == "blind-create-retry":
                time.sleep(BACKOFF)
                continue
            sys.exit(f"submit: the answer was lost ({exc}); a task may exist, not submitting another")
        response.raise_for_status()
        return response.json()["task_id"]
    sys.exit("submit: no answer")


def wait_for(flaw: str | None, task_id: str) -> str:
    """Poll until the task ends; its video URL."""
    while True:
        time.sleep(POLL / 25 if flaw == "fast-polling" else POLL)
        response = call(flaw, "GET", f"{BASE}/video/generations/{task_id}")
        response.raise_for_status()
        task = response.json()
        print("status:", task["status"], task.get("progress"), flush=True)
        if task["status"] == "succeeded":
            return task["url"]
        if task["status"] == "failed" and flaw != "polls-until-succeeded":
            if flaw == "ignores-failure":
                print("finished:", task)
                sys.exit(0)
            sys.exit(f"generation failed: {task.get('error')}")


def download(flaw: str | None, url: str) -> bytes:
    """The video at ``url``; waits while it is not ready, resumes a cut transfer with Range."""
    data = bytearray()
    for _ in range(20):
        if flaw == "no-resume":
            data.clear()
        headers = {"Range": f"bytes={len(data)}-"} if data else {}
        try:
            with call(flaw, "GET", url, headers=headers, stream=True) as response:
                if response.status_code == 404:
                    sys.exit(f"the video is gone (expired?): {response.text[:200]}")
                if response.status_code >= 400:
                    sys.exit(f"download: {response.status_code} {response.text[:200]}")
                is_video = response.headers.get("Content-Type", "").startswith("video/")
                if response.status_code == 202 or not (is_video or flaw == "saves-any-200"):
                    print("not ready yet:", response.status_code, response.text[:100], flush=True)
                    time.sleep(POLL)
                    continue
                response.raise_for_status()
                if response.status_code == 200:
                    data.clear()  # a whole answer replaces any partial copy
                for chunk in response.iter_content(8192):
                    data.extend(chunk)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            print(f"download cut after {len(data)} bytes: {exc}", flush=True)
            continue
        return bytes(data)
    sys.exit("download: gave up")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flaw", choices=FLAWS)
    flaw = parser.parse_args().flaw
    task_id = submit(flaw)
    url = f"{BASE}/videos/{task_id}/content" if flaw == "downloads-early" else wait_for(flaw, task_id)
    video = download(flaw, url)
    with open(os.path.join(OUTPUT, "video.mp4"), "wb") as file:
        file.write(video)
    print(f"saved {len(video)} bytes")


if __name__ == "__main__":
    main()
