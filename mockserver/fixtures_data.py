"""Access to the data in the top-level ``fixtures/`` folder (documented examples, scenarios).

``fixtures/`` is data, not an import package. In a source checkout or an editable install it is
found beside the packages; a wheel carries a copy as ``mockserver/_fixtures``.
"""

from __future__ import annotations

import dataclasses
import math
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from mockserver import catalog
from mockserver.backend import VideoBackend


def fixtures_dir() -> Path:
    """The folder holding the fixture data.

    Raises:
        FileNotFoundError: neither a checkout's ``fixtures/`` nor the wheel's copy exists.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "_fixtures", here.parent / "fixtures"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("videomock's fixtures/ data folder was not found")


@cache
def load(relative: str) -> Any:
    """Parse a YAML (or JSON) file under ``fixtures/``, e.g. ``seeds/gateway_examples.yaml``."""
    with (fixtures_dir() / relative).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def preload_documented_tasks(backend: VideoBackend) -> list[str]:
    """Store the seeds' documented task IDs as tasks that have already succeeded and never expire.

    Their MP4 is padded to the documented ``size`` (15,728,640 bytes in seeds 000-002).

    With them, the seeds' query and download lines (``video_69095b4ce0048190893a01510c0c98b0``,
    ``video_xxx``) answer as documented against a fresh simulator.

    Returns:
        The preloaded task IDs.
    """
    ids = []
    for entry in load("seeds/gateway_examples.yaml")["tasks"]:
        body = entry["body"]
        spec = catalog.lookup(body["model"])
        params, render = catalog.validate(spec, body)
        render = dataclasses.replace(render, target_bytes=entry.get("target_bytes"))
        task = backend.create_task(model=spec.model, family=spec.family, prompt=body["prompt"], params=params,
                                   render=render, dialect="gateway", task_id=entry["task_id"], ttl=math.inf)
        task.created_at -= task.plan.end
        ids.append(task.id)
    return ids
