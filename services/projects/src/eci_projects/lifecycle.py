"""The project lifecycle as an explicit state machine: which status may follow which."""

from enum import StrEnum

from eci_common.errors import Conflict


class Status(StrEnum):
    DRAFT = "draft"
    OPEN_FOR_PARTNERS = "open_for_partners"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


FINAL = frozenset({Status.COMPLETED, Status.CANCELLED})

# draft → open for partners → active → completed; cancelled from any state that is not final.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.OPEN_FOR_PARTNERS, Status.CANCELLED}),
    Status.OPEN_FOR_PARTNERS: frozenset({Status.ACTIVE, Status.CANCELLED}),
    Status.ACTIVE: frozenset({Status.COMPLETED, Status.CANCELLED}),
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
}


class IllegalTransition(Conflict):
    """A status change the state machine does not allow (HTTP 409, naming the allowed ones)."""

    def __init__(self, current: Status, wanted: Status) -> None:
        allowed = sorted(status.value for status in TRANSITIONS[current])
        self.current = current
        self.wanted = wanted
        self.allowed = allowed
        super().__init__(
            f"a project {current.value} cannot become {wanted.value}; "
            f"allowed: {', '.join(allowed) if allowed else 'none (final state)'}"
        )


def check_transition(current: Status, wanted: Status) -> None:
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(current, wanted)
