"""The vahva app method: the method contract, and its own rules (one push per attempt at a time,
fan-out to active devices, approvals used once, number matching checked again)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.methods.contract import MethodContract
from vahva.authenticator import service as authenticator
from vahva.authenticator.errors import (
    AlreadyAnswered,
    DeviceRemoved,
    NoDevice,
    PushDenied,
    PushExpired,
    PushHeld,
    PushPending,
    TooManyPushes,
)
from vahva.authenticator.models import Device, PushChallenge
from vahva.conf import settings
from vahva.errors import MalformedInput, RateLimited
from vahva.methods import registry
from vahva.methods.app_push import enrolment_link
from vahva.methods.base import Answer, AttemptRef
from vahva.methods.challenges import MatchNumber
from vahva.methods.models import PendingEnrolment, RegisteredMethod


def _device(holder: PendingEnrolment | RegisteredMethod, now: dt.datetime) -> Device:
    """Enrol a device with the pending enrolment's code (as the app would)."""
    assert isinstance(holder, PendingEnrolment)
    device, _test = authenticator.enrol_device(
        code=holder.secret,
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        name="Phone",
        now=now,
    )
    return device


def _answer(holder: PendingEnrolment | RegisteredMethod, now: dt.datetime, decision: str) -> str:
    """Have the device answer: the test notification (enrolment) or a new sign-in push.
    Returns what the browser then hands to the method."""
    if isinstance(holder, PendingEnrolment):
        # The device acts while the enrolment is fresh; the browser may come later.
        device = _device(holder, holder.created_at)
        (push,) = authenticator.pending_for(device, now=holder.created_at)
        when = holder.created_at
        response = push.pk.hex
    else:
        attempt = uuid.uuid4()
        push = authenticator.push_for_attempt(
            holder.user, attempt=attempt, device_ids=[holder.data["device"]], now=now, context={}
        )
        device = Device.objects.get(pk=holder.data["device"])
        when = now
        response = str(attempt)
    authenticator.answer(
        device, challenge=push.pk, nonce=push.nonce, decision=decision, number=push.number, now=when
    )
    return response


@pytest.fixture
def django_settings(request: pytest.FixtureRequest) -> Any:
    """pytest-django's ``settings`` (the name ``settings`` is vahva's here)."""
    return request.getfixturevalue("settings")


class TestAppPushContract(MethodContract):
    kind = "app_push"

    def right_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        return _answer(secret_holder, now, "approve")

    def wrong_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        return _answer(secret_holder, now, "deny")


# --- the method's own rules ---------------------------------------------------------------


@pytest.fixture
def app(alice: Any, clock: Any) -> RegisteredMethod:
    """Alice with the vahva app on one device, enrolled as the pages do it."""
    method = registry.get("app_push")
    pending = method.start_enrolment(alice, now=clock())
    return method.finish_enrolment(pending, _answer(pending, clock(), "approve"), now=clock())


def test_metadata_and_registry_order() -> None:
    method = registry.get("app_push")
    assert str(method.label) == "vahva app"
    assert str(method.prompt) == "Approve the sign-in request in the vahva app"
    assert method.amr == ("swk",)
    # Approved in the app (the page waits), or the app's offline code typed.
    assert method.answer is Answer.APP
    assert next(m.kind for m in registry.all_methods()) == "app_push"


@pytest.mark.django_db
def test_enrolment_saves_the_device_as_a_method(app: RegisteredMethod) -> None:
    device = Device.objects.get(pk=app.data["device"])
    assert device.status == "active"
    assert app.name == "Phone"
    assert registry.get("app_push").describe(app) == "vahva app (Phone)"


@pytest.mark.django_db
def test_enrolment_link_and_context(alice: Any, clock: Any, settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": "https://mfa.example.org/"}
    method = registry.get("app_push")
    pending = method.start_enrolment(alice, now=clock())
    context = method.enrolment_context(pending)
    assert context["link"] == f"https://mfa.example.org/app/enroll#{pending.secret}"
    assert context["link"] == enrolment_link(pending.secret)
    assert context["qr"].startswith("data:image/svg+xml")
    assert context["status"].state == "waiting"


@pytest.mark.django_db
def test_finishing_before_the_test_is_answered(alice: Any, clock: Any) -> None:
    method = registry.get("app_push")
    pending = method.start_enrolment(alice, now=clock())
    _device(pending, clock())
    (test,) = PushChallenge.objects.all()
    with pytest.raises(PushPending):
        method.finish_enrolment(pending, test.pk.hex, now=clock())
    # Another enrolment's test, or garbage, is no proof either.
    with pytest.raises(MalformedInput):
        method.finish_enrolment(pending, "not-an-id", now=clock())
    assert not RegisteredMethod.objects.exists()
    assert PendingEnrolment.objects.get().consumed is False


@pytest.mark.django_db
def test_begin_keeps_one_push_per_attempt(app: RegisteredMethod, clock: Any) -> None:
    method = registry.get("app_push")
    attempt = AttemptRef(id=str(uuid.uuid4()), ip="198.51.100.7", service="Mail")
    first = method.begin(app, now=clock(), attempt=attempt)
    assert isinstance(first, MatchNumber)
    assert 10 <= first.number <= 99
    # Reloading the page shows the same number: no second push.
    again = method.begin(app, now=clock(), attempt=attempt)
    assert isinstance(again, MatchNumber)
    assert again.number == first.number
    assert PushChallenge.objects.filter(purpose="signin").count() == 1
    push = PushChallenge.objects.get(purpose="signin")
    assert push.context == {
        "ip": "198.51.100.7",
        "service": "Mail",
        "location": "",
        "outside": True,
    }
    assert method.status(app, attempt=attempt, now=clock()) == "pending"
    clock.advance(60)
    assert method.status(app, attempt=attempt, now=clock()) == "expired"
    with pytest.raises(PushExpired):
        method.verify(app, attempt.id, now=clock())
    # "Send another request": a new push once the last one expired.
    method.begin(app, now=clock(), attempt=attempt)
    assert PushChallenge.objects.filter(purpose="signin").count() == 2
    clock.advance(60)
    method.begin(app, now=clock(), attempt=attempt)
    clock.advance(60)
    # Push bombing: three requests per person in ten minutes (PUSH_MAX_PER_WINDOW)...
    with pytest.raises(TooManyPushes) as limited:
        method.begin(app, now=clock(), attempt=attempt)
    assert limited.value.retry_after == settings.PUSH_WINDOW - 180
    assert PushChallenge.objects.filter(purpose="signin").count() == 3
    clock.advance(settings.PUSH_WINDOW)
    method.begin(app, now=clock(), attempt=attempt)
    clock.advance(60)
    method.begin(app, now=clock(), attempt=attempt)
    clock.advance(60)
    # ... and five pushes per attempt at most.
    with pytest.raises(RateLimited) as per_attempt:
        method.begin(app, now=clock(), attempt=attempt)
    assert not isinstance(per_attempt.value, TooManyPushes)
    with pytest.raises(MalformedInput):
        method.begin(app, now=clock())


@pytest.mark.django_db
def test_verify_outcomes(app: RegisteredMethod, clock: Any, django_settings: Any) -> None:
    # Three refused requests would pause pushes (see tests/authenticator/test_push_bombing.py).
    django_settings.VAHVA = {**django_settings.VAHVA, "PUSH_SUSPICIOUS_LIMIT": 10}
    method = registry.get("app_push")
    device = Device.objects.get(pk=app.data["device"])

    def push_and(decision: str | None, number_right: bool = True) -> str:
        attempt = AttemptRef(id=str(uuid.uuid4()))
        method.begin(app, now=clock(), attempt=attempt)
        push = PushChallenge.objects.get(attempt=attempt.id)
        if decision:
            authenticator.answer(
                device,
                challenge=push.pk,
                nonce=push.nonce,
                decision=decision,
                number=push.number,
                now=clock(),
            )
        return attempt.id

    with pytest.raises(PushPending):
        method.verify(app, push_and(None), now=clock())
    # (One request waits at a time: the next sign-in's once this one expired.)
    clock.advance(settings.PUSH_TTL)
    with pytest.raises(PushDenied):
        method.verify(app, push_and("deny"), now=clock())
    reported = push_and("report")
    assert method.status(app, attempt=AttemptRef(reported), now=clock()) == "reported"
    with pytest.raises(PushDenied):
        method.verify(app, reported, now=clock())
    # After the report the person's pushes are held (see test_report_holds_pushes).
    clock.advance(settings.PUSH_REPORT_HOLD + 1)
    approved = push_and("approve")
    assert method.status(app, attempt=AttemptRef(approved), now=clock()) == "approved"
    method.verify(app, approved, now=clock())
    # Used once: the same approval does not complete anything again.
    with pytest.raises(AlreadyAnswered):
        method.verify(app, approved, now=clock())
    assert method.status(app, attempt=AttemptRef(approved), now=clock()) == "expired"
    # An attempt without a push.
    with pytest.raises(PushExpired):
        method.verify(app, str(uuid.uuid4()), now=clock())


@pytest.mark.django_db
def test_an_approval_stored_without_the_number_is_not_accepted(
    app: RegisteredMethod, clock: Any
) -> None:
    method = registry.get("app_push")
    attempt = AttemptRef(id=str(uuid.uuid4()))
    method.begin(app, now=clock(), attempt=attempt)
    # However a row came to say "approved" (a bug, a manual edit), the number must match.
    PushChallenge.objects.filter(attempt=attempt.id).update(
        state="approved", answered_by=app.data["device"], answered_number=None
    )
    with pytest.raises(PushDenied):
        method.verify(app, attempt.id, now=clock())


@pytest.mark.django_db
def test_approval_from_a_device_removed_since(app: RegisteredMethod, clock: Any) -> None:
    method = registry.get("app_push")
    device = Device.objects.get(pk=app.data["device"])
    attempt = AttemptRef(id=str(uuid.uuid4()))
    method.begin(app, now=clock(), attempt=attempt)
    push = PushChallenge.objects.get(attempt=attempt.id)
    authenticator.answer(
        device, challenge=push.pk, nonce=push.nonce, decision="approve", number=push.number,
        now=clock(),
    )  # fmt: skip
    authenticator.remove_device(device, now=clock())
    with pytest.raises(DeviceRemoved):
        method.verify(app, attempt.id, now=clock())
    # And no new push can be sent: no active device is left.
    with pytest.raises(NoDevice):
        method.begin(app, now=clock(), attempt=AttemptRef(id=str(uuid.uuid4())))


@pytest.mark.django_db
def test_push_goes_to_every_active_device(alice: Any, clock: Any) -> None:
    method = registry.get("app_push")
    saved = []
    for _ in range(2):
        pending = method.start_enrolment(alice, now=clock())
        saved.append(
            method.finish_enrolment(pending, _answer(pending, clock(), "approve"), now=clock())
        )
    # A third device enrolled but never tested is not sent sign-in pushes.
    spare = method.start_enrolment(alice, now=clock())
    untested = _device(spare, clock())
    attempt = AttemptRef(id=str(uuid.uuid4()))
    method.begin(saved[0], now=clock(), attempt=attempt)
    push = PushChallenge.objects.get(attempt=attempt.id)
    assert {str(d.pk) for d in push.targets.all()} == {m.data["device"] for m in saved}
    assert untested not in push.targets.all()
    # The second device answers; "last used" goes to its method.
    second = Device.objects.get(pk=saved[1].data["device"])
    authenticator.answer(
        second, challenge=push.pk, nonce=push.nonce, decision="approve", number=push.number,
        now=clock(),
    )  # fmt: skip
    method.verify(saved[0], attempt.id, now=clock())
    assert RegisteredMethod.objects.get(pk=saved[1].pk).last_used_at == clock()
    assert RegisteredMethod.objects.get(pk=saved[0].pk).last_used_at is None


@pytest.mark.django_db
def test_report_holds_pushes_and_withdraws_the_others(
    app: RegisteredMethod,
    clock: Any,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
    django_settings: Any,
) -> None:
    """ "Deny and report": the other waiting sign-ins are denied too, no push reaches the phone
    for PUSH_REPORT_HOLD seconds, and the helpdesk gets an e-mail."""
    # Two requests may wait at once here (one by default: see test_push_bombing.py).
    django_settings.VAHVA = {**django_settings.VAHVA, "PUSH_MAX_OPEN": 2}
    method = registry.get("app_push")
    device = Device.objects.get(pk=app.data["device"])
    first, second = AttemptRef(id=str(uuid.uuid4())), AttemptRef(id=str(uuid.uuid4()))
    method.begin(app, now=clock(), attempt=first)
    method.begin(app, now=clock(), attempt=second)
    push = PushChallenge.objects.get(attempt=first.id)
    with django_capture_on_commit_callbacks(execute=True):
        authenticator.answer(
            device, challenge=push.pk, nonce=push.nonce, decision="report", number=None, now=clock()
        )
    assert method.status(app, attempt=second, now=clock()) == "denied"
    assert authenticator.held_until(app.user, now=clock()) == clock() + dt.timedelta(
        seconds=settings.PUSH_REPORT_HOLD
    )
    with pytest.raises(PushHeld):
        method.begin(app, now=clock(), attempt=AttemptRef(id=str(uuid.uuid4())))
    (alert,) = mailoutbox
    assert alert.to == [settings.HELPDESK_EMAIL]
    assert app.user.email in alert.subject
    clock.advance(settings.PUSH_REPORT_HOLD + 1)
    assert authenticator.held_until(app.user, now=clock()) is None
    assert isinstance(
        method.begin(app, now=clock(), attempt=AttemptRef(id=str(uuid.uuid4()))), MatchNumber
    )


@pytest.mark.django_db
def test_the_phone_is_told_whether_the_sign_in_is_inside_the_networks(
    app: RegisteredMethod, clock: Any
) -> None:
    # The engine finds the network (tests/signin: the waiting page); the method passes it on.
    method = registry.get("app_push")
    for network, outside in (("VPN", False), (None, True)):
        attempt = AttemptRef(id=str(uuid.uuid4()), service="Mail", trusted_network=network)
        method.begin(app, now=clock(), attempt=attempt)
        assert PushChallenge.objects.get(attempt=attempt.id).context["outside"] is outside
        clock.advance(60)  # expired: the next sign-in may send its own (one waits at a time)


def test_the_offline_code_of_any_of_the_persons_devices_signs_in(
    alice: Any, clock: Any, client: Any
) -> None:
    # Issue #19, item 3: the request went to both phones, so either phone's offline code is
    # Alice's; the page says the request is on any of her devices.
    from tests.helpers import code_for, sign_in_password, text

    method = registry.get("app_push")
    phones = []
    for _ in range(2):
        pending = method.start_enrolment(alice, now=clock() - dt.timedelta(days=1))
        answer = _answer(pending, clock() - dt.timedelta(days=1), "approve")
        phones.append(method.finish_enrolment(pending, answer, now=clock() - dt.timedelta(days=1)))
    first, second = phones
    assert first.is_default

    assert sign_in_password(client)["Location"] == "/signin/verify/"
    page = text(client.get("/signin/verify/"))
    assert "on any of your 2 devices" in page
    signed_in = client.post("/signin/verify/", {"code": code_for(second.secret, clock)})
    assert signed_in.status_code == 302
    assert RegisteredMethod.objects.get(pk=second.pk).last_used_at == clock()

    # The same code again, at another sign-in: already used (the second phone's counter moved).
    other = type(client)()
    sign_in_password(other)
    other.get("/signin/verify/")
    replayed = other.post("/signin/verify/", {"code": code_for(second.secret, clock)})
    assert replayed.status_code == 400
    assert "already been used" in text(replayed)
