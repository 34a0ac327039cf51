"""What a check raises: a finding (a deviation, with evidence) or a reason it could not run."""

from __future__ import annotations

from typing import Any


class Finding(AssertionError):
    """Raised when a gateway deviates from the documented behaviour; carries the evidence.

    Attributes:
        message: What deviates, in one or two sentences.
        evidence: The exchanges that show it (requests and responses, keys redacted).
    """

    def __init__(self, message: str, evidence: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.evidence = evidence or []

    def __str__(self) -> str:
        lines = [self.message]
        for exchange in self.evidence[-6:]:
            lines.append(f"  {exchange['method']} {exchange['url']} -> {exchange['status']} "
                         f"{exchange.get('content_type', '')} {exchange.get('body_excerpt', '')[:300]}")
        return "\n".join(lines)


class NotApplicable(Exception):
    """Raised when a check cannot run on this gateway (its dialect is absent, over budget, not provokable)."""


class BudgetExceeded(NotApplicable):
    """Raised when creating a task would exceed ``--budget``."""
