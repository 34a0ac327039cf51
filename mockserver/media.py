"""Real, playable MP4 bytes of the requested size and duration, made fast.

PyAV (libx264, bundled in its wheel) encodes one GOP of one second per (width, height, fps,
colour); the MP4 for any duration is that GOP's packets remuxed with shifted timestamps into a
fast-start MP4 (moov before mdat). Remuxing costs milliseconds; only the first GOP of a kind is
encoded. Both caches are bounded by bytes and per app instance.
"""

from __future__ import annotations

import asyncio
import colorsys
import hashlib
import io
import math
import os
import tempfile
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from cachetools import LRUCache

from mockserver.catalog import RenderSpec

AUDIO_RATE = 48_000  # Hz
AUDIO_FRAME = 1024  # samples per AAC frame


@dataclass(frozen=True, slots=True)
class _Gop:
    """One encoded second: the source MP4 bytes (video, and audio when asked for)."""

    data: bytes


def colour_for(text: str) -> tuple[int, int, int]:
    """A deterministic, saturated RGB colour (0-255 each) for ``text``, e.g. a task's prompt."""
    digest = hashlib.sha256(text.encode()).digest()
    hue = digest[0] / 255
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.65, 0.85)
    return round(red * 255), round(green * 255), round(blue * 255)


def _frames(width: int, height: int, fps: int, rgb: tuple[int, int, int]) -> list[np.ndarray]:
    """One second of frames: a solid colour with a white bar sweeping left to right."""
    base = np.empty((height, width, 3), np.uint8)
    base[:] = rgb
    bar = max(2, width // 48)
    frames = []
    for index in range(fps):
        frame = base.copy()
        left = index * (width - bar) // max(1, fps - 1)
        frame[:, left : left + bar] = 255
        frames.append(frame)
    return frames


def encode_gop(width: int, height: int, fps: int, rgb: tuple[int, int, int], audio: bool) -> bytes:
    """Encode one second as an MP4: one H.264 GOP (yuv420p), plus an AAC tone if ``audio``.

    Returns:
        The MP4 bytes (not fast-start; only ever demuxed again by :func:`remux`).
    """
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast", "g": str(fps), "keyint_min": str(fps),
                         "sc_threshold": "0", "bf": "0", "threads": "1"}
        sound = None
        if audio:
            sound = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for index, array in enumerate(_frames(width, height, fps, rgb)):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if sound is not None:
            samples = np.arange(AUDIO_RATE, dtype=np.float32) / AUDIO_RATE
            tone = (0.2 * np.sin(2 * math.pi * 440.0 * samples)).astype(np.float32)
            for start in range(0, AUDIO_RATE, AUDIO_FRAME):
                chunk = tone[start : start + AUDIO_FRAME]
                if len(chunk) < AUDIO_FRAME:
                    break
                frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
                frame.sample_rate, frame.pts = AUDIO_RATE, start
                container.mux(sound.encode(frame))
            container.mux(sound.encode())
    return buffer.getvalue()


def remux(gop: bytes, seconds: float, fps: int) -> bytes:
    """Repeat a one-second GOP (and its audio) to ``seconds`` seconds, as a fast-start MP4.

    Returns:
        MP4 bytes with exactly ``round(seconds * fps)`` video frames and moov before mdat.
    """
    with av.open(io.BytesIO(gop)) as source:
        streams = {s.index: s for s in source.streams if s.type in ("video", "audio")}
        packets: dict[int, list[av.Packet]] = {index: [] for index in streams}
        for packet in source.demux(list(streams.values())):
            if packet.size:
                packets[packet.stream.index].append(packet)
        # movflags=+faststart cannot write into BytesIO: it rewrites the file (a measured fact).
        handle, path = tempfile.mkstemp(suffix=".mp4", prefix="videomock-")
        os.close(handle)
        try:
            with av.open(path, "w", format="mp4", options={"movflags": "+faststart"}) as output:
                targets = {index: output.add_stream_from_template(stream) for index, stream in streams.items()}
                for index, stream in streams.items():
                    if stream.type == "video":
                        total, step, time_base = round(seconds * fps), 1, Fraction(1, fps)
                    else:
                        total = math.ceil(seconds * AUDIO_RATE / AUDIO_FRAME)
                        step, time_base = AUDIO_FRAME, Fraction(1, AUDIO_RATE)
                    cycle = packets[index]
                    for number in range(total):
                        template = cycle[number % len(cycle)]
                        packet = av.Packet(bytes(template))
                        packet.pts = packet.dts = number * step
                        packet.time_base = time_base
                        packet.is_keyframe = template.is_keyframe
                        packet.stream = targets[index]
                        output.mux(packet)
            with open(path, "rb") as result:
                return result.read()
        finally:
            os.unlink(path)


class MediaSynthesizer:
    """Makes and caches the MP4 of each task; one instance per app.

    Args:
        cache_bytes: Upper bound of the cache of finished videos, in bytes.
    """

    def __init__(self, cache_bytes: int = 256 * 1024 * 1024) -> None:
        self._gops: LRUCache[Hashable, bytes] = LRUCache(maxsize=max(1, cache_bytes // 4), getsizeof=len)
        self._videos: LRUCache[Hashable, bytes] = LRUCache(maxsize=max(1, cache_bytes), getsizeof=len)
        self._lock = threading.Lock()
        self._pending: dict[Hashable, asyncio.Future[bytes]] = {}

    def video_sync(self, render: RenderSpec, colour_key: str) -> bytes:
        """The MP4 bytes for ``render``, coloured after ``colour_key`` (blocking; encodes on a miss).

        Deterministic: the same arguments always give the same bytes.
        """
        rgb = colour_for(colour_key)
        key = (render, rgb)
        with self._lock:
            cached = self._videos.get(key)
        if cached is not None:
            return cached
        gop_key = (render.width, render.height, render.fps, rgb, render.audio)
        with self._lock:
            gop = self._gops.get(gop_key)
        if gop is None:
            gop = encode_gop(render.width, render.height, render.fps, rgb, render.audio)
            with self._lock:
                self._store(self._gops, gop_key, gop)
        data = remux(gop, render.seconds, render.fps)
        with self._lock:
            self._store(self._videos, key, data)
        return data

    async def video(self, render: RenderSpec, colour_key: str) -> bytes:
        """Like :meth:`video_sync`, off the event loop; concurrent asks for one video share one encode."""
        key = (render, colour_key)
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.ensure_future(asyncio.to_thread(self.video_sync, render, colour_key))
        self._pending[key] = future
        try:
            return await asyncio.shield(future)
        finally:
            if future.done():
                self._pending.pop(key, None)
            else:
                future.add_done_callback(lambda _f: self._pending.pop(key, None))

    @staticmethod
    def _store(cache: LRUCache[Hashable, bytes], key: Hashable, value: bytes) -> None:
        if len(value) <= cache.maxsize:
            cache[key] = value
