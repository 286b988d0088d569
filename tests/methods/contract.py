"""The contract every sign-in method keeps. A method's test module subclasses
:class:`MethodContract` and says how to produce a right and a wrong answer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from vahva.errors import AlreadyCompleted, ExpiredChallenge, VahvaError
from vahva.methods import registry
from vahva.methods.models import PendingEnrolment, RegisteredMethod

#: RFC 8176 §2 "Authentication Method Reference Values".
RFC8176 = {
    "face",
    "fpt",
    "geo",
    "hwk",
    "iris",
    "kba",
    "mca",
    "mfa",
    "otp",
    "pin",
    "pop",
    "pwd",
    "rba",
    "retina",
    "sc",
    "sms",
    "swk",
    "tel",
    "user",
    "vbm",
    "wia",
}


@pytest.mark.django_db
class MethodContract:
    kind: str

    def right_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        raise NotImplementedError

    def wrong_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        raise NotImplementedError

    # --- the contract ------------------------------------------------------------------------

    def test_is_registered_with_valid_metadata(self) -> None:
        method = registry.get(self.kind)
        assert method.kind == self.kind
        assert str(method.label)
        assert str(method.prompt)
        assert str(method.description)
        assert method.amr
        assert set(method.amr) <= RFC8176

    def test_enrol_with_the_right_proof_saves_one_method(self, alice: Any, clock: Any) -> None:
        method = registry.get(self.kind)
        pending = method.start_enrolment(alice, now=clock())
        saved = method.finish_enrolment(pending, self.right_answer(pending, clock()), now=clock())
        assert RegisteredMethod.objects.filter(user=alice).get() == saved
        assert saved.kind == self.kind
        assert method.describe(saved)

    def test_wrong_proof_saves_nothing(self, alice: Any, clock: Any) -> None:
        method = registry.get(self.kind)
        pending = method.start_enrolment(alice, now=clock())
        with pytest.raises(VahvaError):
            method.finish_enrolment(pending, self.wrong_answer(pending, clock()), now=clock())
        assert not RegisteredMethod.objects.filter(user=alice).exists()

    def test_expired_enrolment_saves_nothing(self, alice: Any, clock: Any) -> None:
        method = registry.get(self.kind)
        pending = method.start_enrolment(alice, now=clock())
        clock.advance(24 * 3600)
        with pytest.raises(ExpiredChallenge):
            method.finish_enrolment(pending, self.right_answer(pending, clock()), now=clock())
        assert not RegisteredMethod.objects.filter(user=alice).exists()

    def test_enrolment_is_consumed_once(self, alice: Any, clock: Any) -> None:
        method = registry.get(self.kind)
        pending = method.start_enrolment(alice, now=clock())
        answer = self.right_answer(pending, clock())
        method.finish_enrolment(pending, answer, now=clock())
        again = PendingEnrolment.objects.get(pk=pending.pk)
        again.consumed = False  # as a parallel request that read the row before would see it
        with pytest.raises(AlreadyCompleted):
            method.finish_enrolment(again, answer, now=clock())
        assert RegisteredMethod.objects.filter(user=alice).count() == 1

    def test_verify_right_and_wrong(self, alice: Any, clock: Any) -> None:
        method = registry.get(self.kind)
        pending = method.start_enrolment(alice, now=clock())
        saved = method.finish_enrolment(pending, self.right_answer(pending, clock()), now=clock())
        clock.advance(60)
        with pytest.raises(VahvaError):
            method.verify(saved, self.wrong_answer(saved, clock()), now=clock())
        method.verify(saved, self.right_answer(saved, clock()), now=clock())
        assert RegisteredMethod.objects.get(pk=saved.pk).last_used_at == clock()

    def test_garbage_answers_are_typed_errors(self, alice: Any, clock: Any) -> None:
        method = registry.get(self.kind)
        pending = method.start_enrolment(alice, now=clock())
        saved = method.finish_enrolment(pending, self.right_answer(pending, clock()), now=clock())
        for garbage in ("", " ", "\x00", "💥" * 10, "9" * 1000, "<script>"):
            with pytest.raises(VahvaError):
                method.verify(saved, garbage, now=clock())
