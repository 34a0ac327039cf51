"""The scenarios a client program is run under, as data: a lifecycle script plus fault rules each.

Every scenario runs on a fresh simulator whose every task follows the scenario's script (the
scenario file's ``default``, so the program cannot pick another one by accident), with the
scenario's fault rules in place from the first request. Times are simulated seconds; at
``--speed 1`` (the default) they are real seconds too. Lifetimes are shorter than the models' own
(``mockserver.lifecycle.DEFAULT_TIMINGS``: about a minute) so that a run at ``--speed 1``, where a
program polling every 5 s is judged at its true pace, takes about 25 s per scenario (``slow``: 90 s).

The scenarios of issue 8, plus ``create-answer-lost`` (the "timeout" half of "retries a
non-idempotent create blindly": the create is carried out but its answer never arrives):

============================  ===============================================================  ========
name                          what happens                                                     outcome
============================  ===============================================================  ========
``happy``                     the task succeeds after ~21 s                                    video
``slow``                      ~81 s: a 10 s queue, 50 s of work, progress frozen 20 s at 50 %  video
``fails``                     the task fails at 40 % (``content_policy_violation``)            failure
``rate-limited``              the 2nd and 3rd status reads get 429 with ``Retry-After: 1``     video
                              and ``retry-after-ms: 1000``
``flaky-5xx``                 503 on the first create, the 2nd and 3rd status reads and the    video
                              first download (none of them carried out)
``not-ready-202``             the first download answers 202 + a JSON error, even though the   video
                              task has completed (a gateway whose content lags its status)
``not-ready-json200``         the same with seed 004's "Error Response (200 with JSON)"        video
``expired``                   the video expires the moment it completes: downloads get 404     failure
``download-cut``              the first download is cut after 32 KiB (a third to two thirds    video
                              of a video); Range requests are served
``create-answer-lost``        the first create is carried out, then the connection closes      either
                              before any byte of the answer
============================  ===============================================================  ========
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mockserver.dialects.openai import SEED_004_NOT_READY_BODY

#: Route names (journal ``operation``) that create a task.
CREATE_OPS = ("gateway:submit_task", "openai:create_video", "openai:remix_video")
#: Route names that read a task's status.
STATUS_OPS = ("gateway:query_task", "openai:retrieve_video")
#: Route names that download a video (gateway base64 JSON, the signed media URL, OpenAI content).
DOWNLOAD_OPS = ("gateway:download_video", "media:serve_media", "openai:retrieve_video_content")
#: Download routes that answer ``Range`` with 206 (the gateway's base64 JSON download cannot).
RANGE_OPS = ("media:serve_media", "openai:retrieve_video_content")

#: Seconds from completion to expiry where a scenario does not test expiry: 30 simulated days, so
#: that no video expires during a run even at ``--speed 10000`` (259 real seconds).
LONG_TTL = 30 * 24 * 3600.0
#: Where ``download-cut`` cuts the first download, in bytes (videos are 48 KB for a 4 s 480p Seedance, 75 KB
#: for a 4 s Sora 2, up to 140 KB for an 8 s 720p Veo).
CUT_AT_BYTE = 32 * 1024
#: ``Retry-After`` of the 429 answers in ``rate-limited``, in (real) seconds, as HTTP defines it.
RETRY_AFTER = 1.0
#: Seconds a task spends ``submitted`` before its queue wait (``mockserver.lifecycle.Timing``).
SUBMITTED_SECONDS = 1.0

_NOT_READY_202_BODY: dict[str, Any] = {"error": {
    "message": "Video generation is still in progress. Please check the status endpoint.",
    "type": "video_not_ready", "code": "video_processing", "param": None}}


@dataclass(frozen=True, slots=True)
class ClientScenario:
    """One scenario a client program is run under.

    Attributes:
        name: Its name (``--scenario NAME``; ``VIDEOMOCK_SCENARIO`` in the program's environment).
        summary: What happens, in one line.
        script: The lifecycle every task follows (``mockserver.lifecycle.Script`` fields; simulated seconds).
        faults: Fault rules in place from the first request (``mockserver.faults`` data format).
        outcome: What a correct program ends with: ``video`` (it saves the video and exits 0),
            ``failure`` (no video can be had: it exits non-zero) or ``either`` (both are right).
    """

    name: str
    summary: str
    script: dict[str, Any]
    faults: tuple[dict[str, Any], ...] = ()
    outcome: str = "video"

    @property
    def scenario_file(self) -> dict[str, Any]:
        """The simulator's scenario file for this scenario (``mockserver.scenarios`` format)."""
        return {"default": self.name, "scripts": {self.name: dict(self.script)}, "faults": list(self.faults)}

    @property
    def task_seconds(self) -> float:
        """Simulated seconds from create to the terminal status (stalls included)."""
        stall = self.script.get("stall_seconds", 0.0) if self.script.get("stall_at") is not None else 0.0
        return SUBMITTED_SECONDS + self.script.get("queued", 0.0) + self.script.get("generating", 0.0) + stall


def _rules(ops: tuple[str, ...], **rule: Any) -> tuple[dict[str, Any], ...]:
    """One rule per route name: ``nth`` counts the requests of each route on its own."""
    match = rule.pop("match", {})
    return tuple({"match": {"operation": op, **match}, **rule} for op in ops)


_BASE = {"queued": 2.0, "generating": 18.0, "ttl": LONG_TTL}
_GATEWAY_DOWNLOADS = ("gateway:download_video", "media:serve_media")


def _not_ready(mode: str) -> tuple[dict[str, Any], ...]:
    status, body = (202, _NOT_READY_202_BODY) if mode == "202" else (200, SEED_004_NOT_READY_BODY)
    return (
        {"match": {"operation": "openai:retrieve_video_content", "method": "GET"}, "action": "not_ready",
         "mode": mode, "times": 1},
        *_rules(_GATEWAY_DOWNLOADS, match={"method": "GET"}, action="respond", status=status, body=body, times=1),
    )


SCENARIOS: dict[str, ClientScenario] = {s.name: s for s in (
    ClientScenario("happy", "the task succeeds after about 21 s", dict(_BASE)),
    ClientScenario("slow", "about 81 s: a 10 s queue, 50 s of work, progress frozen for 20 s at 50 %",
                   {"queued": 10.0, "generating": 50.0, "stall_at": 50, "stall_seconds": 20.0, "ttl": LONG_TTL}),
    ClientScenario("fails", "the task fails at 40 % with content_policy_violation",
                   {**_BASE, "fail_at": 40, "error": "content_policy"}, outcome="failure"),
    ClientScenario("rate-limited", f"the 2nd and 3rd status reads answer 429 with Retry-After: {RETRY_AFTER:g}",
                   dict(_BASE), _rules(STATUS_OPS, match={"nth": [2, 3]}, action="respond", status=429,
                                       retry_after=RETRY_AFTER)),
    ClientScenario("flaky-5xx", "503 on the first create, the 2nd and 3rd status reads and the first download",
                   dict(_BASE), (*_rules(CREATE_OPS[:2], match={"nth": [1]}, action="respond", status=503),
                                 *_rules(STATUS_OPS, match={"nth": [2, 3]}, action="respond", status=503),
                                 *_rules(DOWNLOAD_OPS, match={"nth": [1], "method": "GET"}, action="respond",
                                         status=503))),
    ClientScenario("not-ready-202", "the first download answers 202 + JSON although the task has completed",
                   {**_BASE, "not_ready": "202"}, _not_ready("202")),
    ClientScenario("not-ready-json200", "the first download answers 200 + JSON (seed 004) although the task "
                                        "has completed", {**_BASE, "not_ready": "json200"}, _not_ready("json200")),
    ClientScenario("expired", "the video expires the moment the task completes: every download gets 404",
                   {**_BASE, "ttl": 0.0}, outcome="failure"),
    ClientScenario("download-cut", f"the first download is cut after {CUT_AT_BYTE} bytes; Range is served",
                   dict(_BASE), _rules(DOWNLOAD_OPS, match={"method": "GET"}, action="truncate",
                                       at_byte=CUT_AT_BYTE, times=1)),
    ClientScenario("create-answer-lost", "the first create is carried out, then the connection closes before "
                                         "its answer", dict(_BASE),
                   _rules(CREATE_OPS[:2], action="truncate", at_byte=0, times=1), outcome="either"),
)}


def longest_task_seconds(names: list[str] | tuple[str, ...]) -> float:
    """The longest simulated task life among ``names``, in seconds."""
    return max((SCENARIOS[name].task_seconds for name in names), default=0.0)
