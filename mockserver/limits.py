"""Staying up under load and abuse (issue 9): the housekeeping task and aiohttp's own limits.

The request-body deadline (408 when a body trickles in for longer than ``ServerConfig.body_timeout``
seconds) is a layer of the request pipeline: ``mockserver.pipeline``.

- :func:`housekeeping`: an app cleanup context that, once a second, evicts tasks that are due
  (at most :data:`EVICT_PER_TICK` at a time), every :data:`SWEEP_SECONDS` rebuilds the eviction
  schedule from every task, and saves the state file; on shutdown it saves and closes the state file.

The other limits are aiohttp's, configured in ``mockserver.app`` and ``mockserver.server``: body
size (``client_max_size``, 413), form parts (``client_max_fields``, 413), header line and field
size (``max_line_size``/``max_field_size``: aiohttp answers 400 itself, before any route runs).
aiohttp logs such a request with the start of the offending line, which may be an ``Authorization``
header: :class:`HideRequestContent` keeps that out of the log (API keys never reach a log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from mockserver.keys import BACKEND
from mockserver.state import STATE

log = logging.getLogger("videomock")

#: How often housekeeping runs, in real seconds.
TICK_SECONDS = 1.0
#: How often the eviction schedule is rebuilt from every task, in real seconds (it costs about
#: 1 ms per 1 000 tasks; it catches plans the control API replaced).
SWEEP_SECONDS = 300.0
#: Most tasks evicted per housekeeping tick (each costs a few microseconds of the event loop).
EVICT_PER_TICK = 5_000


class HideRequestContent(logging.Filter):
    """Log aiohttp's refusals of malformed requests by kind only, without the request bytes it quotes."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = f"{record.msg}: {type(error).__name__} (HTTP {error.code}; request content not logged)"
            record.exc_info, record.exc_text = None, None
        return True


logging.getLogger("aiohttp.server").addFilter(HideRequestContent())


async def _tick(app: web.Application) -> None:
    backend, loop = app[BACKEND], asyncio.get_running_loop()
    swept = loop.time()
    while True:
        await asyncio.sleep(TICK_SECONDS)
        try:
            if loop.time() - swept >= SWEEP_SECONDS:
                swept = loop.time()
                backend.sweep(limit=EVICT_PER_TICK)
            else:
                backend.evict(limit=EVICT_PER_TICK)
            state = app.get(STATE)
            if state is not None:
                state.flush()
        except Exception:  # keep housekeeping alive whatever one round hit
            log.exception("housekeeping failed")


async def housekeeping(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: evict and save once a second while the app runs; save and close the state file at exit."""
    task = asyncio.create_task(_tick(app), name="videomock-housekeeping")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    state = app.get(STATE)
    if state is not None:
        state.close()
