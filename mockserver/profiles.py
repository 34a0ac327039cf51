"""Named profiles of the gateway dialect: how a given gateway words its answers.

The seeds' documented behaviour is the default profile, ``seed``. Real gateways differ in status
words, envelopes and error codes (../shared/reference/dialects.md, "Ambiguities a mock must make
configurable"); each variant is a subclass that overrides only what differs, registered by name.
Adding a profile is one small class here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mockserver.backend import Task
from mockserver.errors import ApiError, TaskNotFound
from mockserver.lifecycle import Snapshot, Status

PROFILES: dict[str, type[GatewayProfile]] = {}


class GatewayProfile:
    """The ``seed`` profile: the behaviour documented in seeds 000-003.

    - Submit answers ``{"task_id": "video_…", "status": "submitted", "format": "mp4"}`` (seed 003).
    - Query answers a flat object ``{task_id, status, format, progress, url?, error?}`` with the
      statuses submitted, queued, in_progress, succeeded, failed (seed 003's workflow and example).
    - Errors use the OpenAI-style envelope ``{"error": {message, type, param, code}}``.
    """

    name: ClassVar[str] = "seed"
    description: ClassVar[str] = "The documented behaviour of seeds 000-003 (default)."
    statuses: ClassVar[dict[Status, str]] = {s: s.value for s in Status}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name in PROFILES:
            raise ValueError(f"duplicate gateway profile name {cls.name!r}")
        PROFILES[cls.name] = cls

    def status_word(self, status: Status) -> str:
        """The profile's wire word for an internal status."""
        return self.statuses[status]

    def render_submit(self, task: Task, state: Snapshot) -> dict[str, Any]:
        """The body of a successful ``POST /v1/video/generations`` (HTTP 200)."""
        return {"task_id": task.id, "status": self.status_word(state.status), "format": "mp4"}

    def render_task(self, task: Task, state: Snapshot, url: str | None = None) -> dict[str, Any]:
        """The body of ``GET /v1/video/generations/{task_id}``.

        Args:
            task: The task.
            state: Its state now.
            url: The video URL when the task succeeded and its model returns one (non-Sora), else None.
        """
        body: dict[str, Any] = {"task_id": task.id, "status": self.status_word(state.status), "format": "mp4",
                                "progress": state.progress}
        if url is not None:
            body["url"] = url
        if task.plan.error is not None and state.status is Status.FAILED:
            body["error"] = {"code": task.plan.error.code, "message": task.plan.error.message}
        return body

    def render_error(self, error: ApiError) -> tuple[int, dict[str, Any]]:
        """HTTP status and body for an error on a gateway route."""
        return error.status, {"error": {"message": error.message, "type": error.type, "param": error.param,
                                        "code": error.code}}


PROFILES[GatewayProfile.name] = GatewayProfile


class NebulaProfile(GatewayProfile):
    """Nebula fork code (``Dkrillex/nebula-new-api``, dialects.md §1.6, §1.7).

    Flat query body; a failed task's ``error.code`` is always the integer 400; errors are
    ``{"error": {message, type}}``.
    """

    name = "nebula"
    description = "Dkrillex/nebula-new-api: flat body, integer error code 400, {error:{message,type}}."

    def render_task(self, task: Task, state: Snapshot, url: str | None = None) -> dict[str, Any]:
        body = super().render_task(task, state, url)
        body.pop("progress")
        if "error" in body:
            body["error"] = {"code": 400, "message": body["error"]["message"]}
        return body

    def render_error(self, error: ApiError) -> tuple[int, dict[str, Any]]:
        return error.status, {"error": {"message": error.message, "type": error.type}}


class NewApiProfile(GatewayProfile):
    """Upstream QuantumNous/new-api code (dialects.md §1.3, §1.5, §1.6).

    Submit answers an OpenAI-Video-like object with status ``queued``; query wraps a TaskDto in
    ``{"code": "success", "message": "", "data": …}`` with UPPERCASE statuses, ``"NN%"`` progress and
    ``result_url``; a missing task is HTTP 400 ``task_not_exist`` in the task-error envelope
    ``{"code", "message", "data": null}``.
    """

    name = "new-api"
    description = "QuantumNous/new-api: {code,message,data} wrapper, UPPERCASE statuses, task_not_exist at 400."
    statuses = {Status.SUBMITTED: "SUBMITTED", Status.QUEUED: "QUEUED", Status.IN_PROGRESS: "IN_PROGRESS",
                Status.SUCCEEDED: "SUCCESS", Status.FAILED: "FAILURE"}

    def render_submit(self, task: Task, state: Snapshot) -> dict[str, Any]:
        return {"id": task.id, "task_id": task.id, "object": "video", "model": task.model, "status": "queued",
                "progress": 0, "created_at": int(task.created_at)}

    def render_task(self, task: Task, state: Snapshot, url: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "task_id": task.id, "action": "textGenerate", "status": self.status_word(state.status),
            "fail_reason": task.plan.error.message if task.plan.error and state.status is Status.FAILED else "",
            "submit_time": int(task.created_at), "finish_time": int(state.completed_at or 0),
            "progress": f"{state.progress}%", "properties": {"origin_model_name": task.model},
        }
        if url is not None:
            data["result_url"] = url
        return {"code": "success", "message": "", "data": data}

    def render_error(self, error: ApiError) -> tuple[int, dict[str, Any]]:
        if isinstance(error, TaskNotFound):
            return 400, {"code": "task_not_exist", "message": "task_not_exist", "data": None}
        if error.status == 401:
            return 401, {"error": {"message": error.message, "type": "new_api_error", "code": ""}}
        return error.status, {"code": error.code, "message": error.message, "data": None}


def get_profile(name: str) -> GatewayProfile:
    """An instance of the profile called ``name``.

    Raises:
        ValueError: no such profile (the message lists them).
    """
    try:
        return PROFILES[name]()
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; one of {', '.join(PROFILES)}") from None
