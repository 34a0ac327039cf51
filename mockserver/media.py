"""Real, playable media of the requested size and duration, made fast: MP4, thumbnail, sprite sheet.

PyAV (libx264, bundled in its wheel) encodes one GOP of one second per (width, height, fps,
colour); the MP4 for any duration is that GOP's packets remuxed with shifted timestamps into a
fast-start MP4 (moov before mdat). Remuxing costs milliseconds; only the first GOP of a kind is
encoded. Finished files live in a per-instance directory bounded by bytes; what falls out is
rebuilt on demand, byte for byte identical, and is served from disk (aiohttp's FileResponse: Range,
ETag, If-None-Match, If-Range, HEAD) without a copy per request.
"""

from __future__ import annotations

import asyncio
import colorsys
import hashlib
import io
import math
import os
import shutil
import struct
import tempfile
import threading
from collections.abc import Hashable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from cachetools import LRUCache
from PIL import Image

from mockserver.catalog import RenderSpec

AUDIO_RATE = 48_000  # Hz
AUDIO_FRAME = 1024  # samples per AAC frame


#: The media kinds a task has, with their content types (OpenAI's ``variant`` values).
CONTENT_TYPES = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
#: Fixed modification time (unix seconds) of every cached file, so a rebuilt file keeps its ETag.
_MTIME = 1_700_000_000


def colour_for(text: str) -> tuple[int, int, int]:
    """A deterministic, saturated RGB colour (0-255 each) for ``text``, e.g. a task's prompt."""
    digest = hashlib.sha256(text.encode()).digest()
    hue = digest[0] / 255
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.65, 0.85)
    return round(red * 255), round(green * 255), round(blue * 255)


def _frame(width: int, height: int, fps: int, rgb: tuple[int, int, int], index: int) -> np.ndarray:
    """Frame ``index`` (0 to fps-1) of a second: a solid colour with a white bar sweeping left to right."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = rgb
    bar = max(2, width // 48)
    left = index * (width - bar) // max(1, fps - 1)
    frame[:, left : left + bar] = 255
    return frame


def _frames(width: int, height: int, fps: int, rgb: tuple[int, int, int]) -> list[np.ndarray]:
    """One second of frames (see :func:`_frame`)."""
    return [_frame(width, height, fps, rgb, index) for index in range(fps)]


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


def remux(gop: bytes, seconds: float, fps: int, path: Path) -> None:
    """Repeat a one-second GOP (and its audio) to ``seconds`` seconds, as a fast-start MP4 at ``path``.

    The result has exactly ``round(seconds * fps)`` video frames and its moov box before mdat.
    """
    with av.open(io.BytesIO(gop)) as source:
        streams = {s.index: s for s in source.streams if s.type in ("video", "audio")}
        packets: dict[int, list[av.Packet]] = {index: [] for index in streams}
        for packet in source.demux(list(streams.values())):
            if packet.size:
                packets[packet.stream.index].append(packet)
        # movflags=+faststart cannot write into BytesIO (it rewrites the file): write a real file.
        with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as output:
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


def pad_to(path: Path, target_bytes: int) -> None:
    """Grow an MP4 to exactly ``target_bytes`` with a trailing ``free`` box, which players skip.

    Files already at least that large (or short of room for the 8-byte box header) are left as they are.
    """
    missing = target_bytes - path.stat().st_size
    if missing < 8:
        return
    with path.open("ab") as handle:
        handle.write(struct.pack(">I4s", missing, b"free"))
        handle.truncate(target_bytes)


def _still(render: RenderSpec, rgb: tuple[int, int, int], index: int) -> Image.Image:
    return Image.fromarray(_frame(render.width, render.height, render.fps, rgb, index % render.fps))


def thumbnail(render: RenderSpec, rgb: tuple[int, int, int], path: Path) -> None:
    """A WebP still of the video's middle frame, in its aspect ratio, at most 640 pixels on the long side."""
    image = _still(render, rgb, render.fps // 2)
    image.thumbnail((640, 640))
    image.save(path, format="WEBP", quality=80)


def spritesheet(render: RenderSpec, rgb: tuple[int, int, int], path: Path, columns: int = 5) -> None:
    """A JPEG grid of frames, one tile per second of video (at most 25), each 160 pixels wide."""
    count = max(1, min(25, int(render.seconds)))
    tile_width = 160
    tile_height = max(2, round(tile_width * render.height / render.width))
    rows = math.ceil(count / columns)
    sheet = Image.new("RGB", (tile_width * min(columns, count), tile_height * rows))
    for number in range(count):
        tile = _still(render, rgb, number * render.fps // count).resize((tile_width, tile_height))
        sheet.paste(tile, ((number % columns) * tile_width, (number // columns) * tile_height))
    sheet.save(path, format="JPEG", quality=80)


class _FileCache(LRUCache[Hashable, tuple[Path, int]]):
    """An LRU of files on disk bounded by their total size; an evicted file is deleted."""

    def popitem(self) -> tuple[Hashable, tuple[Path, int]]:
        key, (path, size) = super().popitem()
        path.unlink(missing_ok=True)
        return key, (path, size)


class MediaSynthesizer:
    """Makes, caches and locates each task's media; one instance per app.

    Args:
        cache_bytes: Upper bound of the finished files kept on disk, in bytes (GOPs are kept in
            memory, bounded by a quarter of it).
        directory: Where to keep the files; a fresh temporary directory when None (removed by :meth:`close`).
    """

    def __init__(self, cache_bytes: int = 256 * 1024 * 1024, directory: Path | None = None) -> None:
        self._owned = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="videomock-media-")) if directory is None else directory
        self._gops: LRUCache[Hashable, bytes] = LRUCache(maxsize=max(1, cache_bytes // 4), getsizeof=len)
        self._files = _FileCache(maxsize=max(1, cache_bytes), getsizeof=lambda entry: entry[1])
        self._lock = threading.Lock()
        self._pending: dict[Hashable, asyncio.Future[Path]] = {}

    def path_sync(self, render: RenderSpec, colour_key: str, variant: str = "video") -> Path:
        """The file of one kind of media for ``render``, coloured after ``colour_key`` (blocking).

        Deterministic: the same arguments always give the same bytes.

        Args:
            render: What to render (pixels, seconds, fps, audio, target bytes).
            colour_key: Text that picks the colour, e.g. the prompt.
            variant: ``video`` (MP4), ``thumbnail`` (WebP) or ``spritesheet`` (JPEG).

        Raises:
            KeyError: unknown variant.
        """
        suffix = {"video": ".mp4", "thumbnail": ".webp", "spritesheet": ".jpg"}[variant]
        rgb = colour_for(colour_key)
        key = (render, rgb, variant)
        with self._lock:
            entry = self._files.get(key)
        if entry is not None and entry[0].exists():
            return entry[0]
        name = hashlib.sha256(repr(key).encode()).hexdigest()[:32] + suffix
        path = self.directory / name
        if path.exists():  # built before but not cached (larger than the cache): the same bytes
            return path
        partial = path.with_suffix(f".{threading.get_ident()}.part")
        try:
            if variant == "video":
                remux(self._gop(render, rgb), render.seconds, render.fps, partial)
                if render.target_bytes:
                    pad_to(partial, render.target_bytes)
            elif variant == "thumbnail":
                thumbnail(render, rgb, partial)
            else:
                spritesheet(render, rgb, partial)
            os.utime(partial, (_MTIME, _MTIME))
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        with self._lock:
            size = path.stat().st_size
            if size <= self._files.maxsize:
                self._files[key] = (path, size)
        return path

    def _gop(self, render: RenderSpec, rgb: tuple[int, int, int]) -> bytes:
        gop_key = (render.width, render.height, render.fps, rgb, render.audio)
        with self._lock:
            gop = self._gops.get(gop_key)
        if gop is None:
            gop = encode_gop(render.width, render.height, render.fps, rgb, render.audio)
            with self._lock:
                if len(gop) <= self._gops.maxsize:
                    self._gops[gop_key] = gop
        return gop

    async def path(self, render: RenderSpec, colour_key: str, variant: str = "video") -> Path:
        """Like :meth:`path_sync`, off the event loop; concurrent asks for one file share one build."""
        key = (render, colour_key, variant)
        future = self._pending.get(key)
        if future is None:
            future = asyncio.ensure_future(asyncio.to_thread(self.path_sync, render, colour_key, variant))
            self._pending[key] = future
            future.add_done_callback(lambda _done: self._pending.pop(key, None))
        return await asyncio.shield(future)

    async def video(self, render: RenderSpec, colour_key: str) -> bytes:
        """The MP4 bytes (for the base64 download endpoint)."""
        path = await self.path(render, colour_key)
        return await asyncio.to_thread(path.read_bytes)

    def close(self) -> None:
        """Delete the files of a directory this instance created."""
        if self._owned:
            shutil.rmtree(self.directory, ignore_errors=True)
