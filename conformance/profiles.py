"""Which known gateway variant a gateway behaves like (../shared/reference/dialects.md).

Checks record observations (response shapes, status words, error envelopes); each variant is a
signature of expected observations, and the closest one is reported.
"""

from __future__ import annotations

from typing import Any

#: Expected observations per known variant; a value may be a set of acceptable values.
SIGNATURES: dict[str, dict[str, Any]] = {
    "seed": {  # the documented behaviour of seeds 000-003
        "submit_status": {"submitted"}, "submit_shape": "flat", "query_shape": "flat", "status_case": "lower",
        "progress": True, "unknown_task_status": {404}, "failed_error_code": "str",
    },
    "new-api": {  # QuantumNous/new-api upstream code (dialects.md §1.5, §1.6)
        "submit_status": {"queued"}, "submit_shape": "video_object", "query_shape": "wrapped",
        "status_case": "upper", "progress": True, "unknown_task_status": {400},
    },
    "nebula": {  # Dkrillex/nebula-new-api code (dialects.md §1.6, §1.7)
        "submit_status": {"submitted"}, "submit_shape": "flat", "query_shape": "flat", "status_case": "lower",
        "progress": False, "unknown_task_status": {404}, "failed_error_code": "int",
    },
}


def closest(observations: dict[str, Any]) -> dict[str, Any]:
    """The variant whose signature matches most observations.

    Returns:
        ``{"name": best or "unknown", "scores": {variant: matched observations}, "observations": {...}}``.
    """
    plain = {k: v for k, v in observations.items() if isinstance(v, str | int | bool | float)}
    scores = {}
    for name, signature in SIGNATURES.items():
        score = 0
        for key, expected in signature.items():
            if key not in plain:
                continue
            matched = plain[key] in expected if isinstance(expected, set) else plain[key] == expected
            score += 1 if matched else -1
        scores[name] = score
    best = max(scores, key=lambda n: scores[n]) if plain else "unknown"
    return {"name": best if plain and scores[best] > 0 else "unknown", "scores": scores, "observations": plain}
