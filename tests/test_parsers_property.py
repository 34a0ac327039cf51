"""Property-based tests of the request parsers (issue 9): whatever a buggy client sends, each parser
either accepts it or raises ApiError (or ValueError, for the control API's rule and scenario data),
never anything else, and the HTTP layer answers it with a 4xx in the envelope, never a 5xx.

CI runs a small number of examples per property (fast, derandomized). ``bench/fuzz.py`` runs the
same properties with many more (``VIDEOMOCK_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver import catalog
from mockserver.catalog import RenderSpec
from mockserver.dialects import openai
from mockserver.errors import ApiError
from mockserver.faults import ACTIONS, FaultBook, Match
from mockserver.http import MAX_PROMPT, check_prompt
from mockserver.lifecycle import DEFAULT_TIMINGS, FAILURES, plan_for
from mockserver.scenarios import ScenarioBook
from mockserver.server import ServerThread

FUZZ = int(os.environ.get("VIDEOMOCK_FUZZ_EXAMPLES", "0"))
settings.register_profile("videomock-ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("videomock-fuzz", max_examples=max(FUZZ, 1), deadline=None, database=None,
                          suppress_health_check=list(HealthCheck))
SETTINGS = settings.get_profile("videomock-fuzz" if FUZZ else "videomock-ci")
#: The HTTP properties share one module-scoped server (their examples are independent requests).
HTTP_SETTINGS = settings(SETTINGS, suppress_health_check=list(HealthCheck))

KEY = {"Authorization": "Bearer sk-xxxxxxxxxx"}

scalars = (st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.integers()
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
#: Any JSON value (what a client can put in a body).
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
urls = st.sampled_from(["http://127.0.0.1:9/x.png", "https://example.com/a.jpg", "HTTPS://E.COM/x",
                        "data:image/png;base64,iVBORw0KGgo=", "ftp://x/y", "file:///etc/passwd", "javascript:x",
                        "http://", "https:// x", "aGVsbG8=", "iVBORw0KGgo", "data:,x"])


def _param_values(spec: catalog.ModelSpec) -> st.SearchStrategy[tuple[str, Any]]:
    """A (key, value) of a body: mostly the model's own parameters with near-valid values, sometimes junk."""
    def for_param(param: catalog.Param) -> st.SearchStrategy[tuple[str, Any]]:
        near = [*(param.choices or ()), *(str(c) for c in param.choices or ()), param.default]
        values = st.sampled_from(near) | urls | json_values if near else urls | json_values
        return st.tuples(st.just(param.name), values)

    own = st.one_of(*(for_param(p) for p in spec.params.values()))
    return own | st.tuples(st.text(max_size=12), json_values)


@st.composite
def gateway_bodies(draw: st.DrawFn) -> tuple[catalog.ModelSpec, dict[str, Any]]:
    spec = draw(st.sampled_from(list(catalog.MODELS.values())))
    pairs = draw(st.lists(_param_values(spec), max_size=6))
    return spec, dict(pairs)


@SETTINGS
@given(gateway_bodies())
def test_catalog_validate_accepts_or_raises_api_error(case):
    spec, body = case
    try:
        params, render = catalog.validate(spec, body)
    except ApiError as error:
        assert 400 <= error.status < 500 and error.message
        return
    assert isinstance(render, RenderSpec) and render.width > 0 and render.height > 0 and render.seconds > 0
    assert render.width % 2 == 0 and render.height % 2 == 0
    assert set(params) <= set(spec.params)


@SETTINGS
@given(json_values | st.sampled_from(list(catalog.MODELS)))
def test_catalog_lookup_accepts_or_raises_api_error(model):
    try:
        assert catalog.lookup(model).model == model
    except ApiError as error:
        assert error.status in (400, 404) and error.param == "model"


@SETTINGS
@given(json_values | st.builds(lambda n, c: c * n, st.integers(MAX_PROMPT - 2, MAX_PROMPT + 2),
                               st.sampled_from("a \n")))
def test_check_prompt_accepts_or_raises_api_error(value):
    try:
        prompt = check_prompt(value)
    except ApiError as error:
        assert error.status == 400 and error.param == "prompt"
        return
    assert prompt == value and prompt.strip() and len(prompt) <= MAX_PROMPT


@SETTINGS
@given(json_values | st.fixed_dictionaries({}, optional={"image_url": urls | json_values, "file_id": json_values}))
def test_openai_input_reference_accepts_or_raises_api_error(value):
    try:
        reference = openai.check_input_reference(value)
    except ApiError as error:
        assert error.status == 400 and error.param.startswith("input_reference")
        return
    assert reference is None or len(reference) == 1


@st.composite
def openai_fields(draw: st.DrawFn) -> dict[str, Any]:
    """A create body's fields: the documented ones with near-valid values, plus junk now and then."""
    near = {"prompt": st.text(max_size=30) | json_values, "model": st.sampled_from([*openai.MODELS, "sora-3"]),
            "seconds": st.sampled_from([*openai.SECONDS, 4, "5", ""]),
            "size": st.sampled_from([*openai.SIZES, "1x1", "720X1280"]),
            "input_reference": st.fixed_dictionaries({}, optional={"image_url": urls, "file_id": st.text(max_size=8)})}
    fields = draw(st.fixed_dictionaries({}, optional={k: v | json_values for k, v in near.items()}))
    if draw(st.booleans()):
        fields.update(draw(st.dictionaries(st.text(max_size=10), json_values, max_size=2)))
    return fields


def parse_create(fields: dict[str, Any]) -> tuple[str, str, str, str, Any]:
    """The checks ``openai.create_video`` runs on a body's fields, in its order."""
    openai.reject_unknown(fields, openai.CREATE_FIELDS)
    if hasattr(openai, "reject_nulls"):
        openai.reject_nulls(fields)
    prompt = check_prompt(fields.get("prompt"))
    model = openai.check_model(fields.get("model"))
    seconds = openai.check_choice("seconds", fields.get("seconds"), openai.SECONDS, "4")
    size = openai.check_choice("size", fields.get("size"), openai.SIZES, "720x1280")
    return prompt, model, seconds, size, openai.check_input_reference(fields.get("input_reference"))


@SETTINGS
@given(openai_fields())
def test_openai_create_body_parsing_accepts_or_raises_api_error(fields):
    try:
        prompt, model, seconds, size, _ = parse_create(fields)
    except ApiError as error:
        assert 400 <= error.status < 500
        return
    assert model in openai.MODELS and seconds in openai.SECONDS and size in openai.SIZES and prompt.strip()


fault_specs = st.fixed_dictionaries({}, optional={
    "match": st.fixed_dictionaries({}, optional={
        **{key: st.text(max_size=10) | json_values for key in Match.__slots__},
        "nth": st.integers(-2, 5) | st.lists(st.integers(-2, 5) | json_values, max_size=3) | json_values,
        "probability": st.floats(-1, 2) | json_values}) | json_values,
    "action": st.sampled_from(ACTIONS) | json_values,
    "status": st.integers(0, 700) | json_values, "retry_after": st.floats(-5, 1e6) | json_values,
    "body": json_values, "headers": st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2) | json_values,
    "mode": st.sampled_from(["202", "json200", "404", 202]) | json_values,
    "bytes_per_second": st.floats(-1, 1e7) | json_values, "at_byte": st.integers(-1, 10**6) | json_values,
    "seconds": st.floats(-1, 1e5) | json_values, "times": st.integers(-1, 5) | json_values,
    "latency": st.floats(-1, 10) | st.fixed_dictionaries({}, optional={
        "fixed": json_values, "uniform": st.lists(st.floats(-1, 5), max_size=3) | json_values,
        "lognormal": st.fixed_dictionaries({}, optional={"mu": st.floats(-30, 30), "sigma": st.floats(-1, 9)})})
    | json_values,
}) | st.dictionaries(st.text(max_size=8), json_values, max_size=3)


@SETTINGS
@given(fault_specs)
def test_fault_rules_are_accepted_or_refused_with_value_error(spec):
    try:
        rule = FaultBook(seed=1).add(spec)
    except (ValueError, ApiError):
        return
    assert rule.action in ACTIONS
    assert rule.describe()["id"] == rule.id


script_specs = st.fixed_dictionaries({}, optional={
    "fail_at": st.integers(-5, 120) | json_values, "error": st.sampled_from(list(FAILURES)) | json_values,
    "stall_at": st.integers(-5, 120) | json_values,
    "stall_seconds": st.floats(-1, 1e4) | st.sampled_from(["inf", "forever"]) | json_values,
    "ttl": st.floats(-1, 1e6) | json_values, "queued": st.floats(-1, 1e3) | json_values,
    "generating": st.floats(-1, 1e3) | json_values, "not_ready": st.sampled_from(["202", "json200", "404", 202])})
#: Scenario files of the documented shape (each section the documented container), with any leaf values.
#: Files whose sections have other shapes (``models: 5``) are not covered: see the note in ``test_scenario_files``.
model_rules = st.fixed_dictionaries({}, optional={
    "queued": st.floats(-1, 100) | json_values, "generating": st.floats(-1, 100) | json_values,
    "failure_rate": st.floats(-0.5, 1.5) | json_values,
    "failure_kinds": st.dictionaries(st.sampled_from([*FAILURES, "x"]), st.floats(-1, 5) | json_values, max_size=3)})
scenario_files = st.fixed_dictionaries({}, optional={
    "default": st.sampled_from(["success", "stall", "nope"]) | json_values,
    "ttl": st.floats(-1, 1e5) | json_values, "not_ready": st.sampled_from(["202", "json200", "x"]) | json_values,
    "models": st.dictionaries(st.sampled_from(["sora-2", "veo", "*", "x"]), model_rules, max_size=2),
    "scripts": st.dictionaries(st.text(max_size=6), script_specs, max_size=2),
    "keys": st.dictionaries(st.text(max_size=6), st.sampled_from(["success", "timeout", "nope"]), max_size=2),
    "faults": st.lists(fault_specs, max_size=2),
})


@SETTINGS
@given(scenario_files)
def test_scenario_files_are_accepted_or_refused_with_value_error(data):
    try:
        book = ScenarioBook(data, seed=1)
    except (ValueError, ApiError):
        return
    # Accepted: every task it can shape gets a valid plan (a bad value must fail at load, not at submit).
    for model, family in (("sora-2", "sora"), ("veo-3.0-fast-generate-001", "veo")):
        timing = book.timing(model, family)
        for script in book.scripts.values():
            plan_for(timing, 8, script, ttl=3600.0)
        book.select(header=None, prompt="p", api_key="k", model=model, family=family)
    assert set(book.describe()) >= {"default", "scripts", "models"}


@SETTINGS
@given(st.text(max_size=12), script_specs | st.dictionaries(st.text(max_size=8), json_values, max_size=3))
def test_scenario_scripts_added_at_runtime_are_accepted_or_refused_with_value_error(name, spec):
    try:
        script = ScenarioBook(seed=1).add(name, spec)
    except (ValueError, ApiError):
        return
    plan_for(DEFAULT_TIMINGS["sora"], 8, script)


# --- the same parsers behind HTTP: never a 5xx -----------------------------------------------------

@pytest.fixture(scope="module")
def live() -> Iterator[tuple[ServerThread, requests.Session]]:
    with ServerThread(manual_clock=True, examples=False, max_tasks=10**6) as server, requests.Session() as http:
        http.headers.update(KEY)
        yield server, http
        assert not server.errors, "\n".join(server.errors)


def _answered(response: requests.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) >= {"message", "type", "code"}


@HTTP_SETTINGS
@given(body=gateway_bodies().map(lambda case: {"model": case[0].model, "prompt": "p", **case[1]}) | json_values)
def test_gateway_submit_over_http_never_answers_5xx(live, body):
    server, http = live
    _answered(http.post(f"{server.base_url}/v1/video/generations", json=body, timeout=10))


@HTTP_SETTINGS
@given(fields=openai_fields(), as_form=st.booleans())
def test_openai_create_over_http_never_answers_5xx(live, fields, as_form):
    server, http = live
    if as_form:  # multipart: every value as a text part, nested objects as bracketed keys
        parts = []
        for key, value in fields.items():
            items = value.items() if isinstance(value, dict) else [(None, value)]
            for inner, item in items:
                name = key if inner is None else f"{key}[{inner}]"
                parts.append((name, (None, item if isinstance(item, str) else str(item))))
        response = http.post(f"{server.base_url}/v1/videos", files=parts or {"prompt": (None, "")}, timeout=10)
    else:
        response = http.post(f"{server.base_url}/v1/videos", json=fields, timeout=10)
    _answered(response)


@HTTP_SETTINGS
@given(spec=fault_specs)
def test_control_fault_rules_over_http_never_answer_5xx(live, spec):
    server, http = live
    response = http.post(f"{server.base_url}/_videomock/faults", json=spec, timeout=10)
    _answered(response)
    http.delete(f"{server.base_url}/_videomock/faults", timeout=10)
