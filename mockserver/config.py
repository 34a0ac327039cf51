"""The simulator's configuration, one frozen value per app instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The key the seeds' curl examples send (seeds 000-003: ``Authorization: Bearer sk-xxxxxxxxxx``),
#: accepted by default so every documented example works with only the host changed.
DEFAULT_API_KEY = "sk-xxxxxxxxxx"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Settings of one simulator instance.

    Attributes:
        host: Address to bind (loopback by default).
        port: TCP port; 0 picks a free one.
        api_keys: Bearer keys accepted on the API routes.
        speed: Simulated seconds per real second (60: a minute of work takes a second).
        manual_clock: Keep the clock still until advanced.
        seed: Seed for IDs and random choices; None for a random seed.
        ttl: Seconds from completion until a video expires.
        profile: Name of the gateway dialect profile (see ``mockserver.profiles``).
        max_body_bytes: Largest accepted request body, in bytes (larger: 413).
        media_cache_bytes: Upper bound of the media cache, in bytes.
        video_bytes: Pad every MP4 to this many bytes (still a valid MP4), or None for natural size.
        scenarios: Parsed scenario file (see ``mockserver.scenarios``), or None for the defaults.
        control_token: Token that opens the control API to callers off loopback (None: loopback only).
        journal_limit: How many exchanges the journal keeps.
        examples: Preload the seeds' documented example tasks (fixtures/seeds/examples.yaml).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    speed: float = 1.0
    manual_clock: bool = False
    seed: int | None = None
    ttl: float = 3600.0
    profile: str = "seed"
    max_body_bytes: int = 32 * 1024 * 1024
    media_cache_bytes: int = 256 * 1024 * 1024
    video_bytes: int | None = None
    scenarios: dict[str, Any] | None = None
    control_token: str | None = None
    journal_limit: int = 10_000
    examples: bool = True
