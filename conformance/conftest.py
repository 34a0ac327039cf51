"""Loads the conformance suite's hooks when pytest collects this package (``pytest --pyargs conformance``)."""

from conformance.plugin import (  # noqa: F401
    conformance_context,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_runtest_makereport,
    pytest_sessionstart,
    pytest_terminal_summary,
)
