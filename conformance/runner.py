"""Run checks without pytest (used by tests and embedders); ``videomock check`` runs them under pytest."""

from __future__ import annotations

from collections.abc import Iterable

from conformance.context import Context
from conformance.failures import Finding, NotApplicable
from conformance.registry import load_all


def run_checks(context: Context, only: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
    """Run checks in catalogue order, free ones first.

    Returns:
        ``{check id: (outcome, message)}`` with outcome ``passed``, ``failed`` or ``skipped``.
    """
    catalogue = load_all()
    selected = [c for c in catalogue.values() if only is None or c.id in set(only)]
    selected.sort(key=lambda c: (0 if c.free else 1 + len(c.tasks), ",".join(c.tasks) + c.id))
    results: dict[str, tuple[str, str]] = {}
    for entry in selected:
        try:
            entry.func(context)
        except NotApplicable as exc:
            results[entry.id] = ("skipped", str(exc))
        except Finding as exc:
            results[entry.id] = ("failed", str(exc))
        except Exception as exc:
            results[entry.id] = ("failed", f"the gateway's answers could not be interpreted: {exc!r}")
        else:
            results[entry.id] = ("passed", "")
    return results
