"""The conformance suite: one test per registered check, against the gateway given by --base-url."""

import pytest

from conformance.plugin import run_check
from conformance.registry import load_all

CHECKS = load_all()


@pytest.mark.parametrize("check_id", list(CHECKS))
def test_check(check_id, conformance_context):
    run_check(check_id, conformance_context)
