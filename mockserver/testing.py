"""The test-side handle of a running simulator: controls plus journal assertions with readable failures.

Used by the pytest plugin's ``videomock`` fixture, and usable on its own::

    with ServerThread(manual_clock=True) as server:
        videomock = Videomock(server)
        ...                                  # run the client under test against videomock.base_url
        videomock.assert_polled(task_id, at_least=3)
"""

from __future__ import annotations

import itertools
from typing import Any

from mockserver.server import ServerThread


class VideomockAssertionError(AssertionError):
    """Raised when a journal assertion fails; the message lists the relevant exchanges."""


def _lines(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "    (no requests)"
    return "\n".join(
        f"    #{e['seq']:<4} t={e['at'] - entries[0]['at']:8.2f}s  {e['method']:<6} {e['path']}"
        f"{'?' + '&'.join(f'{k}={v}' for k, v in e['query'].items()) if e['query'] else ''}"
        f"  -> {e['status']}{'  [fault ' + e['fault'] + ']' if e['fault'] else ''}"
        for e in entries
    )


class Videomock:
    """A simulator as a test sees it.

    Args:
        server: The running simulator.

    Attributes:
        server: The running simulator (``ServerThread``).
    """

    def __init__(self, server: ServerThread) -> None:
        self.server = server

    # --- where and how to connect ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the gateway dialect's paths start with ``/v1/video/``)."""
        return self.server.base_url

    @property
    def openai_base_url(self) -> str:
        """``base_url + "/v1"``, the ``base_url`` the openai SDK and LiteLLM expect."""
        return self.server.base_url + "/v1"

    @property
    def api_key(self) -> str:
        """A key the simulator accepts."""
        return self.server.api_key

    # --- controls -------------------------------------------------------------------------------

    def advance(self, seconds: float) -> float:
        """Move the simulator's clock forward by ``seconds`` (simulated); returns the new time (unix seconds)."""
        return float(self.server.control.advance(seconds)["now"])

    def now(self) -> float:
        """The simulator's current time, in unix seconds."""
        return float(self.server.control.clock_state()["now"])

    def next_tasks(self, scenario: str, count: int = 1) -> None:
        """Make the next ``count`` new tasks follow ``scenario`` (e.g. ``content_policy``, ``stall``)."""
        self.server.control.enqueue(scenario, count)

    def add_scenario(self, name: str, **script: Any) -> None:
        """Add a scripted lifecycle, e.g. ``add_scenario("late", fail_at=90, error="timeout")``."""
        self.server.control.add_scenario(name, script)

    def add_fault(self, spec: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Add a fault rule (see ``mockserver.faults``); returns it, with its ``id``."""
        return dict(self.server.control.add_fault({**(spec or {}), **fields}))

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.server.control.clear_faults()

    def tasks(self) -> list[dict[str, Any]]:
        """Every task, inspected."""
        return list(self.server.control.tasks())

    def task(self, task_id: str) -> dict[str, Any]:
        """One task, inspected (status, progress, plan, scenario …)."""
        return dict(self.server.control.task(task_id))

    def force(self, task_id: str, outcome: str, error: str = "internal") -> dict[str, Any]:
        """End a task now: ``succeed``, ``fail`` or ``expire``."""
        return dict(self.server.control.force(task_id, outcome, error=error))

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        """Recorded exchanges, filtered by method, path (prefix), operation, task_id, status, since."""
        return list(self.server.control.entries(**filters))

    def har(self, **filters: Any) -> dict[str, Any]:
        """Recorded exchanges as a HAR 1.2 log."""
        return dict(self.server.control.har(self.base_url, **filters))

    def server_errors(self) -> list[str]:
        """Tracebacks of errors raised inside the simulator since the last reset."""
        return list(self.server.errors)

    # --- assertions -----------------------------------------------------------------------------

    def polls(self, task_id: str) -> list[dict[str, Any]]:
        """The status reads of a task, in either dialect."""
        return [e for e in self.journal(task_id=task_id, method="GET")
                if e["operation"] in ("gateway:query_task", "openai:retrieve_video")]

    def poll_gaps(self, task_id: str) -> list[float]:
        """Simulated seconds between consecutive status reads of a task."""
        times = [e["at"] for e in self.polls(task_id)]
        return [round(later - earlier, 6) for earlier, later in itertools.pairwise(times)]

    def assert_polled(self, task_id: str, *, times: int | None = None, at_least: int | None = None,
                      at_most: int | None = None) -> None:
        """Assert how many times a task's status was read.

        Raises:
            VideomockAssertionError: the count is off; the message lists the task's exchanges.
        """
        count = len(self.polls(task_id))
        wrong = ((times is not None and count != times) or (at_least is not None and count < at_least)
                 or (at_most is not None and count > at_most))
        if wrong:
            wanted = " and ".join(f"{name} {value}" for name, value in
                                  (("exactly", times), ("at least", at_least), ("at most", at_most))
                                  if value is not None)
            raise VideomockAssertionError(f"task {task_id} was polled {count} times, expected {wanted}:\n"
                                          + _lines(self.journal(task_id=task_id)))

    def assert_poll_interval(self, task_id: str, *, at_least: float) -> None:
        """Assert every gap between status reads of a task is at least ``at_least`` simulated seconds.

        Raises:
            VideomockAssertionError: a gap is shorter; the message lists the gaps and exchanges.
        """
        gaps = self.poll_gaps(task_id)
        short = [g for g in gaps if g < at_least]
        if short:
            raise VideomockAssertionError(
                f"task {task_id}: {len(short)} of {len(gaps)} polls came sooner than {at_least}s "
                f"(gaps: {', '.join(f'{g:.2f}' for g in gaps)}):\n" + _lines(self.polls(task_id)))

    def assert_no_requests(self, **filters: Any) -> None:
        """Assert no request matching ``filters`` (all requests when none) was made.

        Raises:
            VideomockAssertionError: some were; the message lists them.
        """
        found = self.journal(**filters)
        if found:
            raise VideomockAssertionError(f"expected no requests{' matching ' + str(filters) if filters else ''}, "
                                          f"got {len(found)}:\n" + _lines(found))

    def assert_download_used_range(self, task_id: str) -> None:
        """Assert at least one download of the task's media sent a ``Range`` header (a resumed download).

        Raises:
            VideomockAssertionError: none did; the message lists the task's downloads.
        """
        downloads = [e for e in self.journal(task_id=task_id)
                     if e["operation"] in ("media:serve_media", "openai:retrieve_video_content")]
        if not any("Range" in e["request_headers"] for e in downloads):
            raise VideomockAssertionError(f"no download of task {task_id} used Range:\n" + _lines(downloads))
