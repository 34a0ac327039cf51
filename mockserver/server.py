"""Running a simulator: in a background thread (tests, the pytest plugin) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from aiohttp import web

from mockserver.app import create_app
from mockserver.backend import VideoBackend
from mockserver.clock import Clock
from mockserver.config import ServerConfig
from mockserver.control import CONTROLLER, Controller
from mockserver.keys import BACKEND, CLOCK, CONFIG, ERRORS
from mockserver.routing import install as install_resolved_routes


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop event loop when uvloop is installed (much faster I/O), else asyncio's default."""
    try:
        import uvloop
    except ImportError:  # e.g. Windows, where uvloop does not exist
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(config: ServerConfig, announce: Callable[[str, int], None]) -> None:
    """Serve ``config`` in the foreground on a fresh (uv)loop until SIGINT or SIGTERM."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(serve_forever(config, announce))


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    config = app[CONFIG]
    # Issue 9: in-flight requests get shutdown_timeout seconds on stop; longer header lines and fields
    # than max_header_bytes get aiohttp's own 400 before any route runs.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=config.shutdown_timeout,
                           max_line_size=config.max_header_bytes, max_field_size=config.max_header_bytes)
    await runner.setup()
    assert runner.server is not None
    install_resolved_routes(runner.server, app)  # before the site accepts a connection
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert server is not None and server.sockets
    return runner, server.sockets[0].getsockname()[1]


class ServerThread:
    """A simulator on its own event loop in a daemon thread, for sync and async clients alike.

    Use as a context manager; ``base_url`` is valid between ``start()`` and ``stop()``.

    Args:
        config: The settings; ``port=0`` (the default here) picks a free port.
        **overrides: ServerConfig fields to replace.
    """

    def __init__(self, config: ServerConfig | None = None, **overrides: Any) -> None:
        overrides.setdefault("port", 0)
        self.app = create_app(config, **overrides)
        self._loop = new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="videomock", daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def host(self) -> str:
        """The bound address."""
        return self.app[CONFIG].host

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_key(self) -> str:
        """The first accepted API key."""
        return self.app[CONFIG].api_keys[0]

    @property
    def clock(self) -> Clock:
        """The simulator's clock (``advance(seconds)`` is safe from any thread)."""
        return self.app[CLOCK]

    @property
    def control(self) -> Controller:
        """The control verbs (see ``mockserver.control.Controller``), run on the server's loop thread."""
        return _ThreadSafe(self, self.app[CONTROLLER])  # type: ignore[return-value]

    @property
    def errors(self) -> list[str]:
        """Tracebacks of unexpected errors inside the simulator's handlers (clear it to start over)."""
        return self.app[ERRORS]

    @property
    def backend(self) -> VideoBackend:
        """The task store and verbs."""
        return self.app[BACKEND]

    def call(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` on the server's loop thread and return its result."""
        future: Future[Any] = Future()

        def run() -> None:
            try:
                future.set_result(function())
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout=30)

    def start(self) -> ServerThread:
        """Start serving; returns self once the port is bound."""
        self._thread.start()
        config = self.app[CONFIG]
        future = asyncio.run_coroutine_threadsafe(_start(self.app, config.host, config.port), self._loop)
        self._runner, self.port = future.result(timeout=30)
        return self

    def stop(self) -> None:
        """Stop serving and end the thread."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _ThreadSafe:
    """Calls a Controller's methods on the server's loop thread, from any thread."""

    def __init__(self, server: ServerThread, controller: Controller) -> None:
        self._server, self._controller = server, controller

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._controller, name)
        if not callable(attribute):
            return attribute
        return lambda *args, **kwargs: self._server.call(lambda: attribute(*args, **kwargs))


async def serve_forever(config: ServerConfig, announce: Callable[[str, int], None]) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly.

    Shutting down stops accepting connections, lets in-flight requests (downloads) finish for up to
    ``config.shutdown_timeout`` seconds, and then saves and closes the state file, if any (issue 9).

    Args:
        config: The settings.
        announce: Called with (host, port) once the socket is bound.
    """
    app = create_app(config)
    runner, port = await _start(app, config.host, config.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    announce(config.host, port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
