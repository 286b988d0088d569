"""The SMS method: number parsing, masking, codes (hashed, single use, expiry, tries), the
SMS-pumping limits, and the method contract."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.core import mail
from django.utils import translation

from tests.methods.contract import MethodContract
from tests.methods.phone_helpers import NUMBER, delivered, last_code, texts
from vahva.audit.models import AuditEvent
from vahva.errors import InvalidCode, MalformedInput, RateLimited, ReplayedCode
from vahva.gateways.models import DevText, OutboxMessage
from vahva.methods import challenges, registry
from vahva.methods.base import AttemptRef
from vahva.methods.challenges import TypeCode
from vahva.methods.models import PendingEnrolment, RegisteredMethod
from vahva.methods.phone import common as phone
from vahva.methods.phone import sms
from vahva.methods.phone.models import PhoneCode


def send(pending: PendingEnrolment, now: dt.datetime, **data: str) -> PendingEnrolment:
    form = {"number": "044 1234521", "country": "FI", "delivery": "sms", **data}
    return registry.get(pending.kind).enrolment_action(
        pending, "send", form, now=now, ip="192.0.2.7"
    )


class TestSmsContract(MethodContract):
    kind = "sms"

    def right_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        if isinstance(secret_holder, PendingEnrolment):
            if not PhoneCode.objects.filter(pending=secret_holder).exists():
                send(secret_holder, now)
        else:
            registry.get("sms").begin(secret_holder, now=now)
        return last_code()

    def wrong_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        right = self.right_answer(secret_holder, now)
        return "000000" if right != "000000" else "111111"


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["044 1234521", "+358441234521", "00358441234521", "044-123 45 21", "(044) 1234521"]
)
def test_the_ways_people_type_a_finnish_number(typed: str) -> None:
    assert phone.parse(typed, "FI") == NUMBER


def test_the_default_country_applies_without_a_code() -> None:
    assert phone.parse("044 1234521") == NUMBER
    assert phone.parse("070 123 45 67", "SE") == "+46701234567"


@pytest.mark.parametrize(
    ("typed", "country", "words"),
    [
        ("", "FI", "Enter your phone number"),
        ("044 12345ab", "FI", "only digits"),
        ("044", "FI", "too short"),
        ("0441234567890123", "FI", "too long"),
        ("044 1234521", "XX", "Choose a country"),
        ("044 1234521", "US", "Choose a country"),  # not in the allowlist
        ("+1 202 555 0143", "FI", "cannot be used here"),
        ("0700 123456", "FI", "premium-rate"),
        ("+44 9098 790000", "FI", "premium-rate"),
        ("+999 1234567", "FI", "Check"),
        ("💥" * 5, "FI", "only digits"),
    ],
)
def test_bad_numbers_are_refused_with_a_message(typed: str, country: str, words: str) -> None:
    with pytest.raises(MalformedInput) as caught:
        phone.parse(typed, country)
    assert words in str(caught.value.message)


def test_masking_keeps_the_country_code_the_first_group_and_two_digits() -> None:
    assert phone.mask(NUMBER) == "+358 44 *** **21"
    assert phone.display(NUMBER) == "+358 44 1234521"
    assert "1234" not in phone.mask("+46701234567")


def test_country_dropdown_starts_with_the_deployment_default() -> None:
    choices = phone.country_choices()
    assert choices[0] == ("FI", "Finland (+358)")
    assert {code for code, _ in choices} == {"FI", "SE", "NO", "DK", "EE", "DE", "GB"}


# --- codes -----------------------------------------------------------------------------------


def test_codes_are_random_six_digits_and_stored_only_hashed(alice: Any, clock: Any) -> None:
    pending = send(registry.get("sms").start_enrolment(alice, now=clock()), clock())
    code = last_code()
    row = PhoneCode.objects.get(pending=pending)
    assert len(code) == 6
    assert code.isdigit()
    assert code not in row.digest
    assert code not in row.salt
    assert row.digest == sms.digest(code, row.salt)
    assert len({sms.new_code() for _ in range(50)}) > 40


def test_text_names_the_organisation_and_has_no_links(alice: Any, clock: Any) -> None:
    send(registry.get("sms").start_enrolment(alice, now=clock()), clock())
    delivered()
    body = DevText.objects.get().text
    assert "Demo University" in body
    assert "sign-in code" in body
    assert "http" not in body
    assert "www" not in body
    assert "/" not in body


def test_text_is_in_the_persons_language(make_user: Any, clock: Any) -> None:
    person = make_user("fi@example.org", language="fi")
    with pytest.MonkeyPatch.context() as patch:
        seen: list[str] = []
        original = sms.message
        patch.setattr(
            sms,
            "message",
            lambda code, *, language: seen.append(language) or original(code, language=language),
        )
        send(registry.get("sms").start_enrolment(person, now=clock()), clock())
    assert seen == ["fi"]


def test_a_code_expires_after_five_minutes(alice: Any, clock: Any) -> None:
    method = registry.get("sms")
    pending = send(method.start_enrolment(alice, now=clock()), clock())
    code = last_code()
    clock.advance(301)
    with pytest.raises(sms.CodeExpired):
        method.finish_enrolment(pending, code, now=clock())
    assert not RegisteredMethod.objects.exists()


def test_five_wrong_tries_kill_the_code(alice: Any, clock: Any) -> None:
    method = registry.get("sms")
    pending = send(method.start_enrolment(alice, now=clock()), clock())
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        with pytest.raises(InvalidCode):
            method.finish_enrolment(pending, wrong, now=clock())
    with pytest.raises(sms.CodeExpired):
        method.finish_enrolment(pending, wrong, now=clock())
    with pytest.raises(sms.CodeExpired):
        method.finish_enrolment(pending, code, now=clock())
    assert not RegisteredMethod.objects.exists()


def test_a_code_works_once(alice: Any, clock: Any) -> None:
    method = registry.get("sms")
    saved = method.finish_enrolment(
        send(method.start_enrolment(alice, now=clock()), clock())
        and PendingEnrolment.objects.get(),
        last_code(),
        now=clock(),
    )
    clock.advance(60)
    attempt = AttemptRef(id=str(uuid.uuid4()), ip="192.0.2.7")
    method.begin(saved, now=clock(), attempt=attempt)
    code = last_code()
    method.verify_for(saved, code, now=clock(), attempt=attempt)
    with pytest.raises(ReplayedCode):
        method.verify_for(saved, code, now=clock(), attempt=attempt)


def test_a_code_for_another_attempt_is_refused(alice: Any, clock: Any) -> None:
    method = registry.get("sms")
    pending = send(method.start_enrolment(alice, now=clock()), clock())
    saved = method.finish_enrolment(pending, last_code(), now=clock())
    clock.advance(60)
    mine, theirs = (AttemptRef(id=str(uuid.uuid4())) for _ in range(2))
    method.begin(saved, now=clock(), attempt=mine)
    code = last_code()
    with pytest.raises(sms.CodeExpired):
        method.verify_for(saved, code, now=clock(), attempt=theirs)
    method.verify_for(saved, code, now=clock(), attempt=mine)


def test_a_reload_of_the_sign_in_page_does_not_text_again(alice: Any, clock: Any) -> None:
    method = registry.get("sms")
    saved = method.finish_enrolment(
        send(method.start_enrolment(alice, now=clock()), clock()), last_code(), now=clock()
    )
    attempt = AttemptRef(id=str(uuid.uuid4()))
    before = texts()
    shown = method.begin(saved, now=clock(), attempt=attempt)
    assert isinstance(shown, TypeCode)
    assert shown.sent_to == "+358 44 *** **21"
    method.begin(saved, now=clock(), attempt=attempt)
    assert texts() == before + 1
    with pytest.raises(RateLimited) as caught:
        method.begin(saved, now=clock(), attempt=AttemptRef(id=attempt.id, resend=True))
    assert "in 30 seconds" in str(caught.value.message)
    clock.advance(30)
    method.begin(saved, now=clock(), attempt=AttemptRef(id=attempt.id, resend=True))
    assert texts() == before + 2


# --- enrolment steps -----------------------------------------------------------------------


def test_double_click_on_text_me_a_code_sends_once(alice: Any, clock: Any) -> None:
    pending = registry.get("sms").start_enrolment(alice, now=clock())
    send(pending, clock())
    send(PendingEnrolment.objects.get(), clock())
    assert texts() == 1
    with pytest.raises(RateLimited):
        registry.get("sms").enrolment_action(
            PendingEnrolment.objects.get(), "resend", {}, now=clock(), ip=None
        )
    clock.advance(31)
    registry.get("sms").enrolment_action(
        PendingEnrolment.objects.get(), "resend", {}, now=clock(), ip=None
    )
    assert texts() == 2


def test_bad_input_in_the_enrolment_steps_saves_nothing(alice: Any, clock: Any) -> None:
    pending = registry.get("sms").start_enrolment(alice, now=clock())
    for data in ({"number": "abc"}, {"delivery": "fax"}, {"number": "0700 123456"}):
        with pytest.raises(MalformedInput):
            send(pending, clock(), **data)
    with pytest.raises(MalformedInput):
        registry.get("sms").enrolment_action(pending, "explode", {}, now=clock(), ip=None)
    assert PendingEnrolment.objects.get().data == {}
    assert not OutboxMessage.objects.exists()
    delivered()
    assert not DevText.objects.exists()
    assert not PhoneCode.objects.exists()


# --- limits ----------------------------------------------------------------------------------


def test_limit_per_number_refuses_audits_and_alerts_once(
    alice: Any, make_user: Any, clock: Any, settings: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "PHONE_LIMITS": {"number": 2}, "PHONE_RESEND_AFTER": 0}
    method = registry.get("sms")
    for person in (alice, make_user("bob@example.org")):
        send(method.start_enrolment(person, now=clock()), clock())
    carol = make_user("carol@example.org")
    for _ in range(2):
        with pytest.raises(RateLimited) as caught:
            send(method.start_enrolment(carol, now=clock()), clock())
    assert "Try again in 60 minutes" in str(caught.value.message)
    assert texts() == 2
    refused = AuditEvent.objects.filter(action="phone.limited")
    assert refused.count() == 2
    assert refused.first().data["scope"] == "number"
    delivered()
    alerts = [m for m in mail.outbox if "Phone limit reached" in m.subject]
    # Once an hour, to the helpdesk (and to ADMINS, when there are any), not per refusal.
    assert [m.to for m in alerts] == [["helpdesk@demo.example"]]
    clock.advance(3601)
    send(method.start_enrolment(carol, now=clock()), clock())
    assert texts() == 3


def test_the_limit_alert_is_in_the_deployments_language(
    alice: Any, make_user: Any, clock: Any, settings: Any
) -> None:
    # The administrators and the helpdesk read the deployment's language (Finnish here), not
    # that of the person refused (Swedish) or of the request that was.
    settings.LANGUAGE_CODE = "fi"
    settings.ADMINS = [("Admin", "admin@demo.example")]
    settings.VAHVA = {**settings.VAHVA, "PHONE_LIMITS": {"number": 1}, "PHONE_RESEND_AFTER": 0}
    method = registry.get("sms")
    send(method.start_enrolment(alice, now=clock()), clock())
    carol = make_user("carol@example.org")
    carol.language = "sv"
    carol.save(update_fields=["language"])
    with pytest.raises(RateLimited), translation.override("sv"):
        send(method.start_enrolment(carol, now=clock()), clock())
    delivered()
    alerts = [m for m in mail.outbox if m.to != [alice.email]]
    assert sorted(m.to[0] for m in alerts) == ["admin@demo.example", "helpdesk@demo.example"]
    for alert in alerts:
        assert "Tekstiviestien ja puheluiden raja saavutettu: number" in alert.subject
        assert "lähetys (sms) numeroon +358 44 *** **21 estettiin" in alert.body
        assert "(tapahtuma phone.limited)" in alert.body
        assert "reached" not in alert.body


@pytest.mark.parametrize("scope", ["person", "ip", "country"])
def test_hourly_limits_per_person_ip_and_country(
    scope: str, alice: Any, make_user: Any, clock: Any, settings: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "PHONE_LIMITS": {scope: 2}, "PHONE_RESEND_AFTER": 0}
    method = registry.get("sms")
    people = (
        [alice, alice, alice]
        if scope == "person"
        else [make_user(f"p{i}@example.org") for i in range(3)]
    )
    numbers = ["044 1234521", "044 1234522", "044 1234523"]
    for index, (person, number) in enumerate(zip(people, numbers, strict=True)):
        pending = method.start_enrolment(person, now=clock())
        if index < 2:
            send(pending, clock(), number=number)
        else:
            with pytest.raises(RateLimited):
                send(pending, clock(), number=number)
    assert AuditEvent.objects.get(action="phone.limited").data["scope"] == scope


def test_the_global_daily_cap(alice: Any, make_user: Any, clock: Any, settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "PHONE_DAILY_CAP": 1}
    method = registry.get("sms")
    send(method.start_enrolment(alice, now=clock()), clock())
    with pytest.raises(RateLimited):
        send(
            method.start_enrolment(make_user("b@example.org"), now=clock()),
            clock(),
            number="044 1234599",
        )
    assert AuditEvent.objects.get(action="phone.limited").data["scope"] == "daily"
    clock.advance(23 * 3600)
    with pytest.raises(RateLimited):
        send(
            method.start_enrolment(make_user("c@example.org"), now=clock()),
            clock(),
            number="044 1234598",
        )
    clock.advance(3601)
    send(
        method.start_enrolment(make_user("d@example.org"), now=clock()),
        clock(),
        number="044 1234597",
    )


def test_a_registration_text_does_not_use_up_the_persons_sign_in_texts(
    alice: Any, clock: Any, settings: Any
) -> None:
    """Issue #19 item 6: the registration's test text counts apart from sign-ins."""
    settings.VAHVA = {**settings.VAHVA, "PHONE_LIMITS": {"person": 1}, "PHONE_RESEND_AFTER": 0}
    method = registry.get("sms")
    saved = method.finish_enrolment(
        send(method.start_enrolment(alice, now=clock()), clock()), last_code(), now=clock()
    )
    # Registering took the person's one registration text this hour; signing in still texts.
    first = clock()
    shown = method.begin(saved, now=first, attempt=AttemptRef(id=str(uuid.uuid4())))
    assert isinstance(shown, TypeCode)
    assert shown.sent_to == "+358 44 *** **21"
    assert texts() == 2
    # The next sign-in's text is over the limit: nothing is sent, the page says until when.
    clock.advance(600)
    limited = method.begin(saved, now=clock(), attempt=AttemptRef(id=str(uuid.uuid4())))
    assert isinstance(limited, challenges.LimitReached)
    assert limited.until == first + dt.timedelta(hours=1)
    assert "Try again in 50 minutes" in str(limited.message)
    assert texts() == 2
    assert AuditEvent.objects.get(action="phone.limited").data["scope"] == "person"


def test_a_registration_text_still_counts_for_the_number(
    alice: Any, clock: Any, settings: Any
) -> None:
    """SMS pumping: the number's (and the address's, the country's, the day's) limits count
    registration texts and sign-in texts alike."""
    settings.VAHVA = {**settings.VAHVA, "PHONE_LIMITS": {"number": 1}, "PHONE_RESEND_AFTER": 0}
    method = registry.get("sms")
    saved = method.finish_enrolment(
        send(method.start_enrolment(alice, now=clock()), clock()), last_code(), now=clock()
    )
    limited = method.begin(saved, now=clock(), attempt=AttemptRef(id=str(uuid.uuid4())))
    assert isinstance(limited, challenges.LimitReached)
    assert texts() == 1
    assert AuditEvent.objects.get(action="phone.limited").data["scope"] == "number"
