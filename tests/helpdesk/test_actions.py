"""The helpdesk's actions: each needs a ticket, changes nothing without one (400 with a
clear message), and lands in the audit log with the ticket when done."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.authenticator.device import TestDevice
from tests.helpers import sign_in_password, text
from vahva.accounts.models import User
from vahva.audit.models import AuditEvent
from vahva.authenticator.models import Device
from vahva.conf import settings
from vahva.methods import service as methods
from vahva.methods import tap
from vahva.methods.models import RegisteredMethod
from vahva.methods.totp import generate_secret
from vahva.policy import exemptions
from vahva.policy.models import Exemption
from vahva.signin import throttle

pytestmark = pytest.mark.django_db

PASS = re.compile(r'id="tap-code">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})<')


def audit(action: str) -> AuditEvent:
    return AuditEvent.objects.get(action=action)


def _issue(desk: Client, person: User, **fields: str) -> Any:
    data = {"pass-ticket": "INC-1001", "pass-lifetime": "3600", "pass-use": "one_time"}
    data.update({f"pass-{name}": value for name, value in fields.items()})
    return desk.post(f"/helpdesk/people/{person.pk}/pass/", data, follow=True)


# --- temporary access pass -----------------------------------------------------------------


def test_a_pass_is_shown_once_and_kept_only_as_a_hash(
    desk: Client, agent: User, alice: User, clock: Any
) -> None:
    response = _issue(desk, alice)
    assert response.status_code == 200
    # Post/redirect/get: the page that shows the pass is a GET of its own.
    assert response.redirect_chain == [(f"/helpdesk/people/{alice.pk}/pass/shown/", 302)]
    found = PASS.search(text(response))
    assert found, text(response)
    code = found.group(1)
    assert "It works for one sign-in, until 2.3.2026" in text(response)
    assert "no-store" in response["Cache-Control"]
    # Hashed at rest: the clear text is nowhere in the database row.
    registered = RegisteredMethod.objects.get(user=alice, kind=tap.KIND)
    stored = f"{registered.secret}{registered.data}".replace("-", "")
    assert code.replace("-", "") not in stored
    # Not in the URL either, and the person page never shows it again.
    assert code not in response.request["PATH_INFO"]
    assert code not in text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    event = audit("tap.issued")
    assert (event.actor_id, event.subject_id) == (agent.pk, alice.pk)
    assert event.data["ticket"] == "INC-1001"
    assert event.data["one_time"] is True


def test_reloading_the_pass_page_shows_no_pass_and_issues_none(
    desk: Client, alice: User, clock: Any
) -> None:
    shown = _issue(desk, alice)
    code = PASS.search(text(shown))
    assert code
    issued = RegisteredMethod.objects.get(user=alice, kind=tap.KIND)
    clock.advance(5)
    again = desk.get(f"/helpdesk/people/{alice.pk}/pass/shown/")
    assert again.status_code == 200
    body = text(again)
    assert PASS.search(body) is None
    assert code.group(1) not in body
    assert "this page has shown it already" in body
    assert "The pass the person has works for one sign-in, until 2.3.2026" in body
    # The pass read to the caller still works: nothing was issued behind the agent's back.
    assert list(RegisteredMethod.objects.filter(user=alice, kind=tap.KIND)) == [issued]
    assert AuditEvent.objects.filter(action="tap.issued").count() == 1
    assert tap.active_pass(alice, now=clock()) == issued
    # Issuing another is its own, explicit form: the ticket is already filled in.
    assert 'value="INC-1001"' in body
    assert "Create a new pass instead" in body
    second = desk.post(
        f"/helpdesk/people/{alice.pk}/pass/",
        {"pass-ticket": "INC-1001", "pass-lifetime": "3600", "pass-use": "one_time"},
        follow=True,
    )
    assert PASS.search(text(second))
    assert AuditEvent.objects.filter(action="tap.issued").count() == 2


def test_a_pass_replaced_by_another_agent_is_not_shown(
    desk: Client, agent: User, alice: User, clock: Any
) -> None:
    posted = desk.post(
        f"/helpdesk/people/{alice.pk}/pass/",
        {"pass-ticket": "INC-1", "pass-lifetime": "3600", "pass-use": "one_time"},
    )
    assert posted.status_code == 302
    # Between the POST and its page, a colleague issues a new pass: the first no longer works,
    # so it must not be read to the caller.
    tap.issue(alice, now=clock(), ticket="INC-2", actor=agent)
    page = desk.get(posted["Location"])
    assert PASS.search(text(page)) is None
    assert "this page has shown it already" in text(page)


def test_a_pass_not_fetched_in_time_is_not_shown(desk: Client, alice: User, clock: Any) -> None:
    posted = desk.post(
        f"/helpdesk/people/{alice.pk}/pass/",
        {"pass-ticket": "INC-1", "pass-lifetime": "3600", "pass-use": "one_time"},
    )
    clock.advance(121)
    assert PASS.search(text(desk.get(posted["Location"]))) is None


def test_the_ticket_is_remembered_for_the_person_until_changed(
    desk: Client, alice: User, make_user: Any, clock: Any
) -> None:
    bob = make_user("bob@example.org", full_name="Bob")
    person = f"/helpdesk/people/{alice.pk}/"
    assert 'value="INC-77"' not in text(desk.get(person))
    desk.post(f"{person}unlock/", {"unlock-ticket": "INC-77"})
    page = text(desk.get(person))
    # Every form of the page and the confirmation pages carry it.
    # pass, exemption, sign-out, the procedure (no app, no lockout, no way to send a code)
    assert page.count('value="INC-77"') == 4
    assert 'value="INC-77"' in text(desk.get(f"{person}pass/revoke/"))
    # Another person's page has its own ticket (none yet).
    assert 'value="INC-77"' not in text(desk.get(f"/helpdesk/people/{bob.pk}/"))
    # Changed on any form: the new one is remembered.
    desk.post(f"{person}sign-out/", {"signout-ticket": "INC-78"})
    page = text(desk.get(person))
    assert 'value="INC-78"' in page
    assert 'value="INC-77"' not in page


def test_a_time_boxed_pass(desk: Client, alice: User, clock: Any) -> None:
    response = _issue(desk, alice, use="time_boxed", lifetime="86400")
    assert "It works for any number of sign-ins until 3.3.2026" in text(response)
    registered = RegisteredMethod.objects.get(user=alice, kind=tap.KIND)
    assert registered.expires_at == clock() + dt.timedelta(days=1)
    assert registered.counter == -1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ticket": ""}, "Enter the helpdesk ticket number."),
        ({"ticket": "   "}, "Enter the helpdesk ticket number."),
        ({"ticket": "x" * 65}, "A ticket number is at most 64 characters."),
        ({"ticket": "INC-1\nforged audit line"}, "A ticket number is at most 64 characters"),
        ({"lifetime": "999999999"}, "Choose one of the times in the list."),
        ({"lifetime": "soon"}, "Choose one of the times in the list."),
        ({"use": "forever"}, "Choose how often the pass may be used."),
    ],
)
def test_a_pass_without_a_ticket_or_with_a_bad_form_is_refused(
    fields: dict[str, str], message: str, desk: Client, alice: User, clock: Any
) -> None:
    response = _issue(desk, alice, **fields)
    assert response.status_code == 400
    assert message in text(response)
    assert "Nothing was changed." in text(response)
    assert not PASS.search(text(response))
    assert not RegisteredMethod.objects.filter(user=alice).exists()
    assert not AuditEvent.objects.filter(action="tap.issued").exists()


def test_the_form_offers_only_lifetimes_up_to_the_limit(
    desk: Client, alice: User, settings: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "TAP_LIFETIME": 3600, "TAP_MAX_LIFETIME": 8 * 3600}
    body = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    assert '<option value="28800">8 hours</option>' in body
    assert "1 day" not in body
    assert _issue(desk, alice, lifetime="86400").status_code == 400


def test_a_disabled_account_gets_no_pass(desk: Client, alice: User) -> None:
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = _issue(desk, alice)
    assert response.status_code == 400
    assert "This account is disabled" in text(response)


def _sign_in_with_pass(code: str, *, method: int | None = None) -> Any:
    """Password, then the pass on the second step (the pass is offered first while it works;
    ``method`` names it when it no longer is)."""
    client = Client()
    assert sign_in_password(client).status_code == 302
    query = f"?method={method}" if method else ""
    if not method:
        page = client.get("/signin/verify/")
        assert "Enter the temporary access pass the helpdesk gave you" in text(page)
    return client.post(f"/signin/verify/{query}", {"code": code})


def test_a_used_pass_is_refused(desk: Client, alice: User, phone: TestDevice, clock: Any) -> None:
    code = PASS.search(text(_issue(desk, alice))).group(1)  # type: ignore[union-attr]
    first = _sign_in_with_pass(code)
    assert first.status_code == 302
    assert first["Location"] == "/security-info/"
    pk = RegisteredMethod.objects.get(user=alice, kind=tap.KIND).pk
    again = _sign_in_with_pass(code, method=pk)
    assert again.status_code == 410
    assert "This temporary access pass has expired or was already used." in text(again)
    assert tap.active_pass(alice, now=clock()) is None


def test_an_expired_pass_is_refused(desk: Client, alice: User, alice_totp: Any, clock: Any) -> None:
    code = PASS.search(text(_issue(desk, alice))).group(1)  # type: ignore[union-attr]
    clock.advance(3601)
    pk = RegisteredMethod.objects.get(user=alice, kind=tap.KIND).pk
    refused = _sign_in_with_pass(code, method=pk)
    assert refused.status_code == 410
    assert "This temporary access pass has expired or was already used." in text(refused)
    # Once expired, the sign-in asks for the person's own method again.
    client = Client()
    sign_in_password(client)
    assert "Enter the code from your authenticator app" in text(client.get("/signin/verify/"))


def test_revoking_the_pass(desk: Client, agent: User, alice: User, clock: Any) -> None:
    tap.issue(alice, now=clock(), ticket="INC-1", actor=agent)
    url = f"/helpdesk/people/{alice.pk}/pass/revoke/"
    confirm = desk.get(url)
    assert confirm.status_code == 200
    assert "The pass stops working at once" in text(confirm)
    refused = desk.post(url, {"ticket": ""})
    assert refused.status_code == 400
    assert "Enter the helpdesk ticket number." in text(refused)
    assert tap.active_pass(alice, now=clock()) is not None
    done = desk.post(url, {"ticket": "INC-2"}, follow=True)
    assert "The temporary access pass was revoked." in text(done)
    assert tap.active_pass(alice, now=clock()) is None
    assert audit("tap.revoked").data["ticket"] == "INC-2"
    # Nothing left: said so, not a 500.
    again = desk.post(url, {"ticket": "INC-3"}, follow=True)
    assert "There was no working temporary access pass to revoke." in text(again)


# --- methods and devices -------------------------------------------------------------------


def test_removing_a_device_stops_its_signatures(
    desk: Client, agent: User, alice: User, phone: TestDevice, clock: Any
) -> None:
    device = Device.objects.get(user=alice)
    url = f"/helpdesk/people/{alice.pk}/devices/{device.pk}/remove/"
    confirm = desk.get(url)
    assert "“Alice&#x27;s phone” no longer gets sign-in requests" in text(confirm)
    refused = desk.post(url, {"ticket": ""})
    assert refused.status_code == 400
    assert phone.pending().status_code == 200
    done = desk.post(url, {"ticket": "INC-7"}, follow=True)
    assert "The device “Alice&#x27;s phone” was removed." in text(done)
    # A lost phone keeps its key, but the server no longer takes its signed requests.
    refused_request = phone.pending()
    assert refused_request.status_code == 403
    assert refused_request.json()["error"] == "device_removed"
    # Its method is gone too: Security info (and the helpdesk page) no longer list it.
    assert methods.listed_for(alice) == []
    hers = Client()
    hers.force_login(alice)
    assert "Alice&#x27;s phone" not in text(hers.get("/security-info/"))
    event = audit("helpdesk.device_removed")
    assert (event.actor_id, event.subject_id) == (agent.pk, alice.pk)
    assert event.data["ticket"] == "INC-7"
    assert event.data["device_name"] == "Alice's phone"


def test_removing_a_method(desk: Client, agent: User, alice: User, clock: Any) -> None:
    registered = methods.save_new(alice, "totp", now=clock(), secret=generate_secret())
    url = f"/helpdesk/people/{alice.pk}/methods/{registered.pk}/remove/"
    assert desk.post(url, {"ticket": ""}).status_code == 400
    assert RegisteredMethod.objects.filter(pk=registered.pk).exists()
    desk.post(url, {"ticket": "INC-8"})
    assert not RegisteredMethod.objects.filter(pk=registered.pk).exists()
    event = audit("helpdesk.method_removed")
    assert event.data["ticket"] == "INC-8"
    assert event.data["method"] == "totp"


def test_another_persons_method_or_device_is_a_404(
    desk: Client,
    alice: User,
    make_user: Callable[..., Any],
    make_phone: Callable[..., TestDevice],
    clock: Any,
) -> None:
    bob = make_user("bob@example.org", full_name="Bob")
    bobs_phone = make_phone(bob, name="Bob's phone")
    bobs_method = RegisteredMethod.objects.get(user=bob)
    bobs_device = Device.objects.get(user=bob)
    # Bob's ids under Alice's page: not found, and nothing of Bob's changes.
    for url in (
        f"/helpdesk/people/{alice.pk}/methods/{bobs_method.pk}/remove/",
        f"/helpdesk/people/{alice.pk}/devices/{bobs_device.pk}/remove/",
    ):
        assert desk.get(url).status_code == 404
        assert desk.post(url, {"ticket": "INC-1"}).status_code == 404
    assert bobs_phone.pending().status_code == 200
    assert RegisteredMethod.objects.filter(pk=bobs_method.pk).exists()
    assert desk.get(f"/helpdesk/people/{alice.pk}/devices/not-a-uuid/remove/").status_code == 404
    assert desk.get(f"/helpdesk/people/{alice.pk}/methods/999/remove/").status_code == 404


def test_the_pass_is_not_removed_as_a_method(
    desk: Client, agent: User, alice: User, clock: Any
) -> None:
    registered, _code = tap.issue(alice, now=clock(), ticket="INC-1", actor=agent)
    url = f"/helpdesk/people/{alice.pk}/methods/{registered.pk}/remove/"
    assert desk.post(url, {"ticket": "INC-2"}).status_code == 404
    assert tap.active_pass(alice, now=clock()) is not None


# --- exemptions ----------------------------------------------------------------------------


def _grant(desk: Client, person: User, **fields: str) -> Any:
    data = {
        "exemption-ticket": "INC-20",
        "exemption-reason": "No smartphone; a key is on order",
        "exemption-until": "2026-03-31",
    }
    data.update({f"exemption-{name}": value for name, value in fields.items()})
    return desk.post(f"/helpdesk/people/{person.pk}/exemptions/", data)


def test_granting_an_exemption(desk: Client, agent: User, alice: User, clock: Any) -> None:
    done = _grant(desk, alice)
    assert done.status_code == 302
    exemption = Exemption.objects.get(user=alice)
    assert exemption.ticket == "INC-20"
    assert exemption.granted_by_id == agent.pk
    # Until the end of the last day, in the deployment's time zone.
    assert exemption.expires_at > dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)
    assert exemption.expires_at <= dt.datetime(2026, 4, 1, 12, tzinfo=dt.UTC)
    assert exemptions.active_for(alice, now=clock()) == exemption
    page = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    assert "The exemption was granted until" in page
    assert "Exempt from the second factor until" in page
    event = audit("exemption.granted")
    assert (event.actor_id, event.data["ticket"]) == (agent.pk, "INC-20")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ticket": ""}, "Enter the helpdesk ticket number."),
        ({"reason": ""}, "An exemption needs a reason."),
        ({"until": ""}, "Give the exemption&#x27;s last day."),
        ({"until": "next week"}, "Give the last day as a date"),
        ({"until": "2026-02-30"}, "Give the last day as a date"),
        ({"until": "2026-03-01"}, "The exemption&#x27;s end date must be in the future."),
        ({"until": "2031-01-01"}, "An exemption may last at most 365 days."),
        ({"reason": "x" * 301}, "Keep the reason to 300 characters."),
    ],
)
def test_an_exemption_without_ticket_reason_or_end_is_refused(
    fields: dict[str, str], message: str, desk: Client, alice: User, clock: Any
) -> None:
    response = _grant(desk, alice, **fields)
    assert response.status_code == 400
    assert message in text(response)
    assert not Exemption.objects.exists()
    assert not AuditEvent.objects.filter(action="exemption.granted").exists()


def test_revoking_an_exemption(desk: Client, agent: User, alice: User, clock: Any) -> None:
    exemption = exemptions.grant(
        alice,
        ticket="INC-20",
        reason="No phone",
        expires_at=clock() + dt.timedelta(days=3),
        now=clock(),
        actor=agent,
    )
    url = f"/helpdesk/people/{alice.pk}/exemptions/{exemption.pk}/revoke/"
    assert "ticket INC-20" in text(desk.get(url))
    assert desk.post(url, {"ticket": ""}).status_code == 400
    assert exemptions.active_for(alice, now=clock()) is not None
    desk.post(url, {"ticket": "INC-21"})
    assert exemptions.active_for(alice, now=clock()) is None
    assert audit("exemption.revoked").data["ticket"] == "INC-21"
    assert desk.get(f"/helpdesk/people/{alice.pk}/exemptions/999/revoke/").status_code == 404


# --- sessions and lockouts -----------------------------------------------------------------


def test_signing_out_everywhere(desk: Client, agent: User, alice: User, clock: Any) -> None:
    hers = Client()
    hers.force_login(alice)
    assert hers.get("/security-info/").status_code == 200
    url = f"/helpdesk/people/{alice.pk}/sign-out/"
    refused = desk.post(url, {"signout-ticket": ""})
    assert refused.status_code == 400
    assert hers.get("/security-info/").status_code == 200
    done = desk.post(url, {"signout-ticket": "INC-30"}, follow=True)
    assert "The person was signed out everywhere." in text(done)
    # Her browser's session no longer counts.
    assert hers.get("/security-info/").status_code == 302
    event = audit("helpdesk.signed_out")
    assert (event.actor_id, event.subject_id, event.data["ticket"]) == (
        agent.pk,
        alice.pk,
        "INC-30",
    )
    # The agent's own session is untouched.
    assert desk.get("/helpdesk/").status_code == 200


def test_clearing_a_lockout(desk: Client, agent: User, alice: User, clock: Any) -> None:
    rule = throttle.Rule.from_setting(settings.THROTTLE_MFA_ACCOUNT)
    key = f"mfa:acct:{alice.pk}"
    for _ in range(rule.limit or 1):
        throttle.fail([(key, rule)], now=clock())
    page = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    assert 'id="locked"' in page
    assert f"{rule.limit} wrong codes in a row." in page
    url = f"/helpdesk/people/{alice.pk}/unlock/"
    assert desk.post(url, {"unlock-ticket": ""}).status_code == 400
    assert throttle.failures_of(key) == rule.limit
    done = desk.post(url, {"unlock-ticket": "INC-40"}, follow=True)
    assert "The wrong codes were forgotten" in text(done)
    assert throttle.failures_of(key) == 0
    assert "No wrong codes were entered" in text(done)
    event = audit("helpdesk.unlocked")
    assert event.data == {
        "ticket": "INC-40",
        "failures": rule.limit,
        "was_locked": True,
    }


def test_a_slow_down_shows_the_wait(desk: Client, alice: User, clock: Any) -> None:
    rule = throttle.Rule.from_setting(settings.THROTTLE_MFA_ACCOUNT)
    for _ in range(rule.free + 2):
        throttle.fail([(f"mfa:acct:{alice.pk}", rule)], now=clock())
    page = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    assert "The next try is allowed in" in page
    assert 'id="locked"' not in page


def test_removing_the_last_method_warns_first(
    desk: Client, alice: User, phone: TestDevice, clock: Any
) -> None:
    device = Device.objects.get(user=alice)
    url = f"/helpdesk/people/{alice.pk}/devices/{device.pk}/remove/"
    assert "This is the person&#x27;s last sign-in method" in text(desk.get(url))
    # With another method left, no warning.
    methods.save_new(alice, "totp", now=clock(), secret=generate_secret())
    assert "last sign-in method" not in text(desk.get(url))


def test_without_the_pass_method_the_helpdesk_offers_no_pass(desk: Client, alice: User) -> None:
    from django.test import override_settings

    from vahva.methods import installed, registry

    paths = tuple(p for p in installed.BUILTIN if not p.endswith("TemporaryPassMethod"))
    try:
        with override_settings(VAHVA_METHODS=paths):
            registry.load()
            page = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
            assert 'id="pass"' not in page
            refused = desk.post(
                f"/helpdesk/people/{alice.pk}/pass/",
                {"pass-ticket": "INC-1", "pass-lifetime": "3600", "pass-use": "one_time"},
            )
            assert refused.status_code == 400
            assert "does not issue temporary access passes" in text(refused)
    finally:
        registry.load()
    assert 'id="pass"' in text(desk.get(f"/helpdesk/people/{alice.pk}/"))
