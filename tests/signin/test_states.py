"""The attempt state machine: every allowed move, and every other move refused."""

from __future__ import annotations

import itertools

import pytest

from vahva.signin.states import FINAL, TRANSITIONS, Event, InvalidTransition, State, next_state


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        (State.PASSWORD_OK, Event.REQUIRE_MFA, State.MFA_REQUIRED),
        (State.PASSWORD_OK, Event.SKIP_MFA, State.DONE),
        (State.PASSWORD_OK, Event.FAIL, State.FAILED),
        (State.PASSWORD_OK, Event.EXPIRE, State.EXPIRED),
        (State.MFA_REQUIRED, Event.PASS_MFA, State.DONE),
        (State.MFA_REQUIRED, Event.FAIL, State.FAILED),
        (State.MFA_REQUIRED, Event.EXPIRE, State.EXPIRED),
    ],
)
def test_allowed_moves(state: State, event: Event, expected: State) -> None:
    assert next_state(state, event) is expected


@pytest.mark.parametrize(
    ("state", "event"),
    [pair for pair in itertools.product(State, Event) if pair not in TRANSITIONS],
)
def test_every_other_move_is_refused(state: State, event: Event) -> None:
    with pytest.raises(InvalidTransition):
        next_state(state, event)


def test_final_states_have_no_way_out() -> None:
    for state in FINAL:
        assert not [event for (s, event) in TRANSITIONS if s == state]


def test_mfa_cannot_be_skipped_once_required() -> None:
    with pytest.raises(InvalidTransition):
        next_state(State.MFA_REQUIRED, Event.SKIP_MFA)
