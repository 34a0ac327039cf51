"""Decode and describe a video a gateway hands out, with PyAV."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What an MP4 holds, as decoded.

    Attributes:
        container: Container format names reported by FFmpeg (e.g. ``mov,mp4,m4a,3gp,3g2,mj2``).
        codec: Video codec name (e.g. ``h264``).
        pix_fmt: Pixel format of the decoded frames (e.g. ``yuv420p``).
        width: Frame width in pixels.
        height: Frame height in pixels.
        frames: Number of decoded video frames.
        fps: Average frame rate, in frames per second.
        seconds: Duration, in seconds (frames / fps).
        audio_codec: Audio codec name, or None without an audio stream.
        faststart: Whether the ``moov`` box comes before ``mdat`` (playable while downloading).
    """

    container: str
    codec: str
    pix_fmt: str
    width: int
    height: int
    frames: int
    fps: float
    seconds: float
    audio_codec: str | None
    faststart: bool


def probe_mp4(data: bytes) -> MediaInfo:
    """Decode every video frame of ``data`` and describe it.

    Raises:
        av.error.FFmpegError: ``data`` is not a decodable video (e.g. a JSON error body saved as .mp4).
        ValueError: the container has no video stream.
    """
    with av.open(io.BytesIO(data)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        video = container.streams.video[0]
        frames = 0
        pix_fmt = ""
        for frame in container.decode(video):
            frames += 1
            pix_fmt = frame.format.name
        fps = float(video.average_rate or 0)
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        moov, mdat = data.find(b"moov"), data.find(b"mdat")
        return MediaInfo(
            container=container.format.name, codec=video.codec_context.name, pix_fmt=pix_fmt,
            width=video.codec_context.width, height=video.codec_context.height, frames=frames, fps=fps,
            seconds=frames / fps if fps else 0.0, audio_codec=audio, faststart=0 <= moov < mdat,
        )
