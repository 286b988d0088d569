"""RequestedAuthnContext: what the door must demand, and which class is answered."""

from __future__ import annotations

import pytest

from vahva.saml import contexts
from vahva.saml.contexts import (
    MS_MULTIPLE_AUTHN,
    PASSWORD_PROTECTED,
    REFEDS_MFA,
    REFEDS_SFA,
    NoAuthnContext,
)

NATIVE = (REFEDS_SFA, REFEDS_MFA)


@pytest.mark.parametrize(
    ("classes", "comparison", "mfa"),
    [
        ((), None, False),
        ((REFEDS_MFA,), "exact", True),
        ((REFEDS_MFA,), None, True),  # exact is the default
        ((REFEDS_MFA, REFEDS_SFA), "exact", False),
        ((PASSWORD_PROTECTED,), "minimum", False),
        ((REFEDS_MFA,), "minimum", True),
        ((REFEDS_SFA,), "better", True),
        ((REFEDS_MFA,), "maximum", False),
        ((MS_MULTIPLE_AUTHN,), "exact", True),
        (("urn:example:unknown", REFEDS_MFA), "exact", True),
    ],
)
def test_what_the_door_must_demand(
    classes: tuple[str, ...], comparison: str | None, mfa: bool
) -> None:
    assert contexts.parse(classes, comparison).mfa is mfa


@pytest.mark.parametrize(
    ("classes", "comparison"),
    [
        (("urn:example:retina-scan",), "exact"),
        (("urn:example:retina-scan",), "minimum"),
        ((REFEDS_MFA,), "better"),
        ((REFEDS_SFA,), "sideways"),
    ],
)
def test_what_cannot_be_met_is_no_authn_context(classes: tuple[str, ...], comparison: str) -> None:
    with pytest.raises(NoAuthnContext):
        contexts.parse(classes, comparison)


def test_the_answer_never_claims_more_than_was_done() -> None:
    nothing = contexts.parse((), None)
    assert contexts.answer(nothing, multi_factor=True, native=NATIVE) == REFEDS_MFA
    assert contexts.answer(nothing, multi_factor=False, native=NATIVE) == REFEDS_SFA
    either = contexts.parse((REFEDS_MFA, REFEDS_SFA), "exact")
    assert contexts.answer(either, multi_factor=False, native=NATIVE) == REFEDS_SFA
    assert contexts.answer(either, multi_factor=True, native=NATIVE) == REFEDS_MFA
    only_sfa = contexts.parse((REFEDS_SFA,), "exact")
    # MFA includes a single factor: the exact class asked for is answered.
    assert contexts.answer(only_sfa, multi_factor=True, native=NATIVE) == REFEDS_SFA
    mfa = contexts.parse((REFEDS_MFA,), "exact")
    with pytest.raises(NoAuthnContext):
        contexts.answer(mfa, multi_factor=False, native=NATIVE)
    at_least = contexts.parse((PASSWORD_PROTECTED,), "minimum")
    assert contexts.answer(at_least, multi_factor=True, native=NATIVE) == REFEDS_MFA
