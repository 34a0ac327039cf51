"""The videomock pytest plugin (registered through the ``pytest11`` entry point ``videomock``).

Fixtures:

- ``videomock_config`` (session): ServerConfig overrides for the shared server; override it in a
  conftest.py to change defaults (keys, profile, speed …). Default: ``{}``.
- ``videomock_server`` (session): one simulator on 127.0.0.1, a free port, in a background thread,
  so sync and async clients both work.
- ``videomock`` (function): a :class:`~mockserver.testing.Videomock` handle on a fresh state (tasks,
  faults, scenario queue and journal reset before each test). An error raised inside the simulator
  during the test fails that test.

Marker: ``@pytest.mark.videomock(scenario=…, speed=…, clock="manual"|"real", not_ready=…, faults=[…],
profile=…, seed=…)``. ``profile`` and ``seed`` need a server of their own, which the fixture starts
for that test; the others apply to the shared server and are undone afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockserver.server import ServerThread
    from mockserver.testing import Videomock

MARKER = ("videomock(scenario=None, speed=None, clock=None, not_ready=None, faults=None, profile=None, seed=None): "
          "configure the videomock fixture for this test")
_OWN_SERVER = ("profile", "seed")
_KNOWN = {"scenario", "speed", "clock", "not_ready", "faults", *_OWN_SERVER}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


@pytest.fixture(scope="session")
def videomock_config() -> dict[str, Any]:
    """ServerConfig overrides for the session's simulator (override this fixture to change them)."""
    return {}


@pytest.fixture(scope="session")
def videomock_server(videomock_config: dict[str, Any]) -> Iterator[ServerThread]:
    """The session's simulator, started once on 127.0.0.1 and a free port."""
    from mockserver.server import ServerThread

    with ServerThread(**videomock_config) as server:
        yield server


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("videomock")
    if marker is None:
        return {}
    if marker.args:
        raise pytest.UsageError("@pytest.mark.videomock takes keyword arguments only")
    unknown = set(marker.kwargs) - _KNOWN
    if unknown:
        raise pytest.UsageError(f"@pytest.mark.videomock: unknown options {sorted(unknown)}; "
                                f"known: {', '.join(sorted(_KNOWN))}")
    return dict(marker.kwargs)


@pytest.fixture
def videomock(request: pytest.FixtureRequest, videomock_server: ServerThread,
              videomock_config: dict[str, Any]) -> Iterator[Videomock]:
    """A fresh simulator state for one test, configured by the ``videomock`` marker."""
    from mockserver.server import ServerThread
    from mockserver.testing import Videomock

    options = _options(request)
    own = {k: options[k] for k in _OWN_SERVER if k in options}
    server = ServerThread(**{**videomock_config, **own}).start() if own else videomock_server
    control = server.control
    clock_before = control.clock_state()
    scenarios = server.backend.scenarios
    default_before, not_ready_before = scenarios.default, scenarios.not_ready
    try:
        if not own:
            control.reset()
            server.errors.clear()
        if options.get("clock") is not None:
            if options["clock"] not in ("manual", "real"):
                raise pytest.UsageError("@pytest.mark.videomock(clock=…) takes 'manual' or 'real'")
            control.set_speed(clock_before["speed"], manual=options["clock"] == "manual")
        if options.get("speed") is not None:
            control.set_speed(float(options["speed"]))
        if options.get("scenario") is not None:
            scenarios.check(options["scenario"])
            scenarios.default = options["scenario"]
        if options.get("not_ready") is not None:
            scenarios.not_ready = str(options["not_ready"])
        for spec in options.get("faults") or ():
            control.add_fault(spec)
        handle = Videomock(server)
        yield handle
        errors = handle.server_errors()
        if errors:
            pytest.fail("the videomock simulator failed while serving this test:\n" + "\n".join(errors),
                        pytrace=False)
    finally:
        if own:
            server.stop()
        else:
            scenarios.default, scenarios.not_ready = default_before, not_ready_before
            control.set_speed(clock_before["speed"], manual=clock_before["manual"])
