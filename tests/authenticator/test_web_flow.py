"""End to end with Django's test client: enrol the vahva app from Security info (QR, link,
"Let's try it out"), then sign in with a password and a push approved with the number shown."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.authenticator.device import TestDevice
from tests.helpers import PASSWORD, code_for, sign_in_password, text
from vahva.audit.models import AuditEvent
from vahva.authenticator.models import Device, PushChallenge
from vahva.methods.models import PendingEnrolment, RegisteredMethod
from vahva.signin.models import SignInAttempt

pytestmark = pytest.mark.django_db


def link_on(page: Any) -> str:
    match = re.search(r'<code id="enrol-link" class="secret">([^<]+)</code>', text(page))
    assert match, "the link is shown as text too"
    return match.group(1)


def number_on(page: Any) -> int:
    match = re.search(r'id="push-number">(\d\d)<', text(page))
    assert match, text(page)
    return int(match.group(1))


def status(client: Client, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    data: dict[str, Any] = response.json()
    return data


def enrol_status_url(page: Any) -> str:
    match = re.search(r'data-poll="(/app/enrol/[0-9a-f-]+/status/)"', text(page))
    assert match
    return match.group(1)


@pytest.fixture
def signed_in(alice: Any, client: Client, clock: Any) -> Client:
    assert sign_in_password(client)["Location"] == "/security-info/setup/start/"
    return client


def enrol_app(client: Client, phone: TestDevice, path: str = "/security-info/add/app_push/") -> Any:
    """The whole enrolment as a person does it; returns the final response."""
    page = client.get(path)
    assert page.status_code == 200
    url = enrol_status_url(page)
    assert status(client, url) == {"state": "waiting"}
    link = link_on(page)
    assert link.startswith("http://localhost:8000/app/enroll#")
    assert phone.enroll(link.split("#", 1)[1]).status_code == 200
    testing = status(client, url)
    assert testing["state"] == "testing"
    assert testing["device"] == phone.name
    # The reloaded page (no script) says the same.
    reloaded = text(client.get(path))
    assert "Let's try it out" in reloaded
    assert f'data-fill="number">{testing["number"]}<' in reloaded
    (test,) = phone.challenges()
    assert phone.answer(test, "approve", testing["number"]).status_code == 200
    approved = status(client, url)
    assert approved["state"] == "approved"
    assert approved["response"] == uuid.UUID(test["id"]).hex
    return client.post(path, {"code": approved["response"]})


def test_enrol_the_app_from_security_info(signed_in: Client, clock: Any) -> None:
    phone = TestDevice()
    page = signed_in.get("/security-info/add/app_push/")
    body = text(page)
    assert 'id="qr" src="data:image/svg+xml' in body
    assert "QR code for the vahva app" in body
    # "I want to use a different authenticator app" still leads to any TOTP app.
    assert 'href="/security-info/add/totp/"' in body
    # CSP: no inline script.
    assert "<script>" not in body
    assert "onclick" not in body
    response = enrol_app(signed_in, phone)
    assert response["Location"] == "/security-info/"
    method = RegisteredMethod.objects.get()
    assert method.kind == "app_push"
    assert method.name == "Alice's phone"
    assert method.is_default
    assert Device.objects.get().status == "active"
    assert "vahva app (Alice&#x27;s phone)" in text(signed_in.get("/security-info/"))
    assert AuditEvent.objects.filter(action="method.added", data__method="app_push").exists()


def test_enrol_in_the_wizard_satisfies_the_app_step(signed_in: Client) -> None:
    page = text(signed_in.get("/security-info/setup/app_push/"))
    assert "Keep your account secure" in page
    assert 'href="/security-info/setup/totp/"' in page
    response = enrol_app(signed_in, TestDevice(), "/security-info/setup/app_push/")
    assert response["Location"] == "/security-info/setup/"
    # On to the wizard's next step, the phone.
    assert "Method 2 of 2: Phone" in text(signed_in.get("/security-info/setup/"))


def test_enrolment_is_not_saved_before_the_test_is_approved(signed_in: Client) -> None:
    phone = TestDevice()
    page = signed_in.get("/security-info/add/app_push/")
    assert phone.enroll(link_on(page).split("#", 1)[1]).status_code == 200
    (test,) = phone.challenges()
    early = signed_in.post(
        "/security-info/add/app_push/", {"code": uuid.UUID(test["id"]).hex}, follow=True
    )
    assert early.status_code == 409
    assert "still waiting for your answer" in text(early)
    forged = signed_in.post("/security-info/add/app_push/", {"code": uuid.uuid4().hex}, follow=True)
    assert forged.status_code == 404
    assert phone.answer(test, "deny").status_code == 200
    url = enrol_status_url(page)
    assert status(signed_in, url)["state"] == "denied"
    denied = signed_in.post(
        "/security-info/add/app_push/", {"code": uuid.UUID(test["id"]).hex}, follow=True
    )
    assert denied.status_code == 403
    assert "Request denied" in text(denied)
    assert not RegisteredMethod.objects.exists()
    assert Device.objects.get().status == "enrolled"
    # "Send another request" (reloading the page) sends a new test to the same device.
    signed_in.get("/security-info/add/app_push/")
    again = status(signed_in, url)
    assert again["state"] == "testing"
    assert phone.answer(phone.challenges()[0], "approve", again["number"]).status_code == 200
    done = signed_in.post(
        "/security-info/add/app_push/", {"code": status(signed_in, url)["response"]}
    )
    assert done["Location"] == "/security-info/"
    assert RegisteredMethod.objects.get().kind == "app_push"


def test_enrolment_status_is_private(signed_in: Client, make_user: Any, clock: Any) -> None:
    page = signed_in.get("/security-info/add/app_push/")
    url = enrol_status_url(page)
    assert Client().get(url).status_code == 401
    bob = Client()
    make_user("bob@example.org")
    sign_in_password(bob, "bob@example.org")
    assert bob.get(url).json() == {"state": "expired"}  # not Bob's: nothing to see
    assert signed_in.get("/app/enrol/not-a-uuid/status/").status_code == 404


def test_the_qr_link_lands_on_a_page_that_explains_the_client(client: Client) -> None:
    page = client.get("/app/enroll")
    assert page.status_code == 200
    assert "vahva authenticator enroll" in text(page)
    assert page["Cache-Control"] == "no-store"
    assert page["Referrer-Policy"] == "no-referrer"


# --- signing in with the app -------------------------------------------------------------


@pytest.fixture
def with_app(alice: Any, clock: Any, make_phone: Callable[..., TestDevice]) -> TestDevice:
    phone = make_phone(alice)
    clock.advance(3600)
    return phone


def start(client: Client) -> tuple[Any, int]:
    assert sign_in_password(client)["Location"] == "/signin/verify/"
    page = client.get("/signin/verify/")
    assert page.status_code == 200
    return page, number_on(page)


STATUS = "/signin/verify/status/"


def test_sign_in_with_the_app(client: Client, with_app: TestDevice) -> None:
    page, number = start(client)
    body = text(page)
    assert "Approve the sign-in request in the vahva app" in body
    assert 'data-poll="/signin/verify/status/?method=' in body
    assert "<script>" not in body
    assert status(client, STATUS) == {"state": "pending"}
    # Not signed in while waiting.
    assert client.get("/security-info/").status_code == 302
    (challenge,) = with_app.challenges()
    assert challenge["ip"] == "127.0.0.1"
    assert with_app.answer(challenge, "approve", number).status_code == 200
    assert status(client, STATUS) == {"state": "approved"}
    # The page's script now posts its form.
    response = client.post("/signin/verify/")
    assert response["Location"] == "/security-info/"
    assert client.get("/security-info/").status_code == 200
    attempt = SignInAttempt.objects.get()
    assert attempt.state == "done"
    assert attempt.amr == ["mfa", "pwd", "swk"]
    assert attempt.method == "app_push"
    assert status(client, STATUS)["state"] == "done"
    assert RegisteredMethod.objects.get().last_used_at is not None


def test_denied(client: Client, with_app: TestDevice) -> None:
    start(client)
    assert with_app.answer(with_app.challenges()[0], "deny").status_code == 200
    assert status(client, STATUS) == {"state": "denied"}
    response = client.post("/signin/verify/")
    assert response.status_code == 403
    assert "Request denied" in text(response)
    assert "Send another request" in text(response)
    assert client.get("/security-info/").status_code == 302
    assert AuditEvent.objects.get(action="push.denied").outcome == "failure"


def test_reported(client: Client, with_app: TestDevice) -> None:
    start(client)
    assert with_app.answer(with_app.challenges()[0], "report").status_code == 200
    assert status(client, STATUS) == {"state": "denied"}
    assert client.post("/signin/verify/").status_code == 403
    assert client.get("/security-info/").status_code == 302
    event = AuditEvent.objects.get(action="push.reported")
    assert event.data["attempt"] == str(SignInAttempt.objects.get().pk)


def test_no_answer_in_time(client: Client, with_app: TestDevice, clock: Any) -> None:
    page, number = start(client)
    assert "We didn't hear from you" in text(page)  # ready, hidden until needed
    assert 'href="/signin/other/"' in text(page)
    (old,) = with_app.challenges()
    clock.advance(60)
    assert status(client, STATUS) == {"state": "expired"}
    assert client.post("/signin/verify/").status_code == 410
    # "Send another request": the page again, with a new push.
    again = client.get("/signin/verify/")
    assert PushChallenge.objects.filter(purpose="signin").count() == 2
    assert with_app.answer(old, "approve", number).status_code == 410
    (new,) = with_app.challenges()
    assert with_app.answer(new, "approve", number_on(again)).status_code == 200
    assert client.post("/signin/verify/")["Location"] == "/security-info/"


def test_approval_completes_only_its_own_attempt(
    client: Client, with_app: TestDevice, clock: Any
) -> None:
    """Two browsers, the same password: the second gets no request of its own and never the
    first one's number; the approval signs in only the first."""
    _page, number = start(client)
    thief = Client()
    assert sign_in_password(thief)["Location"] == "/signin/verify/"
    busy = thief.get("/signin/verify/")
    assert busy.status_code == 429
    assert "A sign-in request is already waiting on your phone" in text(busy)
    assert 'id="push-number"' not in text(busy)
    first = PushChallenge.objects.get(attempt=client.session["vahva_attempt"])
    assert number == first.number
    (pending,) = with_app.challenges()
    assert with_app.answer(pending, "approve", number).status_code == 200
    assert status(thief, STATUS) == {"state": "expired"}
    refused = thief.post("/signin/verify/")
    assert refused.status_code == 410
    assert thief.get("/security-info/").status_code == 302
    assert client.post("/signin/verify/")["Location"] == "/security-info/"
    # The approval is used up: replaying the post signs in nothing more.
    assert SignInAttempt.objects.filter(state="done").count() == 1


def test_status_without_an_attempt(client: Client, with_app: TestDevice) -> None:
    response = client.get(STATUS)
    assert response.status_code == 410
    assert response.json()["state"] == "gone"
    start(client)
    assert client.get(f"{STATUS}?method=999999").status_code == 400


def test_totp_users_are_unaffected(alice_totp: tuple[Any, str], client: Client, clock: Any) -> None:
    sign_in_password(client)
    page = client.get("/signin/verify/")
    assert "Enter the code from your authenticator app" in text(page)
    assert client.get(STATUS).status_code == 400
    assert not PendingEnrolment.objects.exists()


def test_confirming_it_is_you_with_only_the_app(
    client: Client, with_app: TestDevice, clock: Any
) -> None:
    """Before adding a method later on, a person with only the app confirms with a push and
    number matching, never with the password alone (issue #14 item 7)."""
    _page, number = start(client)
    with_app.approve_only(number)
    client.post("/signin/verify/")
    clock.advance(301)
    response = client.get("/security-info/add/totp/")
    assert response["Location"].startswith("/signin/confirm/")
    # The password alone, posted anyway, is refused and confirms nothing.
    password = client.post(
        "/signin/confirm/", {"password": PASSWORD, "next": "/security-info/add/totp/"}
    )
    assert password.status_code == 400
    assert "Confirm with one of your sign-in methods." in text(password)
    assert client.get("/security-info/add/totp/")["Location"].startswith("/signin/confirm/")
    # The confirmation is the sign-in's second step: a push with a number to match.
    assert client.get(response["Location"])["Location"] == "/signin/verify/"
    page = client.get("/signin/verify/")
    with_app.approve_only(number_on(page))
    done = client.post("/signin/verify/")
    assert done["Location"] == "/security-info/add/totp/"
    assert client.get("/security-info/add/totp/").status_code == 200
    event = AuditEvent.objects.filter(action="signin.success").latest("pk")
    assert event.reason == "re-authentication with a second factor before a change"


# --- the wizard, the offline code, removal, reports ----------------------------------------


def test_the_wizard_leads_with_the_vahva_app(signed_in: Client) -> None:
    page = text(signed_in.get("/security-info/setup/"))
    assert "Method 1 of 2: App" in page
    # One page: the enrolment QR both brings the app (a phone without it opens the web app
    # from the link) and adds the account.
    assert "No app on your phone yet? This code brings it" in page
    assert 'id="qr" src="data:image/svg+xml' in page
    assert 'id="enrol-link" class="secret">http://localhost:8000/app/enroll#' in page
    assert 'href="/security-info/setup/totp/">I want to use a different authenticator app' in page


def test_sign_in_with_the_apps_offline_code(
    client: Client, with_app: TestDevice, clock: Any
) -> None:
    page, _number = start(client)
    assert "No connection? Use the code shown in the app" in text(page)
    code = code_for(with_app.totp_secret, clock)
    response = client.post("/signin/verify/", {"code": code})
    assert response.status_code == 302
    assert response["Location"] == "/security-info/"
    attempt = SignInAttempt.objects.get(state="done")
    assert attempt.amr == ["mfa", "otp", "pwd"]  # a one-time code, not the app's key
    # The same code again, in a new sign-in: refused (single use).
    client.post("/signout/")
    start(client)
    again = client.post("/signin/verify/", {"code": code})
    assert again.status_code == 400
    assert "already been used" in text(again)


def test_removing_the_app_removes_its_device(
    signed_in: Client, alice: Any, clock: Any, make_phone: Callable[..., TestDevice]
) -> None:
    phone = make_phone(alice)
    method = RegisteredMethod.objects.get(kind="app_push")
    page = signed_in.get(f"/security-info/remove/{method.pk}/")
    assert page.status_code == 200
    response = signed_in.post(f"/security-info/remove/{method.pk}/")
    if response["Location"].startswith("/signin/confirm/"):
        # Asked to prove it is still Alice: with the password (the app is her only method).
        signed_in.post(response["Location"], {"password": PASSWORD})
        response = signed_in.post(f"/security-info/remove/{method.pk}/")
    assert response["Location"] == "/security-info/"
    assert not RegisteredMethod.objects.filter(kind="app_push").exists()
    assert Device.objects.get(pk=phone.id).status == Device.Status.REMOVED
    # Its key is refused from now on.
    assert phone.pending().status_code == 403


def test_security_info_shows_a_report_and_the_hold(
    client: Client, with_app: TestDevice, clock: Any
) -> None:
    _page, _number = start(client)
    (request,) = with_app.challenges()
    assert with_app.answer(request, "report").status_code == 200
    # Alice signs in another way later (here: the app's offline code, after the hold).
    clock.advance(120)
    client.post("/signin/verify/", {"code": code_for(with_app.totp_secret, clock)})
    info = html.unescape(text(client.get("/security-info/")))
    assert "You reported a sign-in request" in info
    assert "was answered “it wasn't me” on Alice's phone" in info
    assert "Sign-in requests to your app are paused until" in info


@pytest.mark.parametrize(
    ("networks", "outside"),
    [({"VPN": ["10.8.0.0/16"]}, True), ({"Campus": ["127.0.0.0/8"]}, False)],
)
def test_the_phone_hears_whether_the_sign_in_comes_from_a_trusted_network(
    client: Client, with_app: TestDevice, settings: Any, networks: Any, outside: bool
) -> None:
    # The engine finds the network; the method only passes it to the phone. On campus the
    # push is asked anyway here: Alice is staff, whose second factor nothing waives.
    settings.VAHVA = {**settings.VAHVA, "TRUSTED_NETWORKS": networks}
    alice = RegisteredMethod.objects.get(kind="app_push").user
    alice.is_staff = True
    alice.save()
    start(client)
    signin = PushChallenge.objects.filter(purpose="signin").get()
    assert signin.context["outside"] is outside
