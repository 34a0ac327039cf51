"""The simulator's clock: the one source of "now" for every lifecycle, timestamp and expiry."""

from __future__ import annotations

import threading
import time


class Clock:
    """Simulated time, in unix seconds, that runs at ``speed`` times real time or stands still.

    With ``speed=60`` a minute of simulated work passes in one real second. A manual clock
    (``manual=True``) never moves on its own; :meth:`advance` moves it. Both kinds can be advanced,
    so a test can skip over a queue wait. Safe to read and advance from several threads.

    Args:
        speed: Simulated seconds per real second (> 0).
        manual: Stand still until advanced.
        start: Simulated unix time at creation, in seconds; defaults to the real time.
    """

    def __init__(self, speed: float = 1.0, *, manual: bool = False, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self._lock = threading.Lock()
        self._speed = speed
        self.manual = manual
        self._base = time.time() if start is None else start
        self._anchor = time.monotonic()

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    def now(self) -> float:
        """The current simulated time, in unix seconds."""
        if self.manual:
            return self._base
        return self._base + (time.monotonic() - self._anchor) * self._speed

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (simulated) and return the new time.

        Raises:
            ValueError: ``seconds`` is negative (the clock never runs backwards).
        """
        if seconds < 0:
            raise ValueError(f"the clock cannot go back; got {seconds} seconds")
        with self._lock:
            self._base += seconds
            return self.now()

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on, without a jump in simulated time.

        Raises:
            ValueError: ``speed`` is not positive.
        """
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        with self._lock:
            self._base = self.now()
            self._anchor = time.monotonic()
            self._speed = speed

    def real_seconds(self, simulated: float) -> float:
        """How many real seconds ``simulated`` seconds take at the current speed (inf when manual)."""
        return float("inf") if self.manual else simulated / self._speed
