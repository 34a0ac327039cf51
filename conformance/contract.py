"""The contract (``openapi/videomock.yaml``) as JSON Schema validators, for checks on response bodies."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.failures import Finding

_BASE = "urn:videomock:contract"


def contract_path() -> Path:
    """Where the contract is: ``openapi/`` beside the packages, or the wheel's copy.

    Raises:
        FileNotFoundError: neither exists.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "mockserver" / "_openapi" / "videomock.yaml",
                      here.parent / "openapi" / "videomock.yaml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("openapi/videomock.yaml was not found")


@cache
def _document() -> dict[str, Any]:
    with contract_path().open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@cache
def _validator(schema_name: str) -> jsonschema.protocols.Validator:
    document = _document()
    if schema_name not in document.get("components", {}).get("schemas", {}):
        raise KeyError(f"the contract has no schema {schema_name!r}")
    registry = Registry().with_resource(_BASE, Resource.from_contents(document, default_specification=DRAFT202012))
    schema = {"$ref": f"{_BASE}#/components/schemas/{schema_name}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate(schema_name: str, body: Any, exchange: Any) -> None:
    """Check ``body`` against the contract's ``components.schemas[schema_name]``.

    Raises:
        Finding: the body violates the schema (the message names the path and the rule).
    """
    errors = sorted(_validator(schema_name).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise Finding(f"the body violates {schema_name} at {where}: {first.message}", [exchange.evidence()])
