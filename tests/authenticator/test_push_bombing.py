"""Push bombing (issue 14, item 5): a password thief signing in again and again puts at most one
waiting request, and a few per ten minutes, on the person's phone, whatever addresses the
sign-ins come from; refused or ignored requests switch the person to a typed code, and the
person and the helpdesk are told (after the commit)."""

from __future__ import annotations

import datetime as dt
import html
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import dateformat, timezone

from tests.authenticator.device import TestDevice
from tests.authenticator.push_receiver import PushReceiver, Subscription, running
from tests.helpdesk.conftest import grant_helpdesk
from tests.helpers import code_for, force_mfa_login, sign_in_password, text
from tests.methods.phone_helpers import delivered
from vahva.audit.models import AuditEvent
from vahva.authenticator import allowance, delivery, service
from vahva.authenticator.errors import PushBusy, PushPaused, TooManyPushes
from vahva.authenticator.models import PushChallenge, PushPause
from vahva.conf import settings as vahva_settings
from vahva.signin.models import SignInAttempt

STATUS = "/signin/verify/status/"
BUSY = "A sign-in request is already waiting on your phone"
PAUSED = "Sign-in requests to your app are paused"


@pytest.fixture
def with_app(alice: Any, clock: Any, make_phone: Callable[..., TestDevice]) -> TestDevice:
    phone = make_phone(alice)
    clock.advance(3600)
    return phone


def thief(address: str = "203.0.113.9") -> Client:
    """A browser somewhere else that knows Alice's password and stops at the second step."""
    browser = Client(REMOTE_ADDR=address)
    assert sign_in_password(browser)["Location"] == "/signin/verify/"
    return browser


def signin_pushes() -> int:
    return PushChallenge.objects.filter(purpose="signin").count()


def actions(name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=name).order_by("id"))


# --- the attack, as in the issue -----------------------------------------------------------


@pytest.mark.django_db
def test_forty_sign_ins_in_five_seconds_put_one_request_on_the_phone(
    with_app: TestDevice, clock: Any
) -> None:
    """Before: 40 sign-ins with the right password from one address in 5 s put 40 requests on
    the phone. Now the first waits there; the other 39 are told so and get no number."""
    first = thief()
    page = first.get("/signin/verify/")
    assert page.status_code == 200
    pages = []
    for _ in range(39):
        clock.advance(0.125)
        pages.append(thief().get("/signin/verify/"))
    assert {p.status_code for p in pages} == {429}
    for refused in pages:
        body = html.unescape(text(refused))
        assert BUSY in body
        assert "Deny and report" in body
        assert 'id="push-number"' not in body  # never the waiting request's number
        assert int(refused["Retry-After"]) <= vahva_settings.PUSH_TTL
    (waiting,) = with_app.challenges()
    assert signin_pushes() == 1
    # Every refusal is in the audit log with the address it came from.
    limited = actions("push.limited")
    assert len(limited) == 39
    assert {e.data["limit"] for e in limited} == {"open"}
    assert {e.data["signin_ip"] for e in limited} == {"203.0.113.9"}
    # The waiting request stays bound to the browser that started it.
    request = PushChallenge.objects.get(purpose="signin")
    assert waiting["id"] == str(request.pk)
    assert request.attempt == uuid.UUID(first.session["vahva_attempt"])


@pytest.mark.django_db
def test_every_twenty_seconds_from_new_addresses_reaches_the_phone_three_times(
    with_app: TestDevice, clock: Any
) -> None:
    """Sign-ins every 20 s from ever new addresses for ten minutes: three requests reach the
    phone (each ignored until it expires); then the person is switched to a typed code."""
    reached = 0
    refusals: set[str] = set()
    for n in range(30):
        page = thief(f"198.51.100.{n + 1}").get("/signin/verify/")
        if 'id="push-number"' in text(page):
            reached += 1
        else:
            refusals.add(
                AuditEvent.objects.filter(action="push.limited").latest("id").data["limit"]
            )
        clock.advance(20)
    assert reached == 3
    assert signin_pushes() == 3
    assert refusals == {"open", "paused"}


@pytest.mark.django_db
def test_send_another_request_is_counted_too(with_app: TestDevice, clock: Any) -> None:
    """One sign-in asking again and again ("Send another request"): three requests in ten
    minutes, then told when to try again."""
    browser = thief()
    for _ in range(3):
        assert 'id="push-number"' in text(browser.get("/signin/verify/?resend=1"))
        clock.advance(vahva_settings.PUSH_TTL)
    refused = browser.get("/signin/verify/?resend=1")
    assert refused.status_code == 429
    assert "Too many sign-in requests were sent to your app. Try again in 7 minutes" in text(
        refused
    )
    assert refused["Retry-After"] == str(vahva_settings.PUSH_WINDOW - 3 * vahva_settings.PUSH_TTL)
    assert actions("push.limited")[-1].data["limit"] == "window"
    assert signin_pushes() == 3
    # One sign-in is one suspicious attempt, however often it asked.
    assert not PushPause.objects.exists()


@pytest.mark.django_db
def test_the_window_slides(alice: Any, with_app: TestDevice, push: Any, clock: Any) -> None:
    """Three answered requests at 0, 1 and 2 minutes: the fourth waits until the first is ten
    minutes old, not until a fixed ten-minute block ends."""
    for _ in range(3):
        push(alice, with_app)
        (request,) = with_app.challenges()
        # Approved: no suspicious attempt, and the open request is free at once.
        assert with_app.answer(request, "approve", request_number(request)).status_code == 200
        clock.advance(60)
    with pytest.raises(TooManyPushes) as refused:
        push(alice, with_app)
    assert refused.value.retry_after == vahva_settings.PUSH_WINDOW - 180
    assert "Try again in 7 minutes" in str(refused.value.message)
    clock.advance(vahva_settings.PUSH_WINDOW - 180)
    push(alice, with_app)
    assert signin_pushes() == 4


def request_number(challenge: dict[str, Any]) -> int:
    return int(PushChallenge.objects.get(pk=challenge["id"]).number)


@pytest.mark.django_db
def test_an_answer_frees_the_next_sign_in_at_once(
    alice: Any, with_app: TestDevice, push: Any, clock: Any
) -> None:
    push(alice, with_app)
    with pytest.raises(PushBusy):
        push(alice, with_app)
    (request,) = with_app.challenges()
    assert with_app.answer(request, "deny").status_code == 200
    push(alice, with_app)
    assert signin_pushes() == 2


@pytest.mark.django_db
def test_the_same_sign_in_reloading_is_not_refused(
    alice: Any, with_app: TestDevice, push: Any
) -> None:
    attempt = uuid.uuid4()
    first = push(alice, with_app, attempt=attempt)
    assert push(alice, with_app, attempt=attempt).pk == first.pk
    assert not AuditEvent.objects.filter(action="push.limited").exists()


# --- reserve first: a parallel burst -------------------------------------------------------


def burst(alice: Any, phone: TestDevice, clock: Any, count: int) -> list[str]:
    """``count`` sign-ins at once, each in its own thread with its own database connection."""
    results: list[str] = []
    barrier = threading.Barrier(count)

    def one() -> None:
        try:
            barrier.wait(timeout=30)
            service.push_for_attempt(
                alice, attempt=uuid.uuid4(), device_ids=[phone.id], now=clock(), context={}
            )
            results.append("sent")
        except PushBusy:
            results.append("busy")
        except TooManyPushes:
            results.append("window")
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == count, "a sign-in neither sent nor refused (an error?)"
    return results


def _shared_database() -> None:
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(":memory"):
        pytest.skip("needs a database shared between threads")


def signed_in_before(alice: Any, phone: TestDevice, clock: Any) -> None:
    """Alice signed in with the app yesterday: her allowance rows exist (so the burst races on
    them, not on making them) and are all free again."""
    request = service.push_for_attempt(
        alice, attempt=uuid.uuid4(), device_ids=[phone.id], now=clock(), context={}
    )
    (sent,) = phone.challenges()
    assert phone.answer(sent, "approve", request.number).status_code == 200
    clock.advance(86400)


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_sign_ins_put_one_request_on_the_phone(
    alice: Any, make_phone: Callable[..., TestDevice], clock: Any
) -> None:
    _shared_database()
    phone = make_phone(alice)
    signed_in_before(alice, phone, clock)
    results = burst(alice, phone, clock, 50)
    assert results.count("sent") == 1
    assert results.count("busy") == 49
    assert signin_pushes() == 1 + 1
    assert len(phone.challenges()) == 1


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_sign_ins_get_no_more_than_the_window(
    alice: Any, make_phone: Callable[..., TestDevice], clock: Any, settings: Any
) -> None:
    """With any number of requests allowed to wait, the window's three still hold."""
    _shared_database()
    settings.VAHVA = {**settings.VAHVA, "PUSH_MAX_OPEN": 50}
    phone = make_phone(alice)
    signed_in_before(alice, phone, clock)
    results = burst(alice, phone, clock, 50)
    assert results.count("sent") == 3
    assert results.count("window") == 47
    assert signin_pushes() == 1 + 3
    assert len(phone.challenges()) == 3


# --- suspicious attempts switch to a typed code --------------------------------------------


def refuse_three(with_app: TestDevice, clock: Any) -> list[Client]:
    """Three sign-ins by the thief, each from its own browser: Alice denies the first,
    ignores the second (it expires), denies the third."""
    browsers = []
    for how in ("deny", None, "deny"):
        browser = thief()
        assert browser.get("/signin/verify/").status_code == 200
        (request,) = with_app.challenges()
        if how:
            assert with_app.answer(request, how).status_code == 200
        else:
            clock.advance(vahva_settings.PUSH_TTL)  # ignored: it expires unanswered
        browsers.append(browser)
        clock.advance(5)
    return browsers


@pytest.mark.django_db
def test_three_refused_sign_ins_switch_to_a_typed_code(
    with_app: TestDevice,
    alice: Any,
    clock: Any,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        refuse_three(with_app, clock)
    paused = PushPause.objects.get(user=alice)
    assert paused.attempts == 3
    # Started by the third refusal (the last answer), for PUSH_PAUSE seconds.
    assert paused.since == clock() - dt.timedelta(seconds=5)
    assert paused.until == paused.since + dt.timedelta(seconds=vahva_settings.PUSH_PAUSE)
    # The person and the helpdesk are told, once.
    person, helpdesk = mailoutbox
    assert person.to == [alice.email]
    assert "paused" in person.subject
    assert "change it" in person.body
    assert helpdesk.to == ["helpdesk@demo.example"]
    assert alice.email in helpdesk.subject
    assert "3 sign-ins with the right password" in helpdesk.body
    # Audit rows for each step.
    assert len(actions("push.denied")) == 2
    assert len(actions("push.ignored")) == 1
    (event,) = actions("push.paused")
    assert event.data["attempts"] == 3

    # The next sign-in sends nothing and asks for the app's code, saying why.
    browser = thief("192.0.2.44")
    page = browser.get("/signin/verify/")
    assert page.status_code == 200
    body = html.unescape(text(page))
    assert PAUSED in body
    assert "denied, reported or not answered" in body
    assert "Enter the code shown in the vahva app instead." in body
    assert '<details class="manual" id="app-code" open>' in body
    assert 'id="push-number"' not in body
    assert with_app.challenges() == []
    assert signin_pushes() == 3
    assert actions("push.limited")[-1].data["limit"] == "paused"
    # The person, phone in hand, signs in with the app's code.
    done = browser.post("/signin/verify/", {"code": code_for(with_app.totp_secret, clock)})
    assert done["Location"] == "/security-info/"
    # Security info says so, and until when.
    info = html.unescape(text(browser.get("/security-info/")))
    assert PAUSED in info
    assert "make sure they change their password" not in info
    assert f"Until {dateformat.format(timezone.localtime(paused.until), 'j.n.Y H:i')}" in info
    assert len(mailoutbox) == 2  # still one alert: the pause started once


@pytest.mark.django_db
def test_the_alerts_leave_after_the_commit(
    with_app: TestDevice, clock: Any, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        refuse_three(with_app, clock)
    # Paused, recorded, but not a mail sent while the transaction was open.
    assert PushPause.objects.exists()
    assert mailoutbox == []
    for callback in callbacks:
        callback()
    # Committed: the two mails wait in the outbox, and leave when it is delivered.
    delivered()
    assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_a_report_counts_and_a_pause_ends(
    with_app: TestDevice, alice: Any, push: Any, clock: Any
) -> None:
    push(alice, with_app)
    (request,) = with_app.challenges()
    assert with_app.answer(request, "report").status_code == 200
    # (A report holds pushes for an hour of its own; the count spans a day.)
    clock.advance(vahva_settings.PUSH_REPORT_HOLD + 1)
    for _ in range(2):
        push(alice, with_app)
        (request,) = with_app.challenges()
        assert with_app.answer(request, "deny").status_code == 200
        clock.advance(60)
    assert allowance.pause_of(alice, now=clock()) is not None
    with pytest.raises(PushPaused):
        push(alice, with_app)
    clock.advance(vahva_settings.PUSH_PAUSE)
    assert allowance.pause_of(alice, now=clock()) is None
    # The attempts that started the pause do not start the next one.
    assert push(alice, with_app).state == "pending"
    assert len(actions("push.paused")) == 1


@pytest.mark.django_db
def test_approved_and_offline_code_sign_ins_are_not_suspicious(
    with_app: TestDevice, alice: Any, clock: Any
) -> None:
    """Alice is slow to answer, signs in with the app's code, and approves a few: no pause."""
    for _ in range(3):
        browser = thief("127.0.0.1")
        assert browser.get("/signin/verify/").status_code == 200
        ok = browser.post("/signin/verify/", {"code": code_for(with_app.totp_secret, clock)})
        assert ok["Location"] == "/security-info/"
        # The request she did not answer is withdrawn from the phone.
        assert with_app.challenges() == []
        clock.advance(vahva_settings.PUSH_WINDOW)  # (each request counts in the window)
    for _ in range(3):
        browser = thief("127.0.0.1")
        page = browser.get("/signin/verify/")
        assert page.status_code == 200
        (request,) = with_app.challenges()
        clock.advance(vahva_settings.PUSH_TTL - 1)
        assert with_app.answer(request, "approve", request_number(request)).status_code == 200
        assert browser.post("/signin/verify/")["Location"] == "/security-info/"
        clock.advance(vahva_settings.PUSH_WINDOW)
    assert (
        allowance.suspicious_attempts(alice, since=clock() - dt.timedelta(days=1), now=clock()) == 0
    )
    assert not PushPause.objects.exists()
    assert SignInAttempt.objects.filter(state="done").count() == 6


def deployment_and_person_speak(settings: Any, deployment: str, person: Any, theirs: str) -> None:
    settings.LANGUAGE_CODE = deployment
    person.language = theirs
    person.save(update_fields=["language"])


@pytest.mark.django_db
def test_each_pause_mail_in_its_readers_language(
    with_app: TestDevice,
    alice: Any,
    clock: Any,
    settings: Any,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    # A Finnish deployment, a Swedish-speaking person: the person reads Swedish, the
    # helpdesk's shared address the deployment's Finnish (the thief's browser chose neither).
    deployment_and_person_speak(settings, "fi", alice, "sv")
    with django_capture_on_commit_callbacks(execute=True):
        refuse_three(with_app, clock)
    person, helpdesk = mailoutbox
    assert person.to == [alice.email]
    assert "Inloggningsbegäranden till din app är pausade" in person.subject
    assert helpdesk.to == ["helpdesk@demo.example"]
    assert helpdesk.subject.endswith(f"Kirjautumispyynnöt keskeytetty: {alice.email}")
    assert f"Kirjautumispyynnöt käyttäjän {alice.email} sovellukseen" in helpdesk.body
    assert "3 kirjautumista oikealla salasanalla viimeisten" in helpdesk.body
    assert "pyyntöpommitus?" in helpdesk.body


@pytest.mark.django_db
def test_a_reported_request_is_mailed_in_the_deployments_language(
    with_app: TestDevice,
    alice: Any,
    clock: Any,
    settings: Any,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    deployment_and_person_speak(settings, "sv", alice, "fi")
    browser = thief("192.0.2.45")
    assert browser.get("/signin/verify/").status_code == 200
    (request,) = with_app.challenges()
    with django_capture_on_commit_callbacks(execute=True):
        assert with_app.answer(request, "report").status_code == 200
    (alert,) = [m for m in mailoutbox if m.to == ["helpdesk@demo.example"]]
    assert alert.subject.endswith(f"Rapporterad inloggningsbegäran: {alice.email}")
    assert f"{alice.email} svarade på en inloggningsbegäran med ”Neka och rapportera”" in (
        alert.body
    )
    assert "Inloggningens adress: 192.0.2.45" in alert.body
    assert "Inloggningsbegäranden till hens app hålls inne i" in alert.body


@pytest.mark.django_db
def test_the_helpdesk_sees_the_pause(
    with_app: TestDevice, alice: Any, clock: Any, make_user: Callable[..., Any]
) -> None:
    refuse_three(with_app, clock)
    desk = Client()
    force_mfa_login(desk, grant_helpdesk(make_user("agent@example.org", is_staff=True)))
    body = html.unescape(text(desk.get(f"/helpdesk/people/{alice.pk}/")))
    assert "Sign-in requests to the app are paused until" in body
    assert "3 sign-ins with the right password" in body


# --- web push after the commit -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_web_push_leaves_after_the_commit(
    alice: Any, make_phone: Callable[..., TestDevice], push: Any, settings: Any
) -> None:
    """No push service is called while the transaction that made the request is open."""
    settings.VAHVA = {**settings.VAHVA, "PUSH_ALLOW_PRIVATE_ENDPOINTS": True}
    phone = make_phone(alice)
    receiver: PushReceiver
    with running() as receiver:
        subscription = Subscription(receiver.url("/push/alice"))
        body = _subscription_body(subscription)
        assert phone.send("PUT", "/api/device/v1/device/push-subscription", body).status_code == 200
        with transaction.atomic():
            push(alice, phone)
            assert delivery.flush(10)
            assert receiver.received == []
        assert delivery.flush(10)
        assert len(receiver.received) == 1


def _subscription_body(subscription: Subscription) -> bytes:
    return json.dumps(subscription.as_json()).encode()


@pytest.mark.django_db
def test_signing_in_another_way_withdraws_the_request_and_is_not_suspicious(
    with_app: TestDevice, alice: Any, clock: Any
) -> None:
    """Alice habitually picks her authenticator app over the push: the push sent first is
    withdrawn when she is signed in, and three such sign-ins pause nothing."""
    from vahva.methods import service as methods
    from vahva.methods.totp import generate_secret

    secret = generate_secret()
    totp = methods.save_new(alice, "totp", now=clock() - dt.timedelta(days=1), secret=secret)
    for _ in range(3):
        browser = thief("127.0.0.1")
        assert browser.get("/signin/verify/").status_code == 200
        assert len(with_app.challenges()) == 1
        done = browser.post(f"/signin/verify/?method={totp.pk}", {"code": code_for(secret, clock)})
        assert done["Location"] == "/security-info/"
        assert with_app.challenges() == []
        clock.advance(vahva_settings.PUSH_WINDOW)
    assert allowance.pause_of(alice, now=clock()) is None
    assert not actions("push.paused")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "subject", "greeting"),
    [
        ("fi", "[Demo University] Kirjautumispyynnöt sovellukseesi on keskeytetty", "Hei,"),
        ("", "[Demo University] Sign-in requests to your app are paused", "Hello,"),
    ],
)
def test_the_person_is_told_in_their_own_language_not_the_thiefs(
    with_app: TestDevice,
    alice: Any,
    clock: Any,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
    language: str,
    subject: str,
    greeting: str,
) -> None:
    """The pause starts during a request of the thief's (here in Swedish): the person's mail
    speaks the person's language, or the service's when they chose none."""
    from django.utils import translation

    alice.language = language
    alice.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        refuse_three(with_app, clock)
    with translation.override("sv"):
        for callback in callbacks:
            callback()
        delivered()
    person = next(sent for sent in mailoutbox if sent.to == [alice.email])
    assert person.subject == subject
    assert person.body.startswith(f"{greeting}\n")
