"""Run a client program once per scenario against a fresh simulator, and collect what it did.

The contract with the program (also in ``videomock check-client --help``): it is started with the
environment below (the caller's environment plus these), makes **one** video, saves it in
``VIDEOMOCK_OUTPUT_DIR`` and exits 0 if and only if it believes it has the video.

- ``VIDEOMOCK_BASE_URL``: ``http://127.0.0.1:PORT``, without ``/v1`` (gateway dialect:
  ``$VIDEOMOCK_BASE_URL/v1/video/generations``).
- ``VIDEOMOCK_API_KEY``: the Bearer key (a fresh random one per scenario).
- ``OPENAI_BASE_URL``: ``$VIDEOMOCK_BASE_URL/v1``; ``OPENAI_API_KEY``: the same key (the official
  SDKs read both).
- ``VIDEOMOCK_SCENARIO``: the scenario's name, for the program's logs only (a program that changes
  its behaviour on it defeats the run).
- ``VIDEOMOCK_OUTPUT_DIR``: an empty directory; every file the program leaves there is judged as
  a video it saved (any name; sub-directories too).
- ``VIDEOMOCK_SPEED``: simulated seconds per real second (``--speed``). Poll intervals are judged on
  the simulated clock, so a program may divide its poll interval by this to finish sooner; waits
  the server asks for (``Retry-After``) and backoff after 5xx are judged in real seconds and must
  not be divided.
- ``NO_PROXY``: ``127.0.0.1,localhost`` added, so that a configured HTTP proxy does not capture the run.

The program runs in the caller's working directory, in its own process group, with stdin closed;
it is killed (with every process of its group) after ``timeout`` real seconds.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from conformance.client.scenarios import SCENARIOS, ClientScenario
from conformance.media import probe_mp4
from mockserver.journal import REDACTED
from mockserver.server import ServerThread

#: Bytes of stdout and stderr kept per run (the end of each).
OUTPUT_TAIL = 4000
#: Largest saved file read for judging, in bytes (larger files are judged by their first bytes).
MAX_FILE_BYTES = 512 * 1024 * 1024
#: Exchanges the journal of one run keeps: room for a program that polls every millisecond for minutes.
JOURNAL_LIMIT = 200_000


@dataclass(slots=True)
class SavedFile:
    """A file the program left in ``VIDEOMOCK_OUTPUT_DIR``.

    Attributes:
        name: Path relative to the output directory.
        size: Size in bytes.
        kind: ``video`` (the video a task served, or another decodable MP4), ``partial_video`` (the
            start of a served video, or an MP4 that does not decode), ``json``, ``empty`` or ``other``.
        detail: What it is, in a few words (e.g. the video's task, or the JSON's start).
        data: Its bytes.
    """

    name: str
    size: int
    kind: str
    detail: str
    data: bytes = field(repr=False)


@dataclass(slots=True)
class ScenarioRun:
    """One run of the program under one scenario, and what it left behind.

    Attributes:
        scenario: The scenario.
        command: The program's command line.
        speed: Simulated seconds per real second.
        timeout: Real seconds the program was given.
        base_url: The simulator's base URL during the run.
        exit_code: The program's exit status (negative: killed by that signal), None when killed at the timeout.
        timed_out: Whether it was killed at the timeout.
        seconds: Real seconds it ran.
        stdout: The end of its standard output.
        stderr: The end of its standard error.
        entries: The simulator's journal of the run (``Entry.as_dict`` dicts, oldest first).
        tasks: The tasks it created (``Controller.task`` dicts).
        videos: The video each succeeded, unexpired task serves, by task id.
        files: The files it saved.
        server_errors: Unexpected errors inside the simulator during the run (should be empty).
    """

    scenario: ClientScenario
    command: tuple[str, ...]
    speed: float
    timeout: float
    base_url: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    seconds: float = 0.0
    stdout: str = ""
    stderr: str = ""
    entries: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    videos: dict[str, bytes] = field(default_factory=dict, repr=False)
    files: list[SavedFile] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)

    def ops(self, *operations: str) -> list[dict[str, Any]]:
        """Journal entries of these route names, oldest first."""
        return [e for e in self.entries if e["operation"] in operations]

    def task(self, task_id: str | None) -> dict[str, Any] | None:
        """The task with this id, or None."""
        return next((t for t in self.tasks if t["id"] == task_id), None)

    def completed_at(self, task_id: str | None) -> float | None:
        """When the task reached its terminal status (simulated unix seconds), or None (never, unknown)."""
        task = self.task(task_id)
        return None if task is None else task["completed_at"]

    def after(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        """The program's next request after ``entry``, or None."""
        return next((e for e in self.entries if e["seq"] > entry["seq"]), None)

    @property
    def videos_saved(self) -> list[SavedFile]:
        """The saved files that are playable videos."""
        return [f for f in self.files if f.kind == "video"]

    def describe(self) -> dict[str, Any]:
        """The run as JSON-ready data for reports (no file contents, no key)."""
        return {
            "scenario": self.scenario.name, "summary": self.scenario.summary, "exit_code": self.exit_code,
            "timed_out": self.timed_out, "seconds": round(self.seconds, 3), "requests": len(self.entries),
            "tasks": [{"id": t["id"], "model": t["model"], "dialect": t["dialect"], "status": t["status"]}
                      for t in self.tasks],
            "files": [{"name": f.name, "size": f.size, "kind": f.kind, "detail": f.detail} for f in self.files],
            "stdout_tail": self.stdout[-1000:], "stderr_tail": self.stderr[-1000:],
            "server_errors": self.server_errors,
        }


class CommandError(ValueError):
    """The program cannot be started (not found, not executable)."""


def check_command(command: tuple[str, ...] | list[str]) -> None:
    """Refuse a command that cannot be started, before any scenario runs.

    Raises:
        CommandError: empty, or the program is neither on PATH nor an executable file.
    """
    if not command:
        raise CommandError("no command given: videomock check-client [OPTIONS] -- CMD ARGS…")
    program = command[0]
    if shutil.which(program) is None:
        raise CommandError(f"cannot run {program!r}: not found on PATH, or not an executable file")


def _tail(handle: IO[bytes]) -> str:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - OUTPUT_TAIL))
    return handle.read().decode("utf-8", "replace")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the program and every process of its group (it was started in a session of its own)."""
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:  # pragma: no cover - no process groups
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass


def classify(data: bytes, videos: dict[str, bytes]) -> tuple[str, str]:
    """What a saved file is: (kind, detail); see :class:`SavedFile`."""
    if not data:
        return "empty", "0 bytes"
    for task_id, video in videos.items():
        if data == video:
            return "video", f"the video of {task_id}"
        if video.startswith(data):
            return "partial_video", f"the first {len(data)} of the {len(video)} bytes of the video of {task_id}"
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        parsed = None
    else:
        return "json", "JSON: " + json.dumps(parsed)[:300]
    try:
        info = probe_mp4(data)
    except Exception:  # PyAV raises its own errors for anything that is not a video
        if data[4:8] == b"ftyp":
            return "partial_video", f"an MP4 that does not decode ({len(data)} bytes)"
        return "other", f"not a video: {data[:60]!r}"
    return "video", f"an MP4 of {info.width}x{info.height}, {info.seconds:.1f} s (not byte-identical to a served video)"


def _saved_files(root: Path, videos: dict[str, bytes]) -> list[SavedFile]:
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES)
        kind, detail = classify(data, videos)
        files.append(SavedFile(str(path.relative_to(root)), path.stat().st_size, kind, detail, data))
    return files


def _served_videos(server: ServerThread, tasks: list[dict[str, Any]]) -> dict[str, bytes]:
    """The video of each succeeded, unexpired task, fetched after the run (faults off; not judged)."""
    server.control.clear_faults()
    videos = {}
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {server.api_key}"},
                      timeout=60, trust_env=False) as http:
        for task in tasks:
            if task["status"] == "succeeded" and not task["expired"]:
                response = http.get(f"/v1/videos/{task['id']}/content")
                if response.status_code == 200:
                    videos[task["id"]] = response.content
    return videos


def run_scenario(command: tuple[str, ...], scenario: ClientScenario, *, speed: float = 1.0,
                 timeout: float = 240.0, cwd: str | None = None) -> ScenarioRun:
    """Run the program once under ``scenario`` on a fresh simulator and collect the evidence.

    Args:
        command: The program and its arguments.
        scenario: The scenario.
        speed: Simulated seconds per real second of the simulator's clock.
        timeout: Real seconds before the program (and its process group) is killed.
        cwd: Working directory of the program (default: the caller's).

    Returns:
        The run, with the journal, the tasks, the served videos and the saved files.
    """
    run = ScenarioRun(scenario, tuple(command), speed, timeout)
    key = "sk-videomock-" + secrets.token_hex(12)
    output = Path(tempfile.mkdtemp(prefix=f"videomock-client-{scenario.name}-"))
    try:
        with ServerThread(speed=speed, seed=8, examples=False, api_keys=(key,), journal_limit=JOURNAL_LIMIT,
                          scenarios=scenario.scenario_file) as server:
            run.base_url = server.base_url
            no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
            env = {**os.environ, "VIDEOMOCK_BASE_URL": server.base_url, "VIDEOMOCK_API_KEY": key,
                   "OPENAI_BASE_URL": server.base_url + "/v1", "OPENAI_API_KEY": key,
                   "VIDEOMOCK_SCENARIO": scenario.name, "VIDEOMOCK_OUTPUT_DIR": str(output),
                   "VIDEOMOCK_SPEED": f"{speed:g}", "NO_PROXY": no_proxy, "no_proxy": no_proxy}
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                started = time.monotonic()
                process = subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                           stderr=err, start_new_session=os.name == "posix")
                try:
                    run.exit_code = process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    run.timed_out = True
                    _kill_group(process)
                    process.wait()
                run.seconds = time.monotonic() - started
                _kill_group(process)  # whatever it left running in the background
                # The key is a throwaway, but no report shows a key (conformance.report).
                run.stdout, run.stderr = (_tail(out).replace(key, REDACTED), _tail(err).replace(key, REDACTED))
            run.entries = server.control.entries()
            run.tasks = server.control.tasks()
            run.videos = _served_videos(server, run.tasks)
            run.server_errors = list(server.errors)
        run.files = _saved_files(output, run.videos)
    finally:
        shutil.rmtree(output, ignore_errors=True)
    return run


def run_all(command: tuple[str, ...], names: list[str] | tuple[str, ...] | None = None, *, speed: float = 1.0,
            timeout: float = 240.0, jobs: int = 0, cwd: str | None = None) -> list[ScenarioRun]:
    """Run the program under each scenario, ``jobs`` at a time (0: all at once); in scenario order.

    Raises:
        CommandError: the program cannot be started.
        KeyError: an unknown scenario name.
    """
    check_command(command)
    scenarios = [SCENARIOS[name] for name in (names or list(SCENARIOS))]
    with ThreadPoolExecutor(max_workers=jobs or len(scenarios), thread_name_prefix="check-client") as pool:
        return list(pool.map(lambda s: run_scenario(command, s, speed=speed, timeout=timeout, cwd=cwd), scenarios))
