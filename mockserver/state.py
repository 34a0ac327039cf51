"""Persistence of the task store in SQLite: ``videomock serve --state FILE`` (issue 9).

What the file keeps, so a restart — or a kill -9 — loses nothing that was acknowledged:

- every task (model, prompt, params, render, plan, submission time, scenario, …), written and
  committed before the response that acknowledges it is sent (:func:`persist_middleware`: every
  request that is not a GET/HEAD, or that touched a task, commits before it answers);
- the clock: its simulated time, the real time at which it was read, its speed and whether it was
  manual. A restart resumes **as if the simulator had kept running while it was down**: the
  simulated time at the last write plus the real seconds since then times the speed at that time
  (a manual clock resumes at exactly the simulated time it had). Tasks therefore are where the
  clock says they should be, and the clock never runs backwards;
- the ID sequence: a counter of starts (``epoch``). The first start with a file draws IDs from the
  configured seed as without a file; each later start draws from ``videomock:<seed>:<epoch>`` (or
  from the OS's randomness without a seed), so a restarted simulator never repeats the IDs of an
  earlier run, not even those of deleted or evicted tasks.

The secret that signs video URLs is kept too, so a URL handed out before a restart still works.
Not kept: fault rules, the scenario queue, the journal and the media cache. The documented example
tasks are preloaded at each start; a saved task with the same ID replaces the preloaded one.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a commit survives the process being killed
(it is in the OS before the response goes out), though not a power cut in the same instant.
Writes made through the Python API rather than HTTP (``ServerThread.backend``) are saved by the
housekeeping task within a second (see ``mockserver.limits``).
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from mockserver.backend import Task, VideoBackend
from mockserver.catalog import RenderSpec
from mockserver.clock import Clock
from mockserver.errors import ApiError
from mockserver.keys import BACKEND
from mockserver.lifecycle import Phase, Plan, Status, TaskError
from mockserver.pipeline import render_error

log = logging.getLogger("videomock")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Version of the file's layout; a file of another version is refused rather than misread.
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_seq ON tasks (seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else value


def _number(value: float | None) -> float:
    return math.inf if value is None else float(value)


def encode_task(task: Task) -> bytes:
    """A task as one JSON row (``math.inf`` written as null)."""
    plan, render = task.plan, task.render
    return orjson.dumps({
        "model": task.model, "family": task.family, "prompt": task.prompt, "params": task.params,
        "render": [render.width, render.height, render.seconds, render.fps, render.audio, render.target_bytes],
        "created_at": task.created_at, "dialect": task.dialect, "remixed_from": task.remixed_from_video_id,
        "extra": task.extra,
        "plan": {"phases": [[p.status.value, _finite(p.seconds), p.progress[0], p.progress[1]] for p in plan.phases],
                 "error": None if plan.error is None else [plan.error.code, plan.error.message],
                 "ttl": _finite(plan.ttl)},
    })


def decode_task(task_id: str, data: bytes, backend: VideoBackend) -> Task:
    """The task a row holds; its plan and render spec shared with equal ones already in ``backend``.

    Raises:
        ValueError: the row is not a task this version wrote.
    """
    row = orjson.loads(data)
    plan = row["plan"]
    phases = tuple(Phase(Status(status), _number(seconds), (low, high))
                   for status, seconds, low, high in plan["phases"])
    error = None if plan["error"] is None else TaskError(*plan["error"])
    return Task(
        id=task_id, model=row["model"], family=row["family"], prompt=row["prompt"], params=row["params"],
        render=backend.share(RenderSpec(*row["render"])), created_at=row["created_at"],
        plan=backend.share(Plan(phases, error, _number(plan["ttl"]))), dialect=row["dialect"],
        remixed_from_video_id=row["remixed_from"], extra=row["extra"],
    )


class StateFile:
    """One simulator's SQLite state file (see the module docstring).

    Args:
        path: The file; created when missing.

    Raises:
        ValueError: the file was written by an incompatible version, or is not a state file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path} is not a videomock state file: {exc}") from None
        version = self._meta("schema")
        if version is None:
            self._put_meta("schema", SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            raise ValueError(f"{self.path} has state layout {version}; this videomock reads {SCHEMA_VERSION}")
        (last,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM tasks").fetchone()
        self._seq = int(last)
        self._backend: VideoBackend | None = None
        self._clock: Clock | None = None
        self.epoch = 0

    def _meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def _put_meta(self, key: str, value: Any) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
                         "excluded.value", (key, orjson.dumps(value).decode()))

    def secret(self, fresh: bytes) -> bytes:
        """The secret that signs video URLs: the saved one, else ``fresh`` (saved now), so URLs outlive restarts."""
        saved = self._meta("url_secret")
        if saved is not None:
            return bytes.fromhex(saved)
        self._put_meta("url_secret", fresh.hex())
        return fresh

    def resume_time(self, wall: float | None = None) -> float | None:
        """The simulated unix time to resume at, in seconds, or None for a file without a clock yet.

        Args:
            wall: The real unix time now, in seconds (``time.time()`` when None).
        """
        saved = self._meta("clock")
        if saved is None:
            return None
        if saved["manual"]:
            return float(saved["now"])
        wall = time.time() if wall is None else wall
        return float(saved["now"]) + max(0.0, wall - float(saved["wall"])) * float(saved["speed"])

    def attach(self, backend: VideoBackend, clock: Clock, seed: int | None) -> int:
        """Load the saved tasks into ``backend``, continue the ID sequence, and save changes from now on.

        Call it after the documented examples were preloaded: a saved task with the same ID replaces
        the preloaded one. Counts this start (``epoch``) and commits at once.

        Args:
            backend: The fresh backend.
            clock: The clock (created at :meth:`resume_time`).
            seed: The configured seed, or None.

        Returns:
            How many tasks were loaded.
        """
        self._backend, self._clock = backend, clock
        self.epoch = int(self._meta("epoch") or 0) + 1
        if self.epoch > 1:
            backend.reseed(None if seed is None else f"videomock:{seed}:{self.epoch}")
        loaded = 0
        for task_id, data in self._db.execute("SELECT id, data FROM tasks ORDER BY seq"):
            try:
                backend.restore(decode_task(task_id, data, backend))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("state file %s: skipping unreadable task %s: %s", self.path, task_id, exc)
                continue
            loaded += 1
        backend.touched = {}
        with self._db:
            self._db.execute("BEGIN")
            self._put_meta("epoch", self.epoch)
            self._put_clock()
        return loaded

    def _put_clock(self) -> None:
        clock = self._clock
        if clock is not None:
            self._put_meta("clock", {"now": clock.now(), "wall": time.time(), "speed": clock.speed,
                                     "manual": clock.manual})

    def flush(self) -> int:
        """Write every task created, changed or removed since the last flush, and the clock; commit.

        Returns:
            How many task rows were written or deleted.
        """
        backend = self._backend
        if backend is None:
            return 0
        touched = backend.touched or {}
        ids = list(touched)
        touched.clear()
        rows, gone = [], []
        for task_id in ids:
            task = backend.find(task_id)
            if task is None:
                gone.append((task_id,))
            else:
                self._seq += 1
                rows.append((task_id, self._seq, encode_task(task)))
        with self._db:
            self._db.execute("BEGIN")
            if rows:
                self._db.executemany("INSERT INTO tasks (id, seq, data) VALUES (?, ?, ?) ON CONFLICT (id) "
                                     "DO UPDATE SET data = excluded.data", rows)
            if gone:
                self._db.executemany("DELETE FROM tasks WHERE id = ?", gone)
            self._put_clock()
        return len(ids)

    @property
    def pending(self) -> bool:
        """Whether tasks changed since the last flush."""
        return bool(self._backend is not None and self._backend.touched)

    def count(self) -> int:
        """How many tasks the file holds."""
        (count,) = self._db.execute("SELECT COUNT(*) FROM tasks").fetchone()
        return int(count)

    def close(self) -> None:
        """Flush, checkpoint the WAL into the file, and close it."""
        try:
            self.flush()
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._db.close()


#: The app's state file, when it has one.
STATE = web.AppKey("state", StateFile)


@web.middleware
async def persist_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Commit what a request changed before its response is sent (apps with a state file only).

    Runs after the handler on every request that is not GET/HEAD, and on any request that touched
    a task, so an acknowledged submit is on disk before the client sees the acknowledgement. When
    the file cannot be written the client gets 500 ``state_write_failed`` instead of an acknowledgement.
    """
    state = request.app.get(STATE)
    if state is None:
        return await handler(request)
    failure: str | None = None
    try:
        response = await handler(request)
    finally:
        if request.method not in ("GET", "HEAD"):
            # A verb that changes a task in place (the control API's succeed/fail/expire) saves it too.
            info, backend = request.match_info, request.app[BACKEND]
            task_id = info.get("task_id") or info.get("video_id")
            if task_id and backend.find(task_id) is not None:
                backend.touch(task_id)
        if request.method not in ("GET", "HEAD") or state.pending:
            try:
                state.flush()
            except sqlite3.Error as exc:
                log.error("state file %s: could not save: %s", state.path, exc)
                failure = str(exc)
    if failure is not None:
        return render_error(request, ApiError(f"The simulator could not save its state: {failure}", status=500,
                                              code="state_write_failed", type="server_error"))
    return response
