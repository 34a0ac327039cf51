"""Errors the simulator answers with, independent of how a dialect renders them.

Each error carries its HTTP status, a machine code, a message and the offending parameter. The
dialect handlers never build error bodies: ``mockserver.pipeline.render_error`` renders an
:class:`ApiError` once, in the envelope of the dialect (and profile) that served the route.
"""

from __future__ import annotations


class ApiError(Exception):
    """Raised for any request the simulator refuses; rendered in the dialect's error envelope.

    Attributes:
        status: HTTP status code.
        code: Machine-readable error code (the envelope's ``code``).
        type: Error category (the envelope's ``type``), OpenAI style.
        message: Human-readable explanation.
        param: The request parameter at fault, or None.
        headers: Extra response headers (e.g. ``Retry-After``).
    """

    status = 400
    code = "invalid_request"
    type = "invalid_request_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 status: int | None = None, type: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.headers = headers or {}


class InvalidParameter(ApiError):
    """Raised when a request parameter is missing, mistyped or outside its documented values."""

    code = "invalid_parameter"

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message, param=param)


class UnknownModel(ApiError):
    """Raised when ``model`` names no documented model."""

    code = "model_not_found"

    def __init__(self, model: str, known: tuple[str, ...]) -> None:
        super().__init__(f"Unknown model '{model}'; supported models: {', '.join(known)}", param="model")


class InvalidJSON(ApiError):
    """Raised when a body is not valid JSON or not a JSON object."""

    code = "invalid_json"


class UnsupportedMediaType(ApiError):
    """Raised when a body comes with a content type the route does not accept."""

    status = 415
    code = "unsupported_media_type"


class BodyTooLarge(ApiError):
    """Raised when a request body exceeds the configured limit (bytes)."""

    status = 413
    code = "request_too_large"


class Unauthorized(ApiError):
    """Raised when the Authorization header is missing or carries an unknown key."""

    status = 401
    code = "invalid_api_key"
    type = "authentication_error"


class TaskNotFound(ApiError):
    """Raised when no task has the given ID (or it was deleted)."""

    status = 404
    code = "task_not_found"

    def __init__(self, task_id: str, param: str = "task_id") -> None:
        super().__init__(f"No task found with id '{task_id}'", param=param)


class TaskNotReady(ApiError):
    """Raised when content is asked for before the task has succeeded."""

    code = "video_not_ready"

    def __init__(self, task_id: str, status: str) -> None:
        super().__init__(
            f"Task '{task_id}' is not completed yet, current status: {status}. Poll the task until it succeeds.",
        )


class TaskFailed(ApiError):
    """Raised when content is asked for a task whose generation failed."""

    code = "task_failed"

    def __init__(self, task_id: str) -> None:
        super().__init__(f"Task '{task_id}' failed; it has no video. See the task's error for the reason.")


class TaskExpired(ApiError):
    """Raised when the video of a task is asked for after its expiry (seeds 003 and 004)."""

    status = 404
    code = "video_expired"

    def __init__(self, task_id: str, expired_at: int) -> None:
        super().__init__(
            f"The video of task '{task_id}' expired at {expired_at} (unix seconds) and can no longer be retrieved.",
        )


class DownloadNotSupported(ApiError):
    """Raised when the base64 download endpoint is asked for a non-Sora task (seed 000).

    404: the endpoint has no download for such a task (its video is at the query answer's ``url``).
    A well-formed request for an existing task is not a 400, which the contract keeps for bad input.
    """

    status = 404
    code = "download_not_supported"

    def __init__(self, task_id: str, model: str) -> None:
        super().__init__(
            f"The download endpoint supports only Sora 2 tasks; task '{task_id}' uses {model}, "
            "whose video URL is in the query task response.",
            param="id",
        )


class RouteNotFound(ApiError):
    """Raised for a path or method the simulator does not serve."""

    status = 404
    code = "not_found"


class InvalidFormData(ApiError):
    """Raised when a multipart/form-data or urlencoded body cannot be parsed."""

    code = "invalid_form_data"


class VideoNotFound(TaskNotFound):
    """Raised when the OpenAI Videos dialect is asked for a video ID that no task has (or it was deleted)."""

    code = "video_not_found"

    def __init__(self, video_id: str) -> None:
        ApiError.__init__(self, f"No video found with id '{video_id}'", param="video_id")


class VideoNotReady(ApiError):
    """Raised when a video's content is asked for while it is still queued or in progress (seed 004).

    The type, code and message are seed 004's "video is not ready" error; the status (202 or 404,
    the seed's alternatives) is chosen by the caller.
    """

    status = 202
    code = "video_processing"
    type = "video_not_ready"

    def __init__(self, *, status: int) -> None:
        super().__init__("Video generation is still in progress. Please check the status endpoint.", status=status)


class TooManyTasks(ApiError):
    """Raised when a submit finds the task store full and no stored task can be evicted yet (issue 9).

    HTTP 429 with ``Retry-After`` (real seconds until a stored task becomes evictable, else 60), so a
    client backs off instead of growing the store without bound.
    """

    status = 429
    code = "task_limit_reached"
    type = "rate_limit_error"

    def __init__(self, limit: int, retry_after: float) -> None:
        seconds = max(1, min(3600, round(retry_after)))
        super().__init__(f"The simulator stores at most {limit} tasks and none can be evicted yet; delete tasks "
                         f"or retry in {seconds} s", headers={"Retry-After": str(seconds)})


class RequestTimeout(ApiError):
    """Raised when a request body is still arriving after the body deadline, in seconds (issue 9: slow bodies)."""

    status = 408
    code = "request_timeout"

    def __init__(self, seconds: float) -> None:
        super().__init__(f"The request body did not arrive within {seconds:g} seconds",
                         headers={"Connection": "close"})
