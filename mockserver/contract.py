"""The OpenAPI contract (``openapi/videomock.yaml``): loaded once, served, and checked against responses.

- ``GET /openapi.json`` and ``GET /openapi.yaml`` serve the contract (:data:`routes`).
- With ``ServerConfig.validate_responses`` (``videomock serve --validate-responses``, or the
  environment variable ``VIDEOMOCK_VALIDATE_RESPONSES=1``, which the test suite sets),
  :func:`contract_middleware` checks every response against the contract: the status is one the
  operation documents, the Content-Type one that status documents, a JSON body matches its schema
  and the declared headers are present and well-formed. A response that drifts is replaced by HTTP
  500 ``{"error": {"code": "contract_violation", …}}`` naming the operation and the violation, and
  recorded in ``app[ERRORS]``, so the test that caused it fails. Streamed media (MP4, WebP, JPEG)
  is checked when its headers go out; it cannot be replaced then, so a violation is only recorded.

Not checked: answers of the gateway dialect under a profile other than ``seed`` (the contract
describes ``seed``), and answers a fault rule shaped on purpose (custom bodies, malformed JSON, cut
or slow bodies, resets, hangs). An injected error envelope is checked, and so is its status when the
operation documents it.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiohttp import web
from jsonschema import Draft202012Validator
from jsonschema.exceptions import relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mockserver.errors import ApiError
from mockserver.keys import ERRORS, FAULTS, PROFILE
from mockserver.pipeline import FAULT_KEY, dialect_of, render_error

log = logging.getLogger("videomock")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The contract's file name, in ``openapi/`` of a checkout or ``mockserver/_openapi/`` of a wheel.
CONTRACT_NAME = "videomock.yaml"
#: Base URI under which the contract is registered for ``$ref`` resolution.
BASE_URI = "urn:videomock:openapi"
#: Named routes the contract leaves out on purpose: OpenAI operations the simulator does not simulate
#: (they always answer 404 in the error envelope, which is checked).
UNCONTRACTED = ("openai:not_simulated", "openai:get_video_character")
#: What :func:`contract_middleware` found to check a request's response against (set before the handler runs).
TARGET_KEY = web.RequestKey("videomock_contract_target", tuple)

_ERROR_POINTER = "/components/schemas/ErrorResponse"


def contract_path() -> Path:
    """Where the contract file is.

    Raises:
        FileNotFoundError: neither a checkout's ``openapi/`` nor a wheel's copy holds it.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "_openapi" / CONTRACT_NAME, here.parent / "openapi" / CONTRACT_NAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"videomock's contract {CONTRACT_NAME} was not found")


@functools.cache
def contract_text() -> str:
    """The contract as written (YAML)."""
    return contract_path().read_text(encoding="utf-8")


@functools.cache
def contract() -> dict[str, Any]:
    """The contract as data (parsed once per process; do not modify it)."""
    return yaml.safe_load(contract_text())


@functools.cache
def _contract_json() -> bytes:
    return orjson.dumps(contract())


@functools.cache
def checker() -> ContractChecker:
    """The process-wide checker of the contract (compiled validators are shared by every app)."""
    return ContractChecker(contract())


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _shorten(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


class ContractChecker:
    """Checks responses against an OpenAPI 3.1 document; validators are compiled once per schema.

    Args:
        document: The OpenAPI document (``$ref``s local to it).
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry = Registry().with_resource(BASE_URI, resource)
        self._validators: dict[str, Draft202012Validator] = {}
        self._lock = threading.Lock()

    def resolve(self, pointer: str) -> Any:
        """The value at a JSON pointer (``/components/schemas/X``) of the document."""
        node: Any = self.document
        for token in pointer.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    def deref(self, pointer: str) -> tuple[str, dict[str, Any]]:
        """Follow local ``$ref``s (of responses, headers, parameters) from ``pointer``; the final pointer and object."""
        node = self.resolve(pointer)
        while isinstance(node, dict) and "$ref" in node:
            pointer = node["$ref"].removeprefix("#")
            node = self.resolve(pointer)
        return pointer, node

    def validator(self, pointer: str) -> Draft202012Validator:
        """A validator of the schema at ``pointer`` (compiled on first use)."""
        found = self._validators.get(pointer)
        if found is None:
            found = Draft202012Validator({"$ref": f"{BASE_URI}#{pointer}"}, registry=self._registry)
            with self._lock:
                self._validators[pointer] = found
        return found

    def errors(self, pointer: str, instance: Any) -> str | None:
        """Why ``instance`` does not match the schema at ``pointer`` (the three most relevant errors), or None."""
        found = sorted(self.validator(pointer).iter_errors(instance), key=relevance, reverse=True)[:3]
        if not found:
            return None
        described = "; ".join(f"{_shorten(error.message)} (at {error.json_path})" for error in found)
        return f"{described} [schema {pointer}]"

    def operation(self, path: str, method: str) -> tuple[str, dict[str, Any]] | None:
        """The pointer and object of the operation at a path template and method, or None."""
        path_item = self.document.get("paths", {}).get(path)
        if path_item is None or method not in path_item:
            return None
        return f"/paths/{_escape(path)}/{method}", path_item[method]

    def response_for(self, op_pointer: str, status: int) -> tuple[str, dict[str, Any]] | None:
        """The documented response of an operation for ``status`` (exact, then ``NXX``, then ``default``)."""
        responses = self.resolve(op_pointer).get("responses", {})
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in responses:
                return self.deref(f"{op_pointer}/responses/{_escape(key)}")
        return None

    def check_response(self, op_pointer: str, status: int, content_type: str | None, headers: Mapping[str, str],
                       body: bytes | None, *, check_body: bool = True) -> list[str]:
        """Every way a response drifts from the operation's contract (empty when it conforms).

        Args:
            op_pointer: The operation's pointer (see :meth:`operation`).
            status: The HTTP status.
            content_type: The Content-Type header, or None.
            headers: The response headers (case-insensitive mapping).
            body: The body, or None when it cannot be seen (streamed, or a HEAD answer).
            check_body: Whether to check the body (False for HEAD: it is never sent).
        """
        found = self.response_for(op_pointer, status)
        if found is None:
            documented = ", ".join(self.resolve(op_pointer).get("responses", {}))
            return [f"status {status} is not documented (documented: {documented})"]
        pointer, response = found
        problems = self._check_headers(pointer, response, headers)
        content = response.get("content") or {}
        media_type = _media_type(content_type)
        if not content:
            if check_body and body:
                problems.append(f"a {len(body)}-byte body where status {status} documents none")
            return problems
        if media_type not in content:
            problems.append(f"Content-Type {content_type!r} is not one of {', '.join(content)}")
            return problems
        if check_body and body is not None and _is_json(media_type):
            problems.extend(self.check_json(f"{pointer}/content/{_escape(media_type)}/schema", body))
        return problems

    def check_json(self, schema_pointer: str, body: bytes) -> list[str]:
        """Problems of a JSON body against the schema at ``schema_pointer``."""
        try:
            instance = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return [f"the body is not JSON: {exc}"]
        error = self.errors(schema_pointer, instance)
        return [] if error is None else [f"body: {error}"]

    def _check_headers(self, pointer: str, response: Mapping[str, Any], headers: Mapping[str, str]) -> list[str]:
        problems = []
        for name in response.get("headers", {}):
            if name.lower() == "content-type":
                continue
            header_pointer, header = self.deref(f"{pointer}/headers/{_escape(name)}")
            value = headers.get(name)
            if value is None:
                if header.get("required"):
                    problems.append(f"required header {name} is missing")
                continue
            schema = header.get("schema", {})
            instance: Any = value
            if schema.get("type") in ("integer", "number"):
                try:
                    instance = int(value) if schema["type"] == "integer" else float(value)
                except ValueError:
                    problems.append(f"header {name}: {value!r} is not an {schema['type']}")
                    continue
            error = self.errors(f"{header_pointer}/schema", instance)
            if error is not None:
                problems.append(f"header {name}: {error}")
        return problems


# --- which operation a request is -----------------------------------------------------------------

#: What to check an answer against: ("operation", label, pointer) | ("error_only", label) |
#: ("missing", label) for a route the contract lacks | ("skip", reason).
Target = tuple[str, ...]


def _target(request: web.Request) -> Target:
    route = request.match_info.route
    name = route.name
    gateway = dialect_of(request) == "gateway"
    if gateway and request.app[PROFILE].name != "seed":
        return ("skip", "the contract describes the gateway profile 'seed'")
    if name is None:  # no route (404) or a method the route lacks (405)
        return ("error_only", f"{request.method} {request.path} (no route)")
    if name in UNCONTRACTED:
        return ("error_only", name)
    resource = route.resource
    template = resource.canonical if resource is not None else request.path
    method = request.method.lower()
    found = checker().operation(template, method)
    if found is None and method == "head":
        found = checker().operation(template, "get")  # aiohttp answers HEAD on every GET route
    if found is None:
        return ("missing", f"route {name} ({request.method} {template}) is not in the contract")
    pointer, operation = found
    return ("operation", f"{operation.get('operationId', name)} ({request.method} {template})", pointer)


def _fault_shaped(request: web.Request) -> str | None:
    """``skip`` for an answer a fault shaped on purpose, ``envelope`` for an injected error, else None."""
    rule_id = request.get(FAULT_KEY)
    if rule_id is None:
        return None
    rule = next((rule for rule in request.app[FAULTS].rules if rule.id == rule_id), None)
    if rule is None:
        return "skip"
    if rule.action in ("pass", "not_ready"):
        return None
    return "envelope" if rule.action == "respond" and rule.body is None else "skip"


def violations(request: web.Request, response: web.StreamResponse, body: bytes | None) -> tuple[str, list[str]]:
    """What is wrong with ``response`` to ``request`` under the contract: the operation's label and the problems."""
    target: Target = request.get(TARGET_KEY) or _target(request)
    kind = target[0]
    if kind == "skip":
        return "", []
    shaped = _fault_shaped(request)
    if shaped == "skip":
        return "", []
    label = target[1]
    if kind == "missing":
        return label, [label]
    head = request.method == "HEAD"
    status, content_type = response.status, response.headers.get("Content-Type")
    if kind == "operation":
        pointer = target[2]
        if shaped != "envelope" or checker().response_for(pointer, status) is not None:
            return label, checker().check_response(pointer, status, content_type, response.headers, body,
                                                   check_body=not head)
        # An injected error with a status the operation does not document: only its envelope is checked.
    if head or body is None:
        return label, []
    if status < 400:
        return label, [f"status {status} for a request the contract has no operation for"]
    if not _is_json(_media_type(content_type)):
        return label, [f"an error with Content-Type {content_type!r}, not the JSON error envelope"]
    return label, checker().check_json(_ERROR_POINTER, body)


def _record(request: web.Request, label: str, status: int, problems: list[str]) -> str:
    message = f"{label} answered {status}, which the contract does not allow: {'; '.join(problems)}"
    request.app[ERRORS].append(f"contract violation: {request.method} {request.path_qs}\n{message}")
    log.error("contract violation: %s %s: %s", request.method, request.path_qs, message)
    return message


@web.middleware
async def contract_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Check the response against the contract; replace a drifting one by a 500 naming the violation."""
    request[TARGET_KEY] = _target(request)
    response = await handler(request)
    if not isinstance(response, web.Response) or response.prepared:
        return response  # streamed: checked by _check_streamed when its headers go out
    body = response.body if isinstance(response.body, bytes | bytearray) else None
    label, problems = violations(request, response, None if body is None else bytes(body))
    if not problems:
        return response
    message = _record(request, label, response.status, problems)
    return render_error(request, ApiError(f"Contract violation: {message}", status=500, code="contract_violation",
                                          type="server_error"))


async def _check_streamed(request: web.Request, response: web.StreamResponse) -> None:
    if isinstance(response, web.Response) or TARGET_KEY not in request:
        return
    label, problems = violations(request, response, None)
    if problems:
        _record(request, label, response.status, problems)


def add_contract_checks(app: web.Application) -> None:
    """Check streamed answers on ``app`` too (:func:`contract_middleware` checks the others); parse the contract now."""
    checker()  # load and parse now, not on the first request
    app.on_response_prepare.append(_check_streamed)


# --- serving the contract ---------------------------------------------------------------------------

routes = web.RouteTableDef()


@routes.get("/openapi.json", name="contract:openapi_json")
async def openapi_json(request: web.Request) -> web.Response:
    """The contract as JSON."""
    return web.Response(body=_contract_json(), content_type="application/json")


@routes.get("/openapi.yaml", name="contract:openapi_yaml")
async def openapi_yaml(request: web.Request) -> web.Response:
    """The contract as written (YAML)."""
    return web.Response(text=contract_text(), content_type="application/yaml")


__all__ = ["ContractChecker", "add_contract_checks", "checker", "contract", "contract_middleware", "contract_text",
           "routes"]
