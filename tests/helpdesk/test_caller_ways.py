"""Verifying a caller who has no vahva app at hand (issue #19 item 9): a code texted or called
to a registered number, a code read out from an authenticator app or a recovery code, or the
organisation's own procedure; and the attacks on it refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyotp
import pytest
from django.core import mail
from django.test import Client
from django.utils.timezone import localtime

from tests.helpers import force_mfa_login, text
from tests.methods.phone_helpers import NUMBER, delivered, last_code, texts
from tests.methods.test_recovery_codes import make_codes
from vahva.accounts.models import User
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.errors import ReplayedCode
from vahva.helpdesk.models import CallerCheck
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import AttemptRef
from vahva.methods.models import RegisteredMethod

pytestmark = pytest.mark.django_db

MASKED = "+358 44 *** **21"


def _phone(user: User, clock: FakeClock, kind: str = "sms", number: str = NUMBER) -> Any:
    return methods.save_new(
        user,
        kind,
        now=clock() - dt.timedelta(days=1),
        data={"number": number, "language": "en"},
    )


def _start(desk: Client, person: User, registered: RegisteredMethod, ticket: str = "INC-9") -> Any:
    return desk.post(
        f"/helpdesk/people/{person.pk}/callers/",
        {"caller-way": f"{registered.kind}:{registered.pk}", "caller-ticket": ticket},
    )


def _started(desk: Client, person: User, registered: RegisteredMethod, **kw: Any) -> str:
    response = _start(desk, person, registered, **kw)
    assert response.status_code == 302, text(response)
    return str(response["Location"])


def _read_out(desk: Client, page: str, code: str) -> Any:
    return desk.post(f"{page}code/", {"code": code})


def _outcomes() -> list[tuple[str, str, str]]:
    return [
        (e.outcome, e.reason, str(e.data.get("ticket")))
        for e in AuditEvent.objects.filter(action="helpdesk.caller_check").order_by("id")
    ]


def test_the_person_page_offers_what_the_person_has(
    desk: Client, alice: User, clock: FakeClock, alice_totp: Any
) -> None:
    _phone(alice, clock)
    _phone(alice, clock, "voice", "+358401234567")
    make_codes(alice, clock)
    page = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    assert f"Text a code to {MASKED}" in page
    assert "Call +358 40 *** **67 with a code" in page
    assert "A code from Authenticator app code" in page
    assert "Recovery codes (10 of 10 left)" in page
    assert "(the code read out is used up)" in page
    # The organisation's procedure, as guidance, with its confirmation.
    assert "call back on the number in the organisation&#x27;s records" in page
    assert "I verified the caller this way" in page


def test_a_person_with_nothing_gets_the_procedure_the_organisation_wrote(
    desk: Client, alice: User, settings: Any
) -> None:
    procedure = "Ask for the employee number; call back via HR."
    settings.VAHVA = {**settings.VAHVA, "HELPDESK_CALLER_PROCEDURE": procedure}
    page = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    assert 'id="no-caller-ways"' in page
    assert "Ask for the employee number; call back via HR." in page


def test_a_code_texted_and_read_back_verifies_the_caller(
    desk: Client, agent: User, alice: User, clock: FakeClock
) -> None:
    phone = _phone(alice, clock)
    page = _started(desk, alice, phone)
    shown = text(desk.get(page))
    assert f"A code was texted to {MASKED}." in shown
    assert "Ask the caller to read it out." in shown
    code = last_code()
    # The text says what it is for: the helpdesk, not a sign-in.
    assert "code for the Demo University helpdesk" in mail_free_text()
    wrong = _read_out(desk, page, "000000" if code != "000000" else "111111")
    assert wrong.status_code == 400
    assert "Not verified" in text(wrong)
    assert _read_out(desk, page, code).status_code == 302
    at = localtime(clock()).strftime("%H:%M")
    done = text(desk.get(page))
    assert f"Verified by a code texted to {MASKED} at {at}, ticket INC-9." in done
    assert _outcomes()[-1] == ("ok", f"caller verified: a code texted to {MASKED}", "INC-9")
    event = AuditEvent.objects.filter(action="helpdesk.caller_check").last()
    assert event is not None
    assert event.actor_id == agent.pk
    person = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    assert f"Caller verified</strong>. Verified by a code texted to {MASKED}." in person
    assert "Ticket INC-9." in person
    # A reload of the page shows the result; it sends nothing and tries nothing.
    assert texts() == 1
    assert "Verified by" in text(desk.get(page))


def mail_free_text() -> str:
    from vahva.gateways.models import DevText

    delivered()
    found = DevText.objects.filter(number=NUMBER).first()
    assert found is not None
    return str(found.text)


def test_a_code_sent_for_one_check_is_refused_for_another(
    desk: Client, alice: User, clock: FakeClock
) -> None:
    phone = _phone(alice, clock)
    first = _started(desk, alice, phone)
    code = last_code()
    clock.advance(61)
    second = _started(desk, alice, phone, ticket="INC-10")
    assert _read_out(desk, second, code).status_code == 400
    assert CallerCheck.objects.get(ticket="INC-10").state == "pending"
    # Nor does a helpdesk code sign anyone in: a sign-in looks only at its own attempt's codes.
    sms = registry.get("sms")
    with pytest.raises(Exception, match="No code was sent yet"):
        sms.verify_for(phone, code, now=clock(), attempt=AttemptRef("attempt-1"))
    # It still works for the check it was sent for.
    assert _read_out(desk, first, code).status_code == 302


def test_an_authenticator_code_read_out_is_used_up(
    desk: Client, alice: User, clock: FakeClock, alice_totp: Any
) -> None:
    registered, secret = alice_totp
    page = _started(desk, alice, registered)
    assert "read out the 6-digit code" in text(desk.get(page))
    assert texts() == 0  # nothing is sent: the caller holds the app
    code = pyotp.TOTP(secret).at(clock())
    assert _read_out(desk, page, code).status_code == 302
    assert "Verified by a code from Authenticator app code" in text(desk.get(page))
    # The code read over the phone (perhaps overheard) cannot sign anyone in afterwards.
    registered.refresh_from_db()
    with pytest.raises(ReplayedCode):
        registry.get("totp").verify(registered, code, now=clock())


def test_a_recovery_code_read_out_is_used_up_and_the_person_is_told(
    desk: Client, alice: User, clock: FakeClock
) -> None:
    codes, shown = make_codes(alice, clock)
    page = _started(desk, alice, codes)
    assert "The code is then used up" in text(desk.get(page))
    assert _read_out(desk, page, shown[0]).status_code == 302
    assert "Verified by a recovery code, read out (it is now used up)" in text(desk.get(page))
    assert _outcomes()[-1][1] == "caller verified: a recovery code read out (now used up)"
    delivered()
    (told,) = [m for m in mail.outbox if m.to == [alice.email]]
    assert "read out to the helpdesk" in told.body
    assert "9 codes are left" in told.body
    assert "INC-9" in told.body
    # Read out twice: the second check refuses it, and nothing more is used up.
    again = _started(desk, alice, codes, ticket="INC-11")
    refused = _read_out(desk, again, shown[0])
    assert refused.status_code == 400
    assert "already used" in text(refused)
    with pytest.raises(ReplayedCode):
        registry.get("recovery").verify(codes, shown[0], now=clock())


def test_wrong_codes_end_the_check_and_checks_per_person_are_limited(
    desk: Client, alice: User, clock: FakeClock, alice_totp: Any
) -> None:
    registered, secret = alice_totp
    page = _started(desk, alice, registered)
    right = pyotp.TOTP(secret).at(clock())
    wrong = "000000" if right != "000000" else "111111"
    assert [_read_out(desk, page, wrong).status_code for _ in range(3)] == [400, 400, 429]
    # The check is over: even the right code is not looked at any more.
    late = _read_out(desk, page, right)
    assert late.status_code == 429
    assert "Too many wrong codes for this check" in text(late)
    registered.refresh_from_db()
    registry.get("totp").verify(registered, right, now=clock())  # still unused
    # Check after check: the person gets HELPDESK_CALLER_CHECKS (5) per window, then none.
    for _ in range(4):
        _started(desk, alice, registered)
    refused = _start(desk, alice, registered)
    assert refused.status_code == 429
    assert "Too many checks were started for this person" in text(refused)
    assert CallerCheck.objects.filter(user=alice).count() == 5
    assert _outcomes()[-1] == ("failure", "too many caller checks", "INC-9")
    clock.advance(901)
    assert _start(desk, alice, registered).status_code == 302


def test_a_typing_slip_is_not_counted_as_a_guess(
    desk: Client, alice: User, clock: FakeClock, alice_totp: Any
) -> None:
    registered, _secret = alice_totp
    page = _started(desk, alice, registered)
    for _ in range(4):
        assert _read_out(desk, page, "12").status_code == 400
    assert CallerCheck.objects.get(user=alice).tries == 0


def test_a_get_starts_or_checks_nothing(desk: Client, alice: User, clock: FakeClock) -> None:
    phone = _phone(alice, clock)
    way = f"sms:{phone.pk}"
    got = desk.get(f"/helpdesk/people/{alice.pk}/callers/?caller-way={way}&caller-ticket=X")
    assert got.status_code == 405
    page = _started(desk, alice, phone)
    code = last_code()
    assert desk.get(f"{page}code/?code={code}").status_code == 405
    assert texts() == 1
    assert CallerCheck.objects.get().state == "pending"


def test_staff_cannot_verify_themselves(agent: User, desk: Client, clock: FakeClock) -> None:
    own = RegisteredMethod.objects.get(user=agent, kind="totp")
    refused = _start(desk, agent, own)
    assert refused.status_code == 403
    assert "own account" in text(refused)
    confirm = desk.post(
        f"/helpdesk/people/{agent.pk}/callers/procedure/",
        {"procedure-ticket": "INC-1", "procedure-confirmed": "on"},
    )
    assert confirm.status_code == 403
    assert not CallerCheck.objects.exists()
    assert not AuditEvent.objects.filter(action="helpdesk.caller_check").exists()


def test_a_forged_form_from_another_site_is_refused(
    agent: User, alice: User, clock: FakeClock
) -> None:
    phone = _phone(alice, clock)
    browser = Client(enforce_csrf_checks=True)
    force_mfa_login(browser, agent)
    forged = _start(browser, alice, phone)
    assert forged.status_code == 403
    assert not CallerCheck.objects.exists()
    assert texts() == 0


def test_another_persons_method_is_not_a_way(
    desk: Client, alice: User, make_user: Any, clock: FakeClock
) -> None:
    bob = make_user("bob@example.org", full_name="Bob")
    bobs = _phone(bob, clock)
    refused = _start(desk, alice, bobs)
    assert refused.status_code == 400
    assert "Choose one of the ways listed" in text(refused)
    assert texts() == 0
    # Nor is another person's check reachable from this person's page.
    page = _started(desk, bob, bobs)
    check = page.rstrip("/").rsplit("/", 1)[-1]
    assert desk.get(f"/helpdesk/people/{alice.pk}/callers/{check}/").status_code == 404
    foreign = desk.post(f"/helpdesk/people/{alice.pk}/callers/{check}/code/", {"code": last_code()})
    assert foreign.status_code == 404
    assert CallerCheck.objects.get().state == "pending"


def test_the_organisations_procedure_is_confirmed_with_the_ticket(
    desk: Client, agent: User, alice: User
) -> None:
    url = f"/helpdesk/people/{alice.pk}/callers/procedure/"
    unticked = desk.post(url, {"procedure-ticket": "INC-5"})
    assert unticked.status_code == 400
    assert "Tick the box to confirm" in text(unticked)
    assert _outcomes() == []
    done = desk.post(url, {"procedure-ticket": "INC-5", "procedure-confirmed": "on"})
    assert done.status_code == 302
    assert _outcomes() == [("ok", "caller verified by the organisation's procedure", "INC-5")]
    page = text(desk.get(done["Location"]))
    assert "Recorded: you verified the caller by the organisation&#x27;s procedure" in page
    assert "The agent verified the caller by the organisation&#x27;s own procedure." in page
    assert "Helga Helpdesk" in page


def test_a_removed_method_fails_its_open_check(
    desk: Client, alice: User, clock: FakeClock, alice_totp: Any
) -> None:
    registered, secret = alice_totp
    page = _started(desk, alice, registered)
    methods.remove(alice, registered.pk)
    gone = _read_out(desk, page, pyotp.TOTP(secret).at(clock()))
    assert gone.status_code in (400, 404)
    assert CallerCheck.objects.get().state != "verified"


def test_an_invalid_code_is_not_a_500(desk: Client, alice: User, clock: FakeClock) -> None:
    phone = _phone(alice, clock)
    page = _started(desk, alice, phone)
    for junk in ("", "x" * 65, "abcdef", "\uff11\uff12\uff13\uff14\uff15\uff16"):
        assert _read_out(desk, page, junk).status_code == 400
    assert CallerCheck.objects.get().state == "pending"


def test_the_helpdesks_texts_count_against_the_phone_limits(
    desk: Client, alice: User, clock: FakeClock, settings: Any
) -> None:
    phone = _phone(alice, clock)
    settings.VAHVA = {**settings.VAHVA, "PHONE_LIMITS": {"number": 1}}
    _started(desk, alice, phone)
    refused = _start(desk, alice, phone, ticket="INC-12")
    assert refused.status_code == 429
    assert "Too many texts or calls" in text(refused)
    assert texts() == 1
    # The check that could not send is over, and the refusal is in the audit log.
    assert CallerCheck.objects.get(ticket="INC-12").state == "failed"
    assert _outcomes()[-1] == ("failure", "LimitReached", "INC-12")
    assert AuditEvent.objects.filter(action="phone.limited").exists()


def test_an_agent_cannot_verify_a_staff_colleague(
    desk: Client, make_user: Any, clock: FakeClock
) -> None:
    colleague = make_user("colleague@example.org", full_name="Col League", is_staff=True)
    phone = _phone(colleague, clock)
    refused = _start(desk, colleague, phone)
    assert refused.status_code == 403
    assert texts() == 0


def test_a_hardware_token_code_read_out(desk: Client, alice: User, clock: FakeClock) -> None:
    from tests.methods.token_helpers import hotp_code, stock_token
    from vahva.methods.hardware_token import tokens

    token = stock_token("TK0500")
    registered = tokens.activate(alice, "TK0500", hotp_code(token, 0), now=clock())
    page = _started(desk, alice, registered)
    assert "press the button on the token" in text(desk.get(page))
    assert _read_out(desk, page, hotp_code(token, 1)).status_code == 302
    assert "Verified by a code from Hardware token (TK0500)" in text(desk.get(page))
    assert _outcomes()[-1][1] == "caller verified: a code from Hardware token (TK0500) read out"
    # Used up: the token's counter moved past it.
    with pytest.raises(ReplayedCode):
        registry.get("hardware_token").verify(registered, hotp_code(token, 1), now=clock())


@pytest.mark.parametrize(
    ("reason", "sentence"),
    [
        (
            "the person approved the helpdesk's check with the number read out",
            "Verified in the vahva app: the person typed the number the agent read out.",
        ),
        (
            "the person said they are not the one talking to the helpdesk",
            "The person said in the vahva app that they are not the caller",
        ),
        ("too many caller checks", "No check was started: too many checks were started"),
        ("caller verified: a code called to +358 44 *** **21", "said in a call to +358 44"),
        ("LimitReached", "The limit of texts or calls was reached."),
    ],
)
def test_every_caller_check_outcome_has_a_sentence(reason: str, sentence: str) -> None:
    from vahva.audit import sentences

    ok = reason.startswith(("caller verified", "the person approved"))
    words = sentences.describe(
        action="helpdesk.caller_check", outcome="ok" if ok else "failure", reason=reason, data={}
    )
    assert words.label == ("Caller verified" if ok else "Caller not verified")
    assert sentence in words.why


def test_checks_the_caller_passed_do_not_count_against_the_limit(
    desk: Client, alice: User, clock: FakeClock, alice_totp: Any
) -> None:
    registered, secret = alice_totp
    for _ in range(6):
        page = _started(desk, alice, registered)
        clock.advance(30)  # the next step of the app: a new code
        assert _read_out(desk, page, pyotp.TOTP(secret).at(clock())).status_code == 302
    assert CallerCheck.objects.filter(user=alice, state="verified").count() == 6


def test_every_method_offers_only_the_persons_own_registrations(
    alice: User, make_user: Any, clock: FakeClock
) -> None:
    from tests.methods.token_helpers import hotp_code, stock_token
    from vahva.helpdesk import callers
    from vahva.methods.hardware_token import tokens
    from vahva.methods.totp import generate_secret

    bob = make_user("bob@example.org", full_name="Bob")
    for number, person in (("+358441234521", alice), ("+358441234522", bob)):
        _phone(person, clock, "sms", number)
        _phone(person, clock, "voice", number)
        methods.save_new(person, "totp", now=clock(), secret=generate_secret())
        make_codes(person, clock)
        serial = f"TK{person.pk:04d}"
        tokens.activate(person, serial, hotp_code(stock_token(serial), 0), now=clock())
    mine = {m.pk for m in RegisteredMethod.objects.filter(user=alice)}
    offered = callers.ways(alice, now=clock())
    kinds = {w.value.split(":")[0] for w in offered}
    assert kinds == {"sms", "voice", "totp", "recovery", "hardware_token"}
    assert {w.offer.registered for w in offered} <= mine
    assert len(offered) == 5
