"""The official openai SDK's own recipe, as its docs show it: create_and_poll, then download_content().write_to_file().

Flaws it has as written (dialects.md §2.5): download_content returns any 2xx body without looking at
its Content-Type, so a 202 or a JSON-on-200 "not ready" answer is written into the .mp4; a cut
download is fetched again from byte 0; the create is a POST the SDK retries on a lost answer.
"""

import os
import sys
import warnings

import openai

warnings.simplefilter("ignore", DeprecationWarning)  # the SDK deprecates the Sora 2 API

client = openai.OpenAI()
video = client.videos.create_and_poll(model="sora-2", prompt="A lighthouse at dusk, waves below", seconds="4")
if video.status != "completed":
    sys.exit(f"Video creation failed. Status: {video.status}, error: {video.error}")
client.videos.download_content(video.id).write_to_file(os.path.join(os.environ["VIDEOMOCK_OUTPUT_DIR"], "video.mp4"))
print("saved", video.id)
