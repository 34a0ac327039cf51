"""The check modules, one per dialect; importing them registers their checks."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from conformance.context import Context, Exchange
from conformance.failures import Finding
from conformance.media import probe_mp4

#: Status words of the documented behaviour and of the known gateway variants (dialects.md §1.6).
STATUS_RANK: dict[str, int] = {
    "NOT_START": 0, "pending": 0, "submitted": 0, "SUBMITTED": 0, "queued": 1, "QUEUED": 1,
    "in_progress": 2, "processing": 2, "IN_PROGRESS": 2,
    "succeeded": 3, "completed": 3, "SUCCESS": 3, "failed": 3, "FAILURE": 3,
}
SUCCESS_WORDS = {"succeeded", "completed", "SUCCESS"}
FAILURE_WORDS = {"failed", "FAILURE"}


def evidence(*exchanges: Exchange) -> list[dict[str, Any]]:
    """Evidence entries for a Finding."""
    return [e.evidence() for e in exchanges]


def error_message(exchange: Exchange) -> str | None:
    """The error message of an error body in any documented envelope, else None.

    Shapes: ``{"error": {"message", …}}`` (OpenAI, new-api middleware, nebula), ``{"code", "message",
    "data"}`` (new-api task errors), ``{"message", …}``.
    """
    try:
        body = exchange.json()
    except Finding:
        return None
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(body.get("message"), str) and body["message"]:
            return body["message"]
    return None


def expect_error(exchange: Exchange, statuses: set[int], what: str, source: str) -> None:
    """Raise a Finding unless ``exchange`` is an enveloped error with one of ``statuses``."""
    if exchange.status not in statuses:
        raise Finding(f"{what}: expected HTTP {'/'.join(map(str, sorted(statuses)))}, got {exchange.status} "
                      f"({source})", evidence(exchange))
    if not error_message(exchange):
        raise Finding(f"{what}: HTTP {exchange.status} without an error message in a JSON envelope ({source})",
                      evidence(exchange))


def expect_mp4(data: bytes, expected: tuple[int, int, int], what: str, exchange: Exchange) -> None:
    """Raise a Finding unless ``data`` is an H.264 MP4 of ``expected`` (width, height, seconds ± 1 frame)."""
    try:
        info = probe_mp4(data)
    except Exception as exc:
        raise Finding(f"{what} is not a decodable video ({type(exc).__name__}: {exc}); starts with "
                      f"{data[:32]!r}", evidence(exchange)) from None
    width, height, seconds = expected
    if (info.width, info.height) != (width, height):
        raise Finding(f"{what} is {info.width}x{info.height}, the request asked for {width}x{height}",
                      evidence(exchange))
    if abs(info.seconds - seconds) > max(1 / (info.fps or 24), 0.05):
        raise Finding(f"{what} lasts {info.seconds:.3f} s, the request asked for {seconds} s", evidence(exchange))


def b64decode(text: str, what: str, exchange: Exchange) -> bytes:
    """Strict base64 decode; raise a Finding on bad data."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise Finding(f"{what} is not valid base64", evidence(exchange)) from None


__all__ = ["Context", "error_message", "evidence", "expect_error", "expect_mp4"]
