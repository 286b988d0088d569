"""Temporary access passes: the pass itself, issuing and revoking, the sign-in with one."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from tests.helpers import code_for, sign_in_password, text
from tests.methods.contract import RFC8176, MethodContract
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.conf import settings
from vahva.errors import ExpiredChallenge, InvalidCode, MalformedInput, VahvaError
from vahva.methods import registry, service, tap
from vahva.methods.base import Role
from vahva.methods.models import RegisteredMethod
from vahva.signin.models import SignInAttempt

pytestmark = pytest.mark.django_db

GROUPED = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def _issue(user: Any, clock: FakeClock, **kwargs: Any) -> tuple[RegisteredMethod, str]:
    return tap.issue(user, now=clock(), ticket=kwargs.pop("ticket", "HD-123"), **kwargs)


def _other(code: str) -> str:
    """A well-formed pass that is not ``code``."""
    return next(c for c in ("2222-2222-2222", "3333-3333-3333") if c != code)


# --- the pass ----------------------------------------------------------------------------------


def test_passes_are_12_unambiguous_characters_shown_in_groups_and_random() -> None:
    codes = {tap.generate() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 12
        assert set(code) <= set(tap.ALPHABET)
        assert not set(code) & set("ILOU")
        assert GROUPED.match(tap.grouped(code))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("K7QM-3XRD-PW9T", "K7QM3XRDPW9T"),
        ("k7qm3xrdpw9t", "K7QM3XRDPW9T"),
        ("  k7qm 3xrd pw9t ", "K7QM3XRDPW9T"),
        ("K7QM\u20133XRD\u2013PW9T", "K7QM3XRDPW9T"),  # an en dash pasted from a ticket
        ("oo11-ilil-2222", "00111111" + "2222"),  # letters read as the digits they look like
    ],
)
def test_a_pass_may_be_typed_with_or_without_dashes_in_any_case(typed: str, expected: str) -> None:
    assert tap.normalise(typed) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the temporary access pass."),
        (" - ", "Enter the temporary access pass."),
        ("123456", "A temporary access pass has 12 letters and digits"),
        ("K7QM-3XRD-PW9", "A temporary access pass has 12 letters and digits"),
        ("K7QM-3XRD-PW9TX", "A temporary access pass has 12 letters and digits"),
        ("K7QM-3XRD-PW9U", "A temporary access pass has 12 letters and digits"),
        ("K7QM-3XRD-PW9\u00c4", "A temporary access pass has 12 letters and digits"),
        ("\u0661" * 12, "A temporary access pass has 12 letters and digits"),
        ("<script>x</s>", "A temporary access pass has 12 letters and digits"),
        ("9" * 1000, "A temporary access pass has 12 letters and digits"),
    ],
)
def test_what_cannot_be_a_pass_is_refused_with_a_message(typed: str, message: str) -> None:
    with pytest.raises(MalformedInput) as caught:
        tap.normalise(typed)
    assert message in str(caught.value)


def test_the_method_is_registered_last_and_is_not_a_method_to_add_or_list() -> None:
    method = registry.get("tap")
    assert registry.all_methods()[-1] is method
    assert str(method.label) == "Temporary access pass"
    assert str(method.prompt) == "Enter the temporary access pass the helpdesk gave you"
    assert method.amr == ("otp",)
    assert set(method.amr) <= RFC8176
    # Given by the helpdesk: neither set up by the person nor listed on Security info.
    assert method.role is Role.STAND_IN
    assert not method.available()
    assert method not in registry.enrolable()


# --- issue -------------------------------------------------------------------------------------


def test_issue_shows_the_pass_once_and_keeps_only_a_salted_digest(
    alice: Any, clock: FakeClock, make_user: Any
) -> None:
    helpdesk = make_user("helpdesk@example.org", is_staff=True)
    registered, code = _issue(alice, clock, actor=helpdesk)
    assert GROUPED.match(code)
    row = RegisteredMethod.objects.get(user=alice)
    assert row == registered
    assert row.kind == "tap"
    assert not row.is_default
    assert row.secret == ""
    assert row.expires_at == clock() + dt.timedelta(seconds=settings.TAP_LIFETIME)
    assert row.data["one_time"] is True
    assert row.data["ticket"] == "HD-123"
    assert len(row.data["digest"]) == 64
    # The pass itself is nowhere in the row, in no spelling.
    stored = f"{row.data} {row.name} {row.secret}".upper()
    assert code not in stored
    assert code.replace("-", "") not in stored
    event = AuditEvent.objects.get(action="tap.issued")
    assert event.subject_id == alice.pk
    assert event.actor_id == helpdesk.pk
    assert event.data["ticket"] == "HD-123"
    assert event.data["one_time"] is True
    assert event.data["expires_at"] == row.expires_at.isoformat()
    assert code not in str(event.data).upper()


def test_the_same_pass_for_two_people_is_stored_differently(
    alice: Any, make_user: Any, clock: FakeClock
) -> None:
    bob = make_user("bob@example.org")
    assert tap.digest("K7QM3XRDPW9T", "a" * 32) != tap.digest("K7QM3XRDPW9T", "b" * 32)
    first, _ = _issue(alice, clock)
    second, _ = _issue(bob, clock)
    assert first.data["salt"] != second.data["salt"]


def test_issuing_again_replaces_the_earlier_pass(alice: Any, clock: FakeClock) -> None:
    old, old_code = _issue(alice, clock)
    new, _new_code = _issue(alice, clock, ticket="HD-124")
    assert list(RegisteredMethod.objects.filter(user=alice, kind="tap")) == [new]
    # The old row, as a request that read it before the new pass was issued would see it.
    with pytest.raises(VahvaError):
        registry.get("tap").verify(old, old_code, now=clock())
    issued = AuditEvent.objects.filter(action="tap.issued").order_by("id")
    assert [event.data["replaced"] for event in issued] == [False, True]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ticket": ""}, "Enter the helpdesk ticket number."),
        ({"ticket": "   "}, "Enter the helpdesk ticket number."),
        ({"ticket": "HD-1\nfake log line"}, "at most 64 characters on one line"),
        ({"ticket": "H" * 65}, "at most 64 characters on one line"),
        ({"lifetime": 7 * 86400 + 1}, "at least 1 minute and at most 7 days"),
        ({"lifetime": 0}, "at least 1 minute and at most 7 days"),
        ({"lifetime": -60}, "at least 1 minute and at most 7 days"),
        ({"lifetime": 59}, "at least 1 minute and at most 7 days"),
    ],
)
def test_bad_issue_saves_nothing(
    alice: Any, clock: FakeClock, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(MalformedInput) as caught:
        _issue(alice, clock, **kwargs)
    assert message in str(caught.value)
    assert not RegisteredMethod.objects.exists()
    assert not AuditEvent.objects.filter(action="tap.issued").exists()


def test_a_bad_issue_leaves_the_earlier_pass_working(alice: Any, clock: FakeClock) -> None:
    registered, code = _issue(alice, clock)
    with pytest.raises(MalformedInput):
        _issue(alice, clock, lifetime=10**9)
    registry.get("tap").verify(registered, code, now=clock())


def test_no_pass_for_a_disabled_account(alice: Any, clock: FakeClock) -> None:
    alice.is_active = False
    alice.save()
    with pytest.raises(MalformedInput, match="disabled"):
        _issue(alice, clock)
    assert not RegisteredMethod.objects.exists()


# --- verify ------------------------------------------------------------------------------------


def test_one_time_pass_works_once(alice: Any, clock: FakeClock) -> None:
    registered, code = _issue(alice, clock)
    method = registry.get("tap")
    clock.advance(60)
    method.verify(registered, code.lower().replace("-", ""), now=clock())
    row = RegisteredMethod.objects.get(pk=registered.pk)
    assert row.last_used_at == clock()
    assert tap.active_pass(alice, now=clock()) is None
    with pytest.raises(ExpiredChallenge) as caught:
        method.verify(row, code, now=clock())
    assert str(caught.value) == (
        "This temporary access pass has expired or was already used. "
        "Ask the helpdesk for a new one."
    )


def test_a_stale_copy_of_a_one_time_pass_cannot_sign_in_twice(alice: Any, clock: FakeClock) -> None:
    registered, code = _issue(alice, clock)
    stale = RegisteredMethod.objects.get(pk=registered.pk)  # read by a second, parallel submit
    registry.get("tap").verify(registered, code, now=clock())
    with pytest.raises(ExpiredChallenge):
        registry.get("tap").verify(stale, code, now=clock())


@pytest.mark.django_db(transaction=True)
def test_two_parallel_submits_of_one_pass_only_one_wins(make_user: Any, clock: FakeClock) -> None:
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(":memory"):
        pytest.skip("needs a database shared between threads")
    user = make_user()
    registered, code = _issue(user, clock)
    results: list[str] = []
    barrier = threading.Barrier(2)

    def attempt() -> None:
        own = service.get_for(user, registered.pk)  # each "request" reads the row itself
        barrier.wait()
        try:
            registry.get("tap").verify(own, code, now=clock())
            results.append("ok")
        except ExpiredChallenge:
            results.append("used")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["ok", "used"]


def test_time_boxed_pass_works_until_it_expires(alice: Any, clock: FakeClock) -> None:
    registered, code = _issue(alice, clock, one_time=False, lifetime=3600)
    method = registry.get("tap")
    method.verify(registered, code, now=clock())
    clock.advance(3599)
    method.verify(registered, code, now=clock())
    assert tap.active_pass(alice, now=clock()) == registered
    clock.advance(1)
    assert tap.active_pass(alice, now=clock()) is None
    with pytest.raises(ExpiredChallenge, match="expired or was already used"):
        method.verify(registered, code, now=clock())


def test_wrong_pass_is_invalid_and_the_pass_still_works(alice: Any, clock: FakeClock) -> None:
    registered, code = _issue(alice, clock)
    method = registry.get("tap")
    with pytest.raises(InvalidCode) as caught:
        method.verify(registered, _other(code), now=clock())
    assert "That temporary access pass is not right" in str(caught.value)
    method.verify(registered, code, now=clock())


def test_an_expired_pass_answers_no_guesses(alice: Any, clock: FakeClock) -> None:
    registered, code = _issue(alice, clock)
    clock.advance(settings.TAP_LIFETIME)
    for typed in (code, _other(code)):
        with pytest.raises(ExpiredChallenge):
            registry.get("tap").verify(registered, typed, now=clock())


def test_describe_says_until_when(alice: Any, clock: FakeClock) -> None:
    method = registry.get("tap")
    one_time, code = _issue(alice, clock)
    assert method.describe(one_time) == (
        f"Temporary access pass (one use, valid until {tap.valid_until_text(one_time)})"
    )
    assert re.search(r"\d{1,2}\.\d{1,2}\.2026 \d\d:\d\d", method.describe(one_time))
    method.verify(one_time, code, now=clock())
    assert method.describe(one_time) == "Temporary access pass (used or expired)"
    reusable, _ = _issue(alice, clock, one_time=False)
    assert method.describe(reusable).startswith("Temporary access pass (valid until ")
    clock.advance(settings.TAP_LIFETIME)
    assert method.describe(reusable) == "Temporary access pass (used or expired)"


# --- revoke ------------------------------------------------------------------------------------


def test_revoke_deletes_the_pass_and_is_audited(alice: Any, clock: FakeClock) -> None:
    registered, code = _issue(alice, clock)
    assert tap.revoke(alice, ticket="HD-125") is True
    assert not RegisteredMethod.objects.filter(kind="tap").exists()
    event = AuditEvent.objects.get(action="tap.revoked")
    assert (event.subject_id, event.data["ticket"]) == (alice.pk, "HD-125")
    # A sign-in page opened before the revocation cannot use it any more.
    with pytest.raises(ExpiredChallenge):
        registry.get("tap").verify(registered, code, now=clock())
    assert tap.revoke(alice, ticket="HD-125") is False
    assert AuditEvent.objects.filter(action="tap.revoked").count() == 1


def test_revoke_needs_a_ticket(alice: Any, clock: FakeClock) -> None:
    _issue(alice, clock)
    with pytest.raises(MalformedInput, match="ticket"):
        tap.revoke(alice, ticket=" ")
    assert tap.active_pass(alice, now=clock()) is not None


def test_revoking_a_used_pass_is_nothing_to_revoke(alice: Any, clock: FakeClock) -> None:
    registered, code = _issue(alice, clock)
    registry.get("tap").verify(registered, code, now=clock())
    assert tap.revoke(alice, ticket="HD-1") is False
    assert not RegisteredMethod.objects.filter(kind="tap").exists()


# --- the methods room's lists --------------------------------------------------------------------


def test_an_active_pass_comes_first_but_is_not_listed(
    alice_totp: tuple[Any, str], clock: FakeClock
) -> None:
    totp, _secret = alice_totp
    assert totp.is_default
    registered, _code = _issue(totp.user, clock)
    assert service.registered_for(totp.user) == [registered, totp]
    assert service.listed_for(totp.user) == [totp]
    clock.advance(settings.TAP_LIFETIME)
    assert service.registered_for(totp.user) == [totp]


def test_a_pass_alone_is_not_a_registered_method(alice: Any, clock: FakeClock) -> None:
    _issue(alice, clock)
    assert not service.has_methods(alice)
    assert service.first_registered_at(alice) is None
    assert service.listed_for(alice) == []
    clock.advance(600)
    totp = service.save_new(alice, "totp", now=clock(), secret="A" * 32)
    # The first real method is the default and starts the activation delay.
    assert totp.is_default
    assert service.has_methods(alice)
    assert service.first_registered_at(alice) == clock()


def test_a_pass_never_becomes_the_default(alice_totp: tuple[Any, str], clock: FakeClock) -> None:
    totp, _secret = alice_totp
    user = totp.user
    registered, _code = _issue(user, clock)
    with pytest.raises(MalformedInput):
        service.set_default(user, registered.pk)
    clock.advance(60)
    app = service.save_new(user, "totp", now=clock(), secret="B" * 32, name="New phone")
    service.remove(user, totp.pk)  # the lost phone, the default, goes
    assert RegisteredMethod.objects.get(pk=app.pk).is_default
    assert not RegisteredMethod.objects.get(pk=registered.pk).is_default


# --- the method contract -------------------------------------------------------------------------


class TestTapContract(MethodContract):
    """The contract, with issue() in place of an enrolment (a person cannot add a pass)."""

    kind = "tap"

    def test_enrol_with_the_right_proof_saves_one_method(self, alice: Any, clock: Any) -> None:
        with pytest.raises(MalformedInput, match="issued by the helpdesk"):
            registry.get("tap").start_enrolment(alice, now=clock())
        assert not RegisteredMethod.objects.exists()

    def test_wrong_proof_saves_nothing(self, alice: Any, clock: Any) -> None:
        self.test_enrol_with_the_right_proof_saves_one_method(alice, clock)

    def test_expired_enrolment_saves_nothing(self, alice: Any, clock: Any) -> None:
        self.test_enrol_with_the_right_proof_saves_one_method(alice, clock)

    def test_enrolment_is_consumed_once(self, alice: Any, clock: Any) -> None:
        self.test_enrol_with_the_right_proof_saves_one_method(alice, clock)

    def test_verify_right_and_wrong(self, alice: Any, clock: Any) -> None:
        saved, code = _issue(alice, clock)
        clock.advance(60)
        with pytest.raises(VahvaError):
            registry.get("tap").verify(saved, _other(code), now=clock())
        registry.get("tap").verify(saved, code, now=clock())
        assert RegisteredMethod.objects.get(pk=saved.pk).last_used_at == clock()

    def test_garbage_answers_are_typed_errors(self, alice: Any, clock: Any) -> None:
        saved, _code = _issue(alice, clock)
        for garbage in ("", " ", "\x00", "💥" * 10, "9" * 1000, "<script>"):
            with pytest.raises(VahvaError):
                registry.get("tap").verify(saved, garbage, now=clock())


# --- signing in with a pass (Django's test client) ---------------------------------------------


@pytest.fixture
def lost_phone(alice_totp: tuple[Any, str], clock: FakeClock) -> tuple[RegisteredMethod, str]:
    """Alice's default is an authenticator app on the phone she lost; the helpdesk gave her a
    one-time pass. Returns (the pass, its text)."""
    return _issue(alice_totp[0].user, clock)


def _verify_page(client: Client) -> Any:
    assert sign_in_password(client)["Location"] == "/signin/verify/"
    return client.get("/signin/verify/")


def test_sign_in_asks_for_the_pass_and_signs_in_with_it(
    lost_phone: tuple[RegisteredMethod, str], client: Client, clock: FakeClock
) -> None:
    registered, code = lost_phone
    page = _verify_page(client)
    assert "Enter the temporary access pass the helpdesk gave you" in text(page)
    assert f'action="/signin/verify/?method={registered.pk}"' in text(page)
    assert "Sign in another way" in text(page)
    # Typed as it was read out on the phone: small letters, spaces.
    response = client.post(
        f"/signin/verify/?method={registered.pk}", {"code": code.lower().replace("-", " ")}
    )
    assert response.status_code == 302
    assert response["Location"] == "/security-info/"
    attempt = SignInAttempt.objects.get()
    assert (attempt.state, attempt.method) == ("done", "tap")
    assert attempt.amr == ["mfa", "otp", "pwd"]
    assert AuditEvent.objects.get(action="signin.success").data["method"] == "tap"
    assert client.get("/security-info/").status_code == 200


def test_the_pass_page_offers_the_other_methods(
    lost_phone: tuple[RegisteredMethod, str], client: Client
) -> None:
    _verify_page(client)
    other = text(client.get("/signin/other/"))
    assert "Temporary access pass (one use, valid until" in other
    assert "Authenticator app code" in other


def test_wrong_pass_says_so_is_logged_and_not_echoed(
    lost_phone: tuple[RegisteredMethod, str], client: Client
) -> None:
    registered, code = lost_phone
    _verify_page(client)
    wrong = _other(code)
    response = client.post(f"/signin/verify/?method={registered.pk}", {"code": wrong})
    assert response.status_code == 400
    assert "That temporary access pass is not right" in text(response)
    assert wrong not in text(response)
    failure = AuditEvent.objects.get(action="signin.mfa", outcome="failure")
    assert failure.data["method"] == "tap"
    assert client.get("/security-info/").status_code == 302


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the code."),
        ("123456", "A temporary access pass has 12 letters and digits"),
        ("x" * 100, "Ensure this value has at most 32 characters"),
    ],
)
def test_malformed_pass_gets_a_message_and_400(
    lost_phone: tuple[RegisteredMethod, str], client: Client, typed: str, message: str
) -> None:
    registered, _code = lost_phone
    _verify_page(client)
    response = client.post(f"/signin/verify/?method={registered.pk}", {"code": typed})
    assert response.status_code == 400
    assert message in text(response)
    assert not AuditEvent.objects.filter(action="signin.mfa").exists()  # not a guess


def test_pass_that_expires_while_the_page_is_open_is_refused_clearly(
    alice_totp: tuple[Any, str], client: Client, clock: FakeClock
) -> None:
    registered, code = _issue(alice_totp[0].user, clock, lifetime=120, one_time=False)
    _verify_page(client)
    clock.advance(120)  # the pass ends; the sign-in attempt itself has not timed out
    response = client.post(f"/signin/verify/?method={registered.pk}", {"code": code})
    assert response.status_code == 410
    assert "This temporary access pass has expired or was already used." in text(response)
    assert client.get("/security-info/").status_code == 302


def test_one_time_pass_is_refused_the_second_time(
    lost_phone: tuple[RegisteredMethod, str], clock: FakeClock
) -> None:
    registered, code = lost_phone
    first, second = Client(), Client()
    _verify_page(first)
    _verify_page(second)  # someone who overheard the pass, on another computer
    url = f"/signin/verify/?method={registered.pk}"
    assert first.post(url, {"code": code})["Location"] == "/security-info/"
    refused = second.post(url, {"code": code})
    assert refused.status_code == 410
    assert "expired or was already used. Ask the helpdesk for a new one." in text(refused)
    assert second.get("/security-info/").status_code == 302


def test_after_the_pass_is_used_sign_in_asks_for_the_default_again(
    lost_phone: tuple[RegisteredMethod, str], alice_totp: tuple[Any, str], clock: FakeClock
) -> None:
    registered, code = lost_phone
    client = Client()
    _verify_page(client)
    client.post(f"/signin/verify/?method={registered.pk}", {"code": code})
    again = Client()
    page = _verify_page(again)
    assert "Enter the code from your authenticator app" in text(page)
    assert "Temporary access pass" not in text(again.get("/signin/other/"))
    clock.advance(30)
    assert again.post("/signin/verify/", {"code": code_for(alice_totp[1], clock)}).status_code == (
        302
    )


def test_the_page_of_a_used_pass_says_so_at_once(
    lost_phone: tuple[RegisteredMethod, str], clock: FakeClock
) -> None:
    registered, code = lost_phone
    first = Client()
    _verify_page(first)
    first.post(f"/signin/verify/?method={registered.pk}", {"code": code})
    again = Client()
    _verify_page(again)
    page = again.get(f"/signin/verify/?method={registered.pk}")  # from the browser's history
    assert page.status_code == 410
    assert "expired or was already used" in text(page)
