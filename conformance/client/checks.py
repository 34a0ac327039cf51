"""Client checks: each a registered function named for the property a client program must have.

A check looks at one :class:`~conformance.client.runner.ScenarioRun` (the simulator's journal, the
tasks, the program's exit status and saved files) and raises
:class:`~conformance.failures.Finding` with evidence when the program lacks the property, or
:class:`~conformance.failures.NotApplicable` when the run gives it nothing to judge. Each check
names the scenarios it applies to; :mod:`conformance.client.judge` runs it on each of them.

Clocks. Journal entries carry ``at`` (simulated seconds) and ``wall`` (real seconds). The poll
interval belongs to the task's life, which the simulator compresses by ``--speed``: it is judged on
the simulated clock, so a program that divides its interval by ``VIDEOMOCK_SPEED`` is judged as if
it ran at full length, and at ``--speed 1`` both clocks agree. ``Retry-After`` is a number of real
seconds (RFC 9110 §10.2.3) and backoff protects a struggling server in real time: both are judged on
the real clock, whatever the speed. Gaps are measured between the arrivals of two requests; the
second is sent after the first one's answer arrived, so a gap never undercuts the program's own wait.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any
from urllib.parse import urlencode

from conformance.client.runner import SavedFile, ScenarioRun
from conformance.client.scenarios import CREATE_OPS, DOWNLOAD_OPS, RANGE_OPS, SCENARIOS, STATUS_OPS
from conformance.failures import Finding, NotApplicable

ClientCheckFunction = Callable[[ScenarioRun], None]

#: Shortest gap between status reads of a gateway-dialect task, in simulated seconds: the lower end
#: of the resellers' "Recommended poll interval 3-5 s" (dialects.md §1.6, ai-nebula and mixroute query
#: docs); seed 003's example sleeps 5 s.
GATEWAY_POLL_SECONDS = 3.0
#: Poll interval of the OpenAI dialect when an answer carries no ``openai-poll-after-ms`` hint, in
#: simulated seconds: the official SDK's ``poll()`` default of 1000 ms (dialects.md §2.5). With the
#: hint (the simulator sends it while a video is not terminal) the hint is the interval.
OPENAI_POLL_SECONDS = 1.0
#: A gap may fall this fraction short of the interval (timer rounding, fixed-rate schedulers).
POLL_TOLERANCE = 0.9
#: A wait after ``Retry-After`` may fall this fraction short of it (the header is whole seconds).
RETRY_AFTER_TOLERANCE = 0.9
#: Shortest wait before the next request after a 5xx answer, in real seconds: the official SDK's
#: first retry delay, 0.5 s less its 25 % jitter (dialects.md §2.5 "Backoff runs from 0.5 s to 8 s";
#: openai-python ``_constants.INITIAL_RETRY_DELAY``, ``_base_client._calculate_retry_timeout``).
MIN_BACKOFF_SECONDS = 0.375
#: Status reads of a task tolerated after the one that showed its terminal status.
MAX_READS_AFTER_TERMINAL = 2
#: How many offending exchanges a finding quotes.
MAX_EVIDENCE = 6

ALL = tuple(SCENARIOS)
NOT_READY = ("not-ready-202", "not-ready-json200")
PLAIN = ("happy", "slow", "rate-limited", "flaky-5xx")


@dataclass(frozen=True, slots=True)
class ClientCheck:
    """One check of a client program.

    Attributes:
        id: Stable id, ``client.<property>``.
        statement: The property, in one line.
        source: Where the expected behaviour is documented.
        level: ``MUST`` or ``SHOULD``.
        scenarios: The scenarios it is judged in.
        func: The function; raises Finding or NotApplicable.
    """

    id: str
    statement: str
    source: str
    level: str
    scenarios: tuple[str, ...]
    func: ClientCheckFunction


CLIENT_CHECKS: dict[str, ClientCheck] = {}


def client_check(id: str, statement: str, source: str, *, scenarios: tuple[str, ...] = ALL,
                 level: str = "MUST") -> Callable[[ClientCheckFunction], ClientCheckFunction]:
    """Register a client check under ``id``.

    Raises:
        ValueError: a taken id, a level other than MUST/SHOULD, or an unknown scenario.
    """
    if id in CLIENT_CHECKS:
        raise ValueError(f"duplicate check id {id!r}")
    if level not in ("MUST", "SHOULD"):
        raise ValueError(f"level must be MUST or SHOULD, got {level!r}")
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenarios {sorted(unknown)}")

    def register(func: ClientCheckFunction) -> ClientCheckFunction:
        CLIENT_CHECKS[id] = ClientCheck(id, statement, source, level, scenarios, func)
        return func

    return register


# --- evidence -----------------------------------------------------------------------------------

def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _excerpt(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, dict) and set(body) == {"bytes", "content_type"}:
        return f"<{body['bytes']} bytes of {body['content_type']}>"
    text = body if isinstance(body, str) else json.dumps(body)
    return text[:300]


def exchange(run: ScenarioRun, entry: dict[str, Any], note: str = "") -> dict[str, Any]:
    """One journal entry as report evidence, with its times relative to the run's first request."""
    first = run.entries[0]
    headers = {k: v for k, v in {**entry["request_headers"], **entry["response_headers"]}.items()
               if k.lower() in ("range", "content-range", "content-type", "retry-after", "retry-after-ms",
                                "openai-poll-after-ms")}
    status = entry["status"]
    shown = status if status or entry["fault"] else "file"  # the journal keeps no status for file answers
    timing = f"t={entry['at'] - first['at']:.2f} s simulated, +{entry['wall'] - first['wall']:.3f} s real"
    parts = [f"[{run.scenario.name}] #{entry['seq']} {timing}", note,
             f"fault {entry['fault']}" if entry["fault"] else "", _excerpt(entry["response_body"])]
    query = f"?{urlencode(entry['query'])}" if entry["query"] else ""
    return {"method": entry["method"], "url": run.base_url + entry["path"] + query, "status": shown,
            "content_type": _header(entry["response_headers"], "content-type") or "", "headers": headers,
            "body_excerpt": "; ".join(p for p in parts if p), "seconds": round(entry["duration_ms"] / 1000, 3),
            "scenario": run.scenario.name, "seq": entry["seq"]}


def program(run: ScenarioRun, note: str = "") -> dict[str, Any]:
    """The program's run (exit status, time, output) as report evidence."""
    ended = "killed at the timeout" if run.timed_out else f"exit {run.exit_code}"
    stderr = run.stderr.strip().splitlines()[-3:]
    parts = [f"[{run.scenario.name}] {ended} after {run.seconds:.2f} s real", note,
             "stderr: " + " | ".join(stderr) if stderr else ""]
    return {"method": "RUN", "url": " ".join(run.command), "status": ended, "content_type": "", "headers": {},
            "body_excerpt": "; ".join(p for p in parts if p), "seconds": round(run.seconds, 3),
            "scenario": run.scenario.name}


def saved(run: ScenarioRun, file: SavedFile, note: str = "") -> dict[str, Any]:
    """A saved file as report evidence."""
    parts = [f"[{run.scenario.name}] {file.size} bytes: {file.detail}", note]
    return {"method": "FILE", "url": file.name, "status": file.kind, "content_type": "", "headers": {},
            "body_excerpt": "; ".join(p for p in parts if p), "seconds": 0.0, "scenario": run.scenario.name}


def _ok(entry: dict[str, Any]) -> bool:
    return 200 <= entry["status"] < 300


def _terminal_at(run: ScenarioRun, entry: dict[str, Any]) -> bool:
    done = run.completed_at(entry["task_id"])
    return done is not None and entry["at"] >= done


# --- checks -------------------------------------------------------------------------------------

def documented_interval(run: ScenarioRun, read: dict[str, Any]) -> tuple[float, str]:
    """The poll interval a status read's answer asks for, in simulated seconds, and where it comes from."""
    if read["operation"].startswith("openai:"):
        hint = _header(read["response_headers"], "openai-poll-after-ms")
        if hint is not None and hint.isdigit():
            return int(hint) / 1000 * run.speed, f"its openai-poll-after-ms: {hint} ms real"
        return OPENAI_POLL_SECONDS, "the SDK's default 1000 ms"
    return GATEWAY_POLL_SECONDS, "the recommended 3-5 s"


@client_check("client.polls_no_faster_than_the_documented_interval",
              "After a 'still running' answer, waits at least the documented interval before reading the "
              "task's status again",
              "gateway: dialects.md §1.6 (ai-nebula/mixroute query docs): \"Recommended poll interval 3-5 s\"; "
              "seed 003 example: time.sleep(5). openai: dialects.md §2.5: poll() waits openai-poll-after-ms, "
              "else 1000 ms. Judged on the simulated clock, 10 % tolerance", level="SHOULD")
def polls_no_faster_than_the_documented_interval(run: ScenarioRun) -> None:
    reads = run.ops(*STATUS_OPS)
    if not reads:
        raise NotApplicable("the program read no task status")
    by_task: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for read in reads:
        by_task[read["task_id"]].append(read)
    fast, pairs = [], 0
    for series in by_task.values():
        for before, after in pairwise(series):
            if not _ok(before) or _terminal_at(run, before):
                continue  # after 429/5xx the retry rules apply; after a terminal answer, stops_polling…
            pairs += 1
            interval, why = documented_interval(run, before)
            gap = after["at"] - before["at"]
            if gap < POLL_TOLERANCE * interval:
                fast.append((gap, interval, why, before, after))
    if fast:
        shortest = min(fast, key=lambda item: item[0])
        evidence = []
        for gap, interval, why, before, after in fast[:MAX_EVIDENCE // 2]:
            evidence += [exchange(run, before, f"answered 'still running'; interval {interval:g} s ({why})"),
                         exchange(run, after, f"read again {gap:.2f} s (simulated) later")]
        raise Finding(f"{len(fast)} of {pairs} status reads came sooner than the documented interval after a "
                      f"'still running' answer; the shortest gap was {shortest[0]:.2f} s simulated, "
                      f"{shortest[0] / run.speed:.3f} s real (interval {shortest[1]:g} s: {shortest[2]})", evidence)


def _retry_after(entry: dict[str, Any]) -> float | None:
    """The wait an answer asks for, in real seconds: ``retry-after-ms``, else ``Retry-After`` (the SDK's order)."""
    headers = entry["response_headers"]
    milliseconds, seconds = _header(headers, "retry-after-ms"), _header(headers, "retry-after")
    try:
        if milliseconds is not None:
            return float(milliseconds) / 1000
        if seconds is not None:
            return float(seconds)
    except ValueError:
        return None
    return None


@client_check("client.honours_retry_after",
              "After an answer with Retry-After (or retry-after-ms), sends nothing before that many seconds",
              "RFC 9110 §10.2.3 Retry-After; dialects.md §2.5: the official SDK waits retry-after-ms, else "
              "retry-after. Judged on the real clock, 10 % tolerance", scenarios=("rate-limited",))
def honours_retry_after(run: ScenarioRun) -> None:
    asked = [(e, wait) for e in run.entries if (wait := _retry_after(e)) is not None]
    if not asked:
        raise NotApplicable("no answer carried Retry-After (the program made no request it applies to)")
    early = []
    for entry, wait in asked:
        following = run.after(entry)
        if following is not None and following["wall"] - entry["wall"] < RETRY_AFTER_TOLERANCE * wait:
            early.append((entry, wait, following))
    if early:
        evidence = []
        for entry, wait, following in early[:MAX_EVIDENCE // 2]:
            evidence += [exchange(run, entry, f"asked to wait {wait:g} s"),
                         exchange(run, following, f"sent {following['wall'] - entry['wall']:.3f} s (real) later")]
        raise Finding(f"{len(early)} of {len(asked)} answers with Retry-After were followed by a request before "
                      f"the wait was over", evidence)


@client_check("client.backs_off_after_5xx",
              f"After a 5xx answer, waits at least {MIN_BACKOFF_SECONDS} s before its next request",
              "dialects.md §2.5: the official SDK retries ≥500 with backoff from 0.5 s to 8 s (first retry "
              "0.5 s less 25 % jitter); seed 003: \"Please control your request frequency\". Judged on the real "
              "clock", scenarios=("flaky-5xx",), level="SHOULD")
def backs_off_after_5xx(run: ScenarioRun) -> None:
    errors = [e for e in run.entries if 500 <= e["status"] <= 599]
    if not errors:
        raise NotApplicable("no request of the program got a 5xx answer")
    hasty = []
    for entry in errors:
        following = run.after(entry)
        if following is not None and following["wall"] - entry["wall"] < MIN_BACKOFF_SECONDS:
            hasty.append((entry, following))
    if hasty:
        evidence = []
        for entry, following in hasty[:MAX_EVIDENCE // 2]:
            evidence += [exchange(run, entry),
                         exchange(run, following, f"sent {following['wall'] - entry['wall']:.3f} s (real) later")]
        raise Finding(f"{len(hasty)} of {len(errors)} 5xx answers were followed by another request within "
                      f"{MIN_BACKOFF_SECONDS} s: no backoff", evidence)


@client_check("client.downloads_only_after_completion",
              "Downloads a video only once its task has completed",
              "seed 004: \"Ensure the status is completed before attempting to download\"; seed 003: \"After "
              "submission, you need to poll the task status\"")
def downloads_only_after_completion(run: ScenarioRun) -> None:
    downloads = run.ops(*DOWNLOAD_OPS)
    if not downloads:
        raise NotApplicable("the program downloaded nothing")
    early = []
    for entry in downloads:
        done = run.completed_at(entry["task_id"])
        if run.task(entry["task_id"]) is not None and (done is None or entry["at"] < done):
            early.append((entry, done))
    if early:
        evidence = [exchange(run, entry, "the task had not completed" if done is None else
                             f"{done - entry['at']:.1f} s (simulated) before the task completed")
                    for entry, done in early[:MAX_EVIDENCE]]
        raise Finding(f"{len(early)} of {len(downloads)} downloads were asked for before the task completed",
                      evidence)


@client_check("client.stops_polling_at_a_terminal_status",
              f"Stops reading a task's status once it showed a terminal status (at most "
              f"{MAX_READS_AFTER_TERMINAL} more reads), and finishes instead of running until killed",
              "seed 003 example: returns on \"succeeded\", raises on \"failed\"; dialects.md §2.5: poll() returns "
              "on completed or failed")
def stops_polling_at_a_terminal_status(run: ScenarioRun) -> None:
    reads = run.ops(*STATUS_OPS)
    by_task: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for read in reads:
        if _ok(read) and _terminal_at(run, read):
            by_task[read["task_id"]].append(read)
    problems, evidence = [], []
    for task_id, series in by_task.items():
        if len(series) - 1 > MAX_READS_AFTER_TERMINAL:
            status = (run.task(task_id) or {}).get("status")
            problems.append(f"read the status of {task_id} {len(series) - 1} more times after it showed "
                            f"'{status}'")
            evidence += [exchange(run, series[0], f"first answer with the terminal status '{status}'"),
                         *(exchange(run, r, "read again") for r in series[1:MAX_EVIDENCE - 1])]
    if run.timed_out:
        last = run.entries[-1] if run.entries else None
        if last is not None and last["operation"] in STATUS_OPS:
            ended = _terminal_at(run, last)
            state = "its task had already ended" if ended else "its task was still running"
            problems.append(f"was still polling when killed at the {run.timeout:g} s timeout ({state})")
            if not ended:
                problems[-1] += (f" (the task takes {run.scenario.task_seconds:g} s simulated, "
                                 f"{run.scenario.task_seconds / run.speed:.1f} s real at --speed {run.speed:g}: "
                                 "raise --timeout if the program legitimately waits longer)")
        else:
            problems.append(f"never finished: killed at the {run.timeout:g} s timeout")
        evidence.append(program(run))
    if problems:
        raise Finding("; ".join(problems), evidence)
    if not reads and not run.timed_out:
        raise NotApplicable("the program read no task status")


@client_check("client.reports_a_failed_task_as_failure",
              "Exits non-zero when the task failed or its video expired before it could be downloaded",
              "seed 003 example: elif status == \"failed\": raise Exception(...); seed 004: \"Once expired, videos "
              "cannot be retrieved\"", scenarios=("fails", "expired"))
def reports_a_failed_task_as_failure(run: ScenarioRun) -> None:
    if run.timed_out:
        raise NotApplicable("killed at the timeout before it reported anything (see stops_polling…)")
    if run.exit_code != 0:
        return
    reasons = {"fails": "the task failed", "expired": "the video expired before it could be downloaded"}
    terminal = [e for e in run.ops(*STATUS_OPS, *DOWNLOAD_OPS) if _terminal_at(run, e)][:2]
    raise Finding(f"exited 0 (success) although {reasons.get(run.scenario.name, 'there was no video')}",
                  [*(exchange(run, e) for e in terminal), program(run),
                   *(saved(run, f) for f in run.files[:2])])


def _answer_for(run: ScenarioRun, file: SavedFile) -> dict[str, Any] | None:
    """The journal entry whose JSON answer the program saved as ``file``, if any."""
    try:
        content = json.loads(file.data)
    except ValueError:
        return None
    return next((e for e in reversed(run.entries) if e["response_body"] == content), None)


@client_check("client.saves_only_the_video",
              "Saves only the video: never a 202 body, a JSON error or another non-video answer in its place; "
              "after a 'not ready' answer to a download it fetches the video once it is there",
              "seed 004: \"Check the Content-Type header\", \"Error Response (200 with JSON)\", \"202: Video "
              "generation still in progress\"; dialects.md §2.5: download_content returns any 2xx body unchecked")
def saves_only_the_video(run: ScenarioRun) -> None:
    problems, evidence = [], []
    for file in run.files:
        if file.kind in ("video", "partial_video"):
            continue  # a cut video is judged by resumes_a_cut_download and delivers_the_video
        answer = _answer_for(run, file) if file.kind == "json" else None
        what = f"the {answer['status']} answer to {answer['method']} {answer['path']}" if answer else file.kind
        problems.append(f"saved {what} as {file.name}")
        evidence.append(saved(run, file, "not a video"))
        if answer is not None:
            evidence.append(exchange(run, answer, "the answer it saved"))
    if run.scenario.name in NOT_READY and not run.videos_saved and not problems:
        problems.append("claimed success without saving the video after a 'not ready' answer" if run.exit_code == 0
                        else "did not end with the video after a 'not ready' answer to its download")
        evidence += [*(exchange(run, e) for e in run.ops(*DOWNLOAD_OPS)[:3]), program(run)]
    if problems:
        raise Finding("; ".join(problems), evidence)


@client_check("client.resumes_a_cut_download",
              "When a download is cut, asks for the rest (Range: bytes=N-) where Range is served, or fetches "
              "again where it is not, and ends with the whole video",
              "RFC 9110 §14 (Range requests; the content and media routes answer 206); seed 004: \"verify it's a "
              "valid video file\", \"Check the file size\"", scenarios=("download-cut",), level="SHOULD")
def resumes_a_cut_download(run: ScenarioRun) -> None:
    downloads = run.ops(*DOWNLOAD_OPS)
    cut = next((e for e in downloads if e["fault"] and e["status"] == 0), None)
    if cut is None:
        if not downloads:
            raise Finding("did not download the video", [program(run)])
        raise NotApplicable("no download was cut")
    later = [e for e in downloads if e["seq"] > cut["seq"] and e["task_id"] == cut["task_id"]]
    cut_line = exchange(run, cut, "cut: the connection closed in the middle of the body")
    if not later:
        raise Finding("gave up after the download was cut: no further download", [cut_line, program(run)])

    def asked(entry: dict[str, Any]) -> str:
        return _header(entry["request_headers"], "range") or ""

    ranged = [e for e in later if asked(e).startswith("bytes=") and not asked(e).startswith("bytes=0-")]
    retries = [exchange(run, e, f"Range: {asked(e) or 'none'}") for e in later[:3]]
    if cut["operation"] in RANGE_OPS and not ranged:
        raise Finding("fetched the whole video again from byte 0 instead of asking for the rest with "
                      "Range: bytes=N-", [cut_line, *retries])
    video = run.videos.get(cut["task_id"] or "")
    whole = [f for f in run.files if video is not None and f.data == video]
    if not whole:
        sizes = ", ".join(f"{f.name}: {f.size} bytes ({f.kind})" for f in run.files) or "no file"
        raise Finding(f"did not end with the whole video ({len(video) if video else '?'} bytes); saved {sizes}",
                      [cut_line, *retries, *(saved(run, f) for f in run.files[:2]), program(run)])


@client_check("client.does_not_retry_a_create_blindly",
              "Creates one task for its one video: after a create whose answer was lost, it looks the task up "
              "(or gives up) instead of creating another",
              "RFC 9110 §9.2.2 (POST is not idempotent); seed 003: \"Video generation consumes significant "
              "resources\"; dialects.md §2.5: the SDK retries a POST on connection errors and ≥500")
def does_not_retry_a_create_blindly(run: ScenarioRun) -> None:
    creates = run.ops(*CREATE_OPS)
    if not creates:
        raise NotApplicable("the program created no task")
    if len(run.tasks) <= 1:
        return
    lookups = [e for e in run.entries if e["operation"] in ("openai:list_videos", *STATUS_OPS)]
    first_lost = next((e for e in creates if not _ok(e)), None)
    checked = first_lost is not None and any(first_lost["seq"] < e["seq"] < creates[-1]["seq"] for e in lookups)
    how = "after looking tasks up" if checked else "without looking the first one up"
    notes = {0: "carried out, but no (complete) answer reached the program"}
    raise Finding(f"created {len(run.tasks)} tasks ({', '.join(t['id'] for t in run.tasks)}) for one video, "
                  f"{how}", [exchange(run, e, notes.get(e["status"], "create")) for e in creates[:MAX_EVIDENCE]])


@client_check("client.delivers_the_video",
              "Saves the video and exits 0 when nothing worse than rate limits, 5xx answers or a slow task happens",
              "seed 003 and seed 004 workflows: submit, poll until succeeded/completed, download and save",
              scenarios=PLAIN)
def delivers_the_video(run: ScenarioRun) -> None:
    if run.timed_out:
        raise Finding(f"killed at the {run.timeout:g} s timeout without finishing", [program(run)])
    if run.exit_code != 0:
        raise Finding(f"exited {run.exit_code} instead of delivering the video", [program(run)])
    if not run.videos_saved:
        listing = ", ".join(f"{f.name} ({f.kind})" for f in run.files) or "nothing"
        raise Finding(f"exited 0 but saved no playable video (saved: {listing})",
                      [program(run), *(saved(run, f) for f in run.files[:3])])
