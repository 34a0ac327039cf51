"""Shared fixtures: a real simulator on 127.0.0.1, port 0, in a background thread."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mockserver.server import ServerThread

pytest_plugins = ["pytester"]

# Every simulator the suite starts (ServerThread, the plugin's fixtures, `videomock serve` in a
# subprocess) checks its own responses against openapi/videomock.yaml: drift answers 500 and fails the test.
os.environ.setdefault("VIDEOMOCK_VALIDATE_RESPONSES", "1")
# Hypothesis (schemathesis, property tests) keeps its caches outside the checkout: no files left in the repo.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "videomock-hypothesis"))


class Client(requests.Session):
    """A requests session bound to one simulator: relative paths, the API key sent by default."""

    def __init__(self, server: ServerThread) -> None:
        super().__init__()
        self.server = server
        self.headers["Authorization"] = f"Bearer {server.api_key}"

    def request(self, method: str, url: str, *args, **kwargs):  # type: ignore[override]
        if url.startswith("/"):
            url = self.server.base_url + url
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def server() -> Iterator[ServerThread]:
    """A fresh simulator with a manual clock (advance it with ``server.clock.advance(seconds)``)."""
    with ServerThread(manual_clock=True, seed=1234) as running:
        yield running
        assert not running.errors, "the simulator failed while serving this test:\n" + "\n".join(running.errors)


@pytest.fixture
def client(server: ServerThread) -> Iterator[Client]:
    """An authenticated requests session against ``server``."""
    with Client(server) as session:
        yield session
