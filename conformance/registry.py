"""The check catalogue: every check is a registered function named for the property it asserts.

Each check has a stable id (``<dialect>.<area>.<property>``), a one-line statement, its source (seed
file and the quoted sentence, or the reference schema), a level (MUST / SHOULD) and a cost: the
shared tasks it needs (each shared task is created once per run, whatever number of checks use it)
plus the tasks it creates on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conformance.context import Context

CheckFunction = Callable[["Context"], None]


@dataclass(frozen=True, slots=True)
class Check:
    """One conformance check.

    Attributes:
        id: Stable id, e.g. ``gateway.download.size_is_decoded_length``.
        statement: The property, in one line.
        source: Where it is documented: ``seed 000: "…"`` or ``reference schema: VideoResource``.
        level: ``MUST`` or ``SHOULD``.
        dialect: ``gateway`` or ``openai``.
        tasks: Shared tasks it uses (kinds, e.g. ``sora``), each created once per run.
        own_tasks: Tasks it always creates for itself.
        risk_tasks: Tasks it creates only when the gateway deviates (accepts a request it must refuse).
        func: The function; raises :class:`~conformance.failures.Finding` on a deviation.
    """

    id: str
    statement: str
    source: str
    level: str
    dialect: str
    tasks: tuple[str, ...]
    own_tasks: int
    risk_tasks: int
    func: CheckFunction

    @property
    def free(self) -> bool:
        """Whether a conformant gateway bills nothing for this check."""
        return not self.tasks and not self.own_tasks


CHECKS: dict[str, Check] = {}


def check(id: str, statement: str, source: str, *, level: str = "MUST", tasks: tuple[str, ...] = (),
          own_tasks: int = 0, risk_tasks: int = 0) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under ``id``.

    Raises:
        ValueError: the id is taken, or the level is not MUST/SHOULD.
    """
    if id in CHECKS:
        raise ValueError(f"duplicate check id {id!r}")
    if level not in ("MUST", "SHOULD"):
        raise ValueError(f"level must be MUST or SHOULD, got {level!r}")

    def register(func: CheckFunction) -> CheckFunction:
        CHECKS[id] = Check(id, statement, source, level, id.split(".", 1)[0], tasks, own_tasks, risk_tasks, func)
        return func

    return register


def load_all() -> dict[str, Check]:
    """Import every check module (registration happens on import) and return the catalogue."""
    from conformance.checks import gateway, openai  # noqa: F401

    return CHECKS
