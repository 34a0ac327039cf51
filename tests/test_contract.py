"""The OpenAPI contract (openapi/videomock.yaml): valid, served, in step with the code and the sources of truth.

- It is a valid OpenAPI 3.1 document (openapi-spec-validator), served at /openapi.json and /openapi.yaml.
- Every route of the simulator is an operation of the contract, and the other way round.
- The gateway's per-model schemas say what mockserver/catalog.py says; the OpenAI dialect's
  schemas agree with OpenAI's published schema (../shared/reference/openai-videos.openapi.json);
  the seeds' documented examples are the contract's examples, and every example is valid.
- The test-mode switch: a simulator that drifts from the contract answers 500 naming the
  operation and records the drift, so the test that hit it fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mockserver import catalog, contract, media, profiles
from mockserver.cli import main
from mockserver.config import ServerConfig
from mockserver.contract import UNCONTRACTED, checker
from mockserver.dialects import openai
from mockserver.fixtures_data import load
from mockserver.server import ServerThread

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = yaml.safe_load((ROOT / "openapi" / "videomock.yaml").read_text(encoding="utf-8"))
REFERENCE = json.loads((ROOT.parent / "shared" / "reference" / "openai-videos.openapi.json").read_text(
    encoding="utf-8"))
SCHEMAS = CONTRACT["components"]["schemas"]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_REGISTRY = Registry().with_resource("urn:contract",
                                     Resource.from_contents(CONTRACT, default_specification=DRAFT202012))


def validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"urn:contract#{pointer}"}, registry=_REGISTRY)


def schema_of(name: str) -> Draft202012Validator:
    return validator(f"/components/schemas/{name}")


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): item[method] for path, item in document["paths"].items() for method in METHODS
            if method in item}


def deref(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = checker().resolve(node["$ref"].removeprefix("#"))
    return node


# --- the document --------------------------------------------------------------------------------


def test_the_contract_is_a_valid_openapi_3_1_document():
    assert CONTRACT["openapi"].startswith("3.1")
    validate_spec(CONTRACT)
    assert json.loads(json.dumps(CONTRACT)) == CONTRACT, "plain JSON data: no YAML-only types (dates, …)"


def test_operation_ids_are_unique_and_every_v1_operation_needs_the_bearer_key():
    ids = [op["operationId"] for op in operations(CONTRACT).values()]
    assert len(ids) == len(set(ids))
    for (_, path), op in operations(CONTRACT).items():
        assert (op.get("security") == [{"bearerAuth": []}]) == path.startswith("/v1/"), path
    assert "security" not in CONTRACT, "media and control routes take no key"


def test_served_as_json_and_yaml_and_equal_to_the_file(client):
    as_json = client.get("/openapi.json")
    assert as_json.status_code == 200 and as_json.headers["Content-Type"].startswith("application/json")
    assert as_json.json() == CONTRACT
    as_yaml = client.get("/openapi.yaml")
    assert as_yaml.status_code == 200 and as_yaml.headers["Content-Type"].startswith("application/yaml")
    assert as_yaml.text == (ROOT / "openapi" / "videomock.yaml").read_text(encoding="utf-8")


def test_every_route_is_an_operation_and_every_operation_a_route(server):
    routes = set()
    for route in server.app.router.routes():
        implicit_head = route.method == "HEAD" and route.name != "media:serve_media"
        if route.name is None or route.name in UNCONTRACTED or implicit_head:
            continue
        routes.add((route.method.lower(), route.resource.canonical))
    documented = set(operations(CONTRACT))
    # aiohttp answers HEAD on every GET route; the contract documents HEAD where it matters (media).
    documented_heads = {(m, p) for m, p in documented if m == "head"}
    assert routes - documented == set(), "routes the contract does not describe"
    assert documented - documented_heads - routes == set(), "operations the simulator does not serve"
    assert {("head", "/v1/videos/{video_id}/content"), ("head", "/media/{task_id}.mp4")} == documented_heads


def test_links_name_existing_operations_and_parameters():
    by_id = {op["operationId"]: op for op in operations(CONTRACT).values()}
    path_params = {op_id: {p["name"] for p in (deref(x) for x in op.get("parameters", []))}
                   for op_id, op in by_id.items()}
    for item in CONTRACT["paths"].values():
        for param in item.get("parameters", []):
            for op in (item[m] for m in METHODS if m in item):
                path_params[op["operationId"]].add(deref(param)["name"])
    links = 0
    for op in by_id.values():
        for response in op["responses"].values():
            for link in deref(response).get("links", {}).values():
                links += 1
                assert link["operationId"] in by_id
                assert set(link["parameters"]) <= path_params[link["operationId"]], link
    assert links >= 8


# --- the gateway's models: catalog.py and the seeds -------------------------------------------------


def _branch(model: str) -> dict[str, Any]:
    mapping = SCHEMAS["GatewaySubmitRequest"]["discriminator"]["mapping"]
    return deref({"$ref": mapping[model]})


def _values(schema: dict[str, Any]) -> set[Any]:
    """The non-null values an enum-like property schema allows (its enum, or its anyOf's enums)."""
    schema = deref(schema)
    found = set(schema.get("enum", ()))
    for part in schema.get("anyOf", ()):
        found |= set(deref(part).get("enum", ()))
    return {value for value in found if value is not None}


def test_the_submit_body_is_one_schema_per_model_of_seed_003():
    mapping = SCHEMAS["GatewaySubmitRequest"]["discriminator"]["mapping"]
    assert list(mapping) == list(catalog.MODELS), "one schema per model, in seed 003's order"
    assert len(set(mapping.values())) == len(mapping)
    for model, spec in catalog.MODELS.items():
        branch = _branch(model)
        assert branch["properties"]["model"] == {"const": model}
        assert branch["required"] == ["model", "prompt"] and branch["additionalProperties"] is False
        assert set(branch["properties"]) == {"model", "prompt", *spec.params}, model
        for name, param in spec.params.items():
            prop = branch["properties"][name]
            if param.choices is not None:
                expected = set(param.choices)
                if all(isinstance(c, int) for c in param.choices) or name == "seconds":
                    expected |= {str(c) for c in param.choices} | {int(c) for c in param.choices}
                assert _values(prop) == expected, (model, name)
            if param.default is not None:
                assert deref(prop).get("default") == param.default, (model, name)


def test_the_patterns_are_the_catalogs():
    assert SCHEMAS["HttpUrl"]["pattern"] == catalog.URL_PATTERN
    assert SCHEMAS["DataUri"]["pattern"] == catalog.DATA_URI_PATTERN
    assert SCHEMAS["Base64Data"]["pattern"] == catalog.BASE64_PATTERN
    assert SCHEMAS["SeedString"]["pattern"] == catalog.SEED_PATTERN
    for name in ("Prompt", "NullableText", "FileIdRef"):
        assert SCHEMAS[name]["not"] == {"type": "string", "pattern": catalog.BLANK_PATTERN}, name
    assert all(chr(c).isspace() == bool(re.fullmatch(catalog.BLANK_PATTERN, chr(c))) for c in range(0x3100))


@pytest.mark.parametrize(("value", "ok"), [
    ("https://console.mixroute.io/image.jpg", True), ("HTTP://x.io/a", True), ("http://x.io/a b", False),
    ("ftp://x.io/a", False), ("data:image/png;base64,iVBORw0KGgo=", True), ("iVBORw0KGgo=", True),
    ("iVBORw0KGgo", False), ("AAAA\n", False), ("", False), ("   ", False),
])
def test_an_image_input_is_valid_for_the_contract_exactly_when_the_catalog_takes_it(value, ok):
    contract_ok = schema_of("NullableImageInput").is_valid(value) and not value.endswith("\n")
    try:
        catalog._check_image("image", value)
        catalog_ok = True
    except catalog.InvalidParameter:
        catalog_ok = False
    assert contract_ok == catalog_ok == ok


def test_the_seeds_examples_are_the_contracts_and_valid():
    examples = load("seeds/gateway_examples.yaml")
    submit = CONTRACT["paths"]["/v1/video/generations"]["post"]
    documented = [e["value"] for e in submit["requestBody"]["content"]["application/json"]["examples"].values()]
    body = schema_of("GatewaySubmitRequest")
    for example in examples["examples"]:
        request = example["request"]
        if request["method"] == "POST":
            assert request["json"] in documented, example["name"]
            body.validate(request["json"])
    for value in documented:
        body.validate(value)
    schema_of("GatewaySubmitResponse").validate(examples["documented_submit_response"]["json"])
    schema_of("GatewayDownloadResponse").validate(examples["documented_download_response"]["json"])


def test_every_example_in_the_contract_is_valid():
    seen = 0
    for (method, path), op in operations(CONTRACT).items():
        pointer = f"/paths/{path.replace('/', '~1')}/{method}"
        for media_type, content in op.get("requestBody", {}).get("content", {}).items():
            check = validator(f"{pointer}/requestBody/content/{media_type.replace('/', '~1')}/schema")
            for example in [content.get("example"), *[e["value"] for e in content.get("examples", {}).values()]]:
                if example is not None:
                    check.validate(example)
                    seen += 1
        for status in op["responses"]:
            response_pointer, response = checker().deref(f"{pointer}/responses/{status}")
            for media_type, content in response.get("content", {}).items():
                check = validator(f"{response_pointer}/content/{media_type.replace('/', '~1')}/schema")
                for example in [content.get("example"), *[e["value"] for e in content.get("examples", {}).values()]]:
                    if example is not None:
                        check.validate(example)
                        seen += 1
    assert seen >= 25


# --- the OpenAI dialect: OpenAI's published schema ------------------------------------------------


def test_the_openai_operations_are_openais():
    ours = {(m, p.removeprefix("/v1")): op["operationId"] for (m, p), op in operations(CONTRACT).items()
            if p.startswith("/v1/videos")}
    theirs = {key: op["operationId"] for key, op in operations(REFERENCE).items()}
    simulated = {key: value for key, value in theirs.items()
                 if not key[1].startswith(("/videos/edits", "/videos/extensions", "/videos/characters"))}
    assert {key: ours[key] for key in simulated} == simulated
    assert set(ours) - set(theirs) == {("head", "/videos/{video_id}/content")}


@pytest.mark.parametrize("name", ["VideoResource", "VideoListResource", "DeletedVideoResource", "Error-2"])
def test_response_schemas_keep_openais_keys(name):
    ours, theirs = SCHEMAS[name], REFERENCE["components"]["schemas"][name]
    assert ours["required"] == theirs["required"]
    assert set(ours["properties"]) == set(theirs["properties"])


@pytest.mark.parametrize("name", ["VideoSize", "VideoSeconds", "VideoStatus", "VideoContentVariant", "OrderEnum"])
def test_enums_are_openais(name):
    assert SCHEMAS[name] == REFERENCE["components"]["schemas"][name]


def test_the_create_and_remix_bodies_refine_openais():
    reference = REFERENCE["components"]["schemas"]
    for name in ("CreateVideoJsonBody", "CreateVideoMultipartBody", "CreateVideoRemixBody"):
        ours = SCHEMAS[name]
        assert ours["required"] == reference[name]["required"]
        assert set(ours["properties"]) <= set(reference[name]["properties"]), name
        assert ours["additionalProperties"] is False
    models = tuple(reference["VideoModel"]["anyOf"][1]["enum"])
    assert tuple(SCHEMAS["VideoModelName"]["enum"]) == openai.MODELS == models
    assert tuple(SCHEMAS["VideoSize"]["enum"]) == openai.SIZES
    assert tuple(SCHEMAS["VideoSeconds"]["enum"]) == openai.SECONDS
    # What the refined schema accepts, the reference accepts too.
    ref = Draft202012Validator({"$ref": "urn:ref#/components/schemas/CreateVideoJsonBody"},
                               registry=Registry().with_resource("urn:ref", Resource.from_contents(
                                   REFERENCE, default_specification=DRAFT202012)))
    for body in ({"prompt": "A cat"}, {"prompt": "A cat", "model": "sora-2-pro", "size": "1792x1024", "seconds": "12"},
                 {"prompt": "A cat", "input_reference": {"file_id": "file-1"}}):
        assert schema_of("CreateVideoJsonBody").is_valid(body) and ref.is_valid(body)
    assert not schema_of("CreateVideoJsonBody").is_valid({"prompt": "A cat", "size": "1792x1024"})


def test_seed_004s_not_ready_answers_are_documented():
    content = CONTRACT["paths"]["/v1/videos/{video_id}/content"]["get"]["responses"]
    assert {"200", "202", "404"} <= set(content)
    schema_of("ContentNotReadyBody").validate(openai.SEED_004_NOT_READY_BODY)
    assert set(content["200"]["content"]) == {"video/mp4", "image/webp", "image/jpeg", "application/json"}
    assert set(media.CONTENT_TYPES.values()) <= set(content["200"]["content"])


def test_the_profiles_are_named_and_the_seed_profile_is_described():
    description = CONTRACT["info"]["description"]
    for name in profiles.PROFILES:
        assert f"`{name}`" in description


# --- the test-mode switch ----------------------------------------------------------------------------


def test_the_suite_runs_with_validation_on():
    assert ServerConfig().validate_responses is True  # tests/conftest.py sets VIDEOMOCK_VALIDATE_RESPONSES=1
    assert ServerConfig(validate_responses=False).validate_responses is False


def test_the_cli_has_the_switch():
    assert "--validate-responses" in CliRunner().invoke(main, ["serve", "--help"]).output


def _drift(monkeypatch):
    """Make the submit answer drift from the contract (status "pending", no "format")."""
    monkeypatch.setattr(profiles.GatewayProfile, "render_submit",
                        lambda self, task, state: {"task_id": task.id, "status": "pending"})


def test_a_drifting_answer_becomes_a_500_naming_the_operation_and_is_recorded(client, server, monkeypatch):
    _drift(monkeypatch)
    response = client.post("/v1/video/generations", json={"model": "wanx-video-v1", "prompt": "A dragon"})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "contract_violation" and error["type"] == "server_error"
    assert "submitVideoTask (POST /v1/video/generations)" in error["message"]
    assert "'format' is a required property" in error["message"]
    assert len(server.errors) == 1 and "contract violation" in server.errors[0]
    server.errors.clear()  # the drift was on purpose


def test_a_drifting_streamed_answer_is_recorded(client, server, monkeypatch):
    video = client.post("/v1/videos", json={"prompt": "A cat"}).json()
    server.clock.advance(600)
    monkeypatch.setitem(media.CONTENT_TYPES, "video", "video/webm")
    response = client.get(f"/v1/videos/{video['id']}/content")
    assert response.status_code == 200  # already on its way when the headers are checked
    assert len(server.errors) == 1 and "RetrieveVideoContent" in server.errors[0] and "video/webm" in server.errors[0]
    server.errors.clear()


def test_without_the_switch_nothing_is_checked(monkeypatch):
    _drift(monkeypatch)
    with ServerThread(manual_clock=True, validate_responses=False) as bare:
        response = requests.post(bare.base_url + "/v1/video/generations",
                                 json={"model": "wanx-video-v1", "prompt": "x"},
                                 headers={"Authorization": f"Bearer {bare.api_key}"}, timeout=10)
        assert response.status_code == 200 and response.json()["status"] == "pending"
        assert bare.errors == []


def test_other_profiles_and_deliberate_fault_answers_are_not_checked(client, server):
    with ServerThread(manual_clock=True, profile="new-api") as new_api:
        answer = requests.get(new_api.base_url + "/v1/video/generations/video_unknown",
                              headers={"Authorization": f"Bearer {new_api.api_key}"}, timeout=10)
        assert answer.status_code == 400 and answer.json()["code"] == "task_not_exist"
        assert new_api.errors == []
    server.control.add_fault({"match": {"operation": "openai:list_videos"}, "action": "malformed_json", "times": 1})
    server.control.add_fault({"match": {"operation": "openai:list_videos"}, "status": 418, "times": 1})
    server.control.add_fault({"match": {"operation": "openai:list_videos"}, "status": 429, "retry_after": 2})
    assert client.get("/v1/videos").status_code == 200  # cut JSON, on purpose
    assert client.get("/v1/videos").status_code == 418  # an undocumented status: only the envelope is checked
    limited = client.get("/v1/videos")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert server.errors == []


def test_the_checker_compiles_each_schema_once():
    first = contract.checker().validator("/components/schemas/VideoResource")
    assert contract.checker().validator("/components/schemas/VideoResource") is first


def test_the_journal_answers_in_the_contract_whatever_the_requests_carried(client, server):
    # A 100-bit integer in a refused body: the journal still answers (it once failed with a 500).
    refused = client.post("/v1/video/generations", data='{"model": "wanx-video-v1", "prompt": "x", "duration": '
                          + str(2**100) + "}", headers={"Content-Type": "application/json"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "duration"
    journal = client.get("/_videomock/journal")
    assert journal.status_code == 200
    entries = journal.json()
    assert entries[-1]["request_body"]["duration"] == 2**100
    for entry in entries:
        schema_of("JournalEntry").validate(entry)
