"""Recovery codes: ten single-use codes, kept hashed, replaced as a whole, never the default."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import pytest
from django.db import connection

from tests.methods.contract import MethodContract
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.errors import InvalidCode, MalformedInput, ReplayedCode
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.models import PendingEnrolment, RegisteredMethod
from vahva.methods.recovery_codes import method as recovery_codes
from vahva.methods.recovery_codes.models import RecoveryCode

pytestmark = pytest.mark.django_db

METHOD = registry.get("recovery")
#: Well-formed (five groups of five) and not one of the codes made.
WRONG = "22222-22222-22222-22222-22222"


def _codes(pending: PendingEnrolment) -> list[str]:
    return list(METHOD.enrolment_context(pending)["codes"])


class TestRecoveryCodesContract(MethodContract):
    kind = "recovery"

    def right_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        if isinstance(secret_holder, PendingEnrolment):
            self.codes = _codes(secret_holder)
            return self.codes[0]
        return self.codes.pop()

    def wrong_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        shown = _codes(secret_holder) if isinstance(secret_holder, PendingEnrolment) else self.codes
        return next(c for c in (WRONG, WRONG.replace("2", "3")) if c not in shown)


def make_codes(user: Any, clock: FakeClock) -> tuple[RegisteredMethod, list[str]]:
    pending = METHOD.start_enrolment(user, now=clock())
    codes = _codes(pending)
    return METHOD.finish_enrolment(pending, codes[3], now=clock()), codes


def test_ten_random_codes_in_five_groups_of_five(alice: Any, clock: FakeClock) -> None:
    pending = METHOD.start_enrolment(alice, now=clock())
    codes = _codes(pending)
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"(?:[0-9A-HJKMNP-TV-Z]{5}-){4}[0-9A-HJKMNP-TV-Z]{5}", code)
    # The first two characters are the public index: one per code of the set.
    assert len({code[:2] for code in codes}) == 10
    other = _codes(METHOD.start_enrolment(alice, now=clock()))
    assert not set(codes) & set(other)
    text = METHOD.enrolment_context(pending)["download"]
    assert text.startswith("Demo University recovery codes for alice@example.org, made 2.3.2026")
    assert all(code in text for code in codes)


def test_the_secret_part_has_at_least_112_bits() -> None:
    """ASVS 5.0: a look-up secret has at least 112 bits (or a slow hash, which it has not)."""
    assert recovery_codes.SECRET_BITS == (25 - 2) * 5 == 115
    assert len(recovery_codes.generate()[0]) == 25
    # Every character from the 32 of the alphabet, so each carries 5 bits: all 32 show up.
    seen = set("".join(recovery_codes.generate() + recovery_codes.generate()))
    assert seen == set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_the_set_is_kept_as_salted_hashes_and_shown_once(alice: Any, clock: FakeClock) -> None:
    saved, codes = make_codes(alice, clock)
    rows = list(RecoveryCode.objects.filter(registered=saved))
    assert len(rows) == 10
    assert len({row.salt for row in rows}) == 10
    stored = " ".join(f"{row.index} {row.salt} {row.digest}" for row in rows)
    for code in codes:
        assert code.replace("-", "") not in stored
        # Only the index is kept in clear: none of the secret part.
        assert code.replace("-", "")[2:8] not in stored
    assert sorted(row.index for row in rows) == sorted(code[:2] for code in codes)
    assert saved.secret == ""
    # The clear codes left the pending enrolment with the set saved.
    assert PendingEnrolment.objects.get().secret == ""
    assert METHOD.describe(saved) == "Recovery codes (10 of 10 left)"


def test_confirming_needs_one_of_the_codes_shown(alice: Any, clock: FakeClock) -> None:
    pending = METHOD.start_enrolment(alice, now=clock())
    codes = _codes(pending)
    with pytest.raises(InvalidCode, match="not one of the codes shown"):
        METHOD.finish_enrolment(pending, WRONG, now=clock())
    assert not RegisteredMethod.objects.exists()
    # Typed in small letters without dashes, it is still the code.
    saved = METHOD.finish_enrolment(pending, codes[0].lower().replace("-", ""), now=clock())
    assert saved.kind == "recovery"


def test_each_code_works_once(alice: Any, clock: FakeClock) -> None:
    saved, codes = make_codes(alice, clock)
    clock.advance(60)
    METHOD.verify(saved, codes[0], now=clock())
    with pytest.raises(ReplayedCode, match="already used"):
        METHOD.verify(saved, codes[0], now=clock())
    # The code that confirmed the set is a code like the others.
    METHOD.verify(saved, codes[3], now=clock())
    assert recovery_codes.remaining(saved) == 8
    assert METHOD.describe(saved) == "Recovery codes (8 of 10 left)"
    assert RegisteredMethod.objects.get(pk=saved.pk).last_used_at == clock()
    used = AuditEvent.objects.filter(action="recovery.used").order_by("id")
    assert [e.data["remaining"] for e in used] == [9, 8]
    assert METHOD.used_message(saved) == "You used a recovery code. 8 codes are left."


def test_a_wrong_code_is_wrong_and_the_codes_still_work(alice: Any, clock: FakeClock) -> None:
    saved, codes = make_codes(alice, clock)
    with pytest.raises(InvalidCode, match="not right"):
        METHOD.verify(saved, WRONG, now=clock())
    # The right index with a wrong secret is just as wrong.
    near = codes[1][:2] + WRONG[2:]
    with pytest.raises(InvalidCode, match="not right"):
        METHOD.verify(saved, near, now=clock())
    with pytest.raises(MalformedInput, match="25 letters and digits in groups of five"):
        METHOD.verify(saved, "123456", now=clock())
    METHOD.verify(saved, codes[1], now=clock())


def test_a_check_is_one_keyed_hash_whatever_is_typed(
    alice: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index picks the one row: a check costs one fast keyed hash, not ten (nor argon2)."""
    saved, codes = make_codes(alice, clock)
    hashed: list[str] = []
    real = recovery_codes.digest
    monkeypatch.setattr(
        recovery_codes, "digest", lambda code, salt: hashed.append(code) or real(code, salt)
    )
    METHOD.verify(saved, codes[2], now=clock())
    assert len(hashed) == 1
    with pytest.raises(InvalidCode):
        METHOD.verify(saved, codes[4][:2] + WRONG[2:], now=clock())
    assert len(hashed) == 2
    with pytest.raises(InvalidCode):
        METHOD.verify(saved, WRONG, now=clock())  # an index of no code here
    assert len(hashed) == 3  # the same work as a wrong secret


def _old_set(user: Any, clock: FakeClock) -> tuple[RegisteredMethod, list[str]]:
    """A set made before codes had an index: 12 characters, no index, as it is stored."""
    saved = methods.save_new(user, "recovery", now=clock())
    codes = ["K7QM3XRDPW9T", "2B4C6D8E0F1G", "ZZZZYYYYXXXX"]
    for code in codes:
        RecoveryCode.objects.create(
            registered=saved, salt=f"salt{code}", digest=recovery_codes.digest(code, f"salt{code}")
        )
    return saved, ["K7QM-3XRD-PW9T", "2B4C-6D8E-0F1G", "ZZZZ-YYYY-XXXX"]


def test_codes_from_before_the_index_keep_working_and_ask_to_be_replaced(
    alice: Any, clock: FakeClock
) -> None:
    saved, codes = _old_set(alice, clock)
    assert METHOD.describe(saved) == (
        "Recovery codes (3 of 10 left, of an older, shorter kind: make new codes)"
    )
    METHOD.verify(saved, codes[0].lower(), now=clock())
    with pytest.raises(ReplayedCode):
        METHOD.verify(saved, codes[0], now=clock())
    with pytest.raises(InvalidCode):
        METHOD.verify(saved, "2222-2222-2222", now=clock())
    with pytest.raises(InvalidCode):
        METHOD.verify(saved, WRONG, now=clock())  # a new-style code is none of the old set's
    # New codes replace the old kind like any set; then only the new ones work.
    pending = METHOD.start_enrolment(alice, now=clock())
    new_codes = _codes(pending)
    new = METHOD.finish_enrolment(pending, new_codes[0], now=clock())
    assert METHOD.describe(new) == "Recovery codes (10 of 10 left)"
    with pytest.raises(InvalidCode):
        METHOD.verify(new, codes[1], now=clock())
    METHOD.verify(new, new_codes[1], now=clock())


def test_exhausted_codes_say_so_clearly(alice: Any, clock: FakeClock) -> None:
    saved, codes = make_codes(alice, clock)
    for code in codes:
        METHOD.verify(saved, code, now=clock())
    assert recovery_codes.remaining(saved) == 0
    assert "last recovery code" in METHOD.used_message(saved)
    with pytest.raises(recovery_codes.CodesUsedUp) as caught:
        METHOD.begin(saved, now=clock())
    assert caught.value.status == 410
    assert "used all your recovery codes" in str(caught.value.message)
    with pytest.raises(recovery_codes.CodesUsedUp):
        METHOD.verify(saved, codes[0], now=clock())


def test_new_codes_replace_the_whole_set_once_confirmed(alice: Any, clock: FakeClock) -> None:
    old, old_codes = make_codes(alice, clock)
    METHOD.verify(old, old_codes[0], now=clock())
    pending = METHOD.start_enrolment(alice, now=clock())
    context = METHOD.enrolment_context(pending)
    assert context["replacing"] == old
    assert context["replacing_left"] == 9
    # Until the new set is confirmed, the old codes work.
    METHOD.verify(old, old_codes[1], now=clock())
    new = METHOD.finish_enrolment(pending, context["codes"][0], now=clock())
    assert list(RegisteredMethod.objects.filter(user=alice)) == [new]
    assert RecoveryCode.objects.count() == 10
    with pytest.raises(InvalidCode):
        METHOD.verify(new, old_codes[2], now=clock())
    assert AuditEvent.objects.filter(action="recovery.regenerated", subject_id=alice.pk).exists()


def test_codes_are_never_the_default_and_come_last(
    alice_totp: tuple[Any, str], make_user: Any, clock: FakeClock
) -> None:
    totp, _secret = alice_totp
    codes, _ = make_codes(totp.user, clock)
    assert not codes.is_default
    assert methods.registered_for(totp.user) == [totp, codes]
    with pytest.raises(MalformedInput):
        methods.set_default(totp.user, codes.pk)
    # Removing the app leaves no default rather than making the codes one.
    methods.remove(totp.user, totp.pk)
    assert not RegisteredMethod.objects.get(pk=codes.pk).is_default
    # A person whose first method is a set of codes has no default yet either.
    bob = make_user("bob@example.org")
    first, _ = make_codes(bob, clock)
    assert not first.is_default
    later = methods.save_new(bob, "totp", now=clock(), secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    assert later.is_default


@pytest.mark.django_db(transaction=True)
def test_two_parallel_uses_of_one_code_only_one_wins(make_user: Any, clock: FakeClock) -> None:
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(":memory"):
        pytest.skip("needs a database shared between threads")
    user = make_user()
    saved, codes = make_codes(user, clock)
    results: list[str] = []
    barrier = threading.Barrier(2)

    def attempt() -> None:
        own = methods.get_for(user, saved.pk)  # each "request" reads the row itself
        barrier.wait()
        try:
            METHOD.verify(own, codes[0], now=clock())
            results.append("ok")
        except ReplayedCode:
            results.append("used")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["ok", "used"]
    assert recovery_codes.remaining(saved) == 9
