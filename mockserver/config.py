"""The simulator's configuration, one frozen value per app instance."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
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
        deviations: Documented behaviours to break on purpose (``mockserver.deviations``), for
            proving the conformance kit; empty for a faithful simulator.
        validate_responses: Check every response against the OpenAPI contract and answer 500 on drift
            (see ``mockserver.contract``); defaults to on when ``VIDEOMOCK_VALIDATE_RESPONSES=1``.
        max_tasks: Most tasks stored at once; a submit beyond it, with nothing evictable, gets 429 (issue 9).
        evict_grace: Simulated seconds a task is kept after its video expired (a failed task: after it
            failed) before it is evicted and answers 404 (issue 9).
        state_path: SQLite file that keeps tasks, the clock and the ID sequence across restarts
            (``mockserver.state``), or None to keep them in memory only (issue 9).
        shutdown_timeout: Seconds that in-flight requests (downloads) get to finish on SIGTERM (issue 9).
        body_timeout: Seconds a request body may take to arrive in full; slower bodies get 408 (issue 9).
        max_header_bytes: Longest request line and header field, in bytes; longer ones get 400 (issue 9).
        max_form_parts: Most parts (fields) in a form body; more get 413 (issue 9).
        max_part_bytes: Largest single part of a form body, in bytes; larger ones get 413 (issue 9).
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
    deviations: tuple[str, ...] = ()
    validate_responses: bool = field(default_factory=lambda: os.environ.get("VIDEOMOCK_VALIDATE_RESPONSES") == "1")
    max_tasks: int = 100_000
    evict_grace: float = 3600.0
    state_path: str | None = None
    shutdown_timeout: float = 10.0
    body_timeout: float = 60.0
    max_header_bytes: int = 8190
    max_form_parts: int = 32
    max_part_bytes: int = 24 * 1024 * 1024
