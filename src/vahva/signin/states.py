"""The sign-in attempt's states and the only moves between them (a lookup table)."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    PASSWORD_OK = "password_ok"  # noqa: S105 (a state name, not a password)
    MFA_REQUIRED = "mfa_required"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


class Event(StrEnum):
    REQUIRE_MFA = "require_mfa"
    SKIP_MFA = "skip_mfa"
    PASS_MFA = "pass_mfa"  # noqa: S105 (an event name)
    FAIL = "fail"
    EXPIRE = "expire"


class InvalidTransition(Exception):
    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"{event} is not allowed in state {state}")
        self.state = state
        self.event = event


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.PASSWORD_OK, Event.REQUIRE_MFA): State.MFA_REQUIRED,
    (State.PASSWORD_OK, Event.SKIP_MFA): State.DONE,
    (State.PASSWORD_OK, Event.FAIL): State.FAILED,
    (State.PASSWORD_OK, Event.EXPIRE): State.EXPIRED,
    (State.MFA_REQUIRED, Event.PASS_MFA): State.DONE,
    (State.MFA_REQUIRED, Event.FAIL): State.FAILED,
    (State.MFA_REQUIRED, Event.EXPIRE): State.EXPIRED,
}

FINAL = frozenset({State.DONE, State.FAILED, State.EXPIRED})


def next_state(state: State, event: Event) -> State:
    """The state after ``event``; InvalidTransition for any move not in the table."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None
