"""schemathesis against real simulators on 127.0.0.1, with the contract (openapi/videomock.yaml).

Every operation is fuzzed with schemathesis' standard checks (server errors, status codes, content
types, response schemas and headers, positive and negative data, auth, unsupported methods), and the
stateful workflows follow the contract's links (create → retrieve → content, remix, delete; submit →
query → download; one task across both dialects). The simulators validate their own responses too
(tests/conftest.py turns that on), so a drift is caught from both sides; any error recorded inside a
simulator fails the module.

Two simulators: the dialects' one completes every task within a simulated second at 10,000 times
real time, so a workflow finds its video ready; the control API is fuzzed on its own simulator,
whose clock, fault rules and scenarios the fuzzing is free to wreck. A fixed seed keeps CI runs
reproducible; ``VIDEOMOCK_FUZZ_EXAMPLES`` and ``VIDEOMOCK_FUZZ_SEED`` make a longer or another local hunt.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from mockserver.config import DEFAULT_API_KEY
from mockserver.server import ServerThread

CONTRACT = Path(__file__).resolve().parents[1] / "openapi" / "videomock.yaml"
EXAMPLES = int(os.environ.get("VIDEOMOCK_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("VIDEOMOCK_FUZZ_SEED", "20261122"))

CONFIG = SchemathesisConfig.from_dict({
    "seed": SEED,
    "auth": {"openapi": {"bearerAuth": {"bearer": DEFAULT_API_KEY}}},
    "generation": {"max-examples": EXAMPLES, "database": "none"},
    # The workflows follow the contract's own links, not links schemathesis infers from names: an
    # inferred DELETE /v1/videos/{id} after a gateway submit makes its resource checks misread the
    # 404 that follows on /v1/video/generations/{id} (one task, two paths) as a lost resource.
    "phases": {"stateful": {"max-steps": 12, "inference": {"algorithms": []}}},
})
SCHEMA = schemathesis.openapi.from_path(CONTRACT, config=CONFIG)
API = SCHEMA.exclude(path_regex="^/_videomock/")
CONTROL = SCHEMA.include(path_regex="^/_videomock/")

#: Every task reaches its end within the one simulated second it spends "submitted".
INSTANT = {"models": {"*": {"queued": 0, "generating": 0}}}


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """One keep-alive session, blind to proxy settings in the environment (loopback only)."""
    with requests.Session() as shared:
        shared.trust_env = False
        yield shared


def _serve(**overrides: object) -> Iterator[ServerThread]:
    with ServerThread(seed=SEED, **overrides) as server:
        yield server
        assert not server.errors, "the simulator failed while fuzzed:\n" + "\n".join(server.errors)


@pytest.fixture(scope="module")
def api_server() -> Iterator[ServerThread]:
    """The dialects' simulator: a fast clock, tasks that finish at once, videos that never expire."""
    yield from _serve(speed=10_000.0, scenarios=INSTANT, ttl=1e9)


@pytest.fixture(scope="module")
def control_server() -> Iterator[ServerThread]:
    """A simulator for the control API alone (fuzzing it adds fault rules, stops the clock, resets)."""
    yield from _serve()


@API.parametrize()
def test_api_operation(case: schemathesis.Case, api_server: ServerThread, session: requests.Session) -> None:
    case.call_and_validate(base_url=api_server.base_url, session=session)


@CONTROL.parametrize()
def test_control_operation(case: schemathesis.Case, control_server: ServerThread,
                           session: requests.Session) -> None:
    case.call_and_validate(base_url=control_server.base_url, session=session)


#: The workflows' steps that must be reached with a 2xx answer (the links of the contract).
WORKFLOW_STEPS = ("POST /v1/videos", "GET /v1/videos/{video_id}", "GET /v1/videos/{video_id}/content",
                  "POST /v1/videos/{video_id}/remix", "DELETE /v1/videos/{video_id}", "POST /v1/video/generations",
                  "GET /v1/video/generations/{task_id}")


def test_stateful_workflows(api_server: ServerThread, session: requests.Session) -> None:
    base_url = api_server.base_url
    answered: Counter[tuple[str, int]] = Counter()

    class Workflows(API.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
            return {"base_url": base_url, "session": session}

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            answered[case.operation.label, response.status_code] += 1

    Workflows.run(settings=settings(max_examples=EXAMPLES, stateful_step_count=12, deadline=None, database=None,
                                    suppress_health_check=list(HealthCheck)))
    succeeded = {label for (label, status), _ in answered.items() if 200 <= status < 300}
    assert set(WORKFLOW_STEPS) <= succeeded, f"steps never reached with a 2xx: {set(WORKFLOW_STEPS) - succeeded}"
    # submit → query → download: followed (a Sora 2 task downloads; the others answer 404, documented).
    assert any(label == "GET /v1/video/generations/download" and status != 401 for label, status in answered)
