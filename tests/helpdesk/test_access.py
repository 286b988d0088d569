"""Who may use the helpdesk: signed-in staff with the permission; everyone else is refused
before anything is looked up, shown or changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.helpdesk.conftest import grant_helpdesk, signed_in
from tests.helpers import force_mfa_login
from vahva.accounts.models import User
from vahva.audit.models import AuditEvent
from vahva.methods import tap
from vahva.methods.models import RegisteredMethod
from vahva.policy.models import Exemption

pytestmark = pytest.mark.django_db

GET_PAGES = [
    "/helpdesk/",
    "/helpdesk/?q=alice",
    "/helpdesk/people/{pk}/",
    "/helpdesk/people/{pk}/pass/revoke/",
    "/helpdesk/people/{pk}/pass/shown/",
]
POSTS = [
    ("/helpdesk/people/{pk}/check/", {"check-ticket": "T-1"}),
    (
        "/helpdesk/people/{pk}/pass/",
        {"pass-ticket": "T-1", "pass-lifetime": "3600", "pass-use": "one_time"},
    ),
    (
        "/helpdesk/people/{pk}/exemptions/",
        {
            "exemption-ticket": "T-1",
            "exemption-reason": "No phone",
            "exemption-until": "2026-03-20",
        },
    ),
    ("/helpdesk/people/{pk}/sign-out/", {"signout-ticket": "T-1"}),
    ("/helpdesk/people/{pk}/unlock/", {"unlock-ticket": "T-1"}),
    ("/helpdesk/people/{pk}/pass/revoke/", {"ticket": "T-1"}),
]


def _nothing_happened(alice: User) -> None:
    assert not RegisteredMethod.objects.filter(user=alice).exists()
    assert not Exemption.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="helpdesk.").exists()
    assert not AuditEvent.objects.filter(action="tap.issued").exists()


def test_signed_out_goes_to_the_sign_in_page_and_back(client: Client, alice: User) -> None:
    response = client.get(f"/helpdesk/people/{alice.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/signin/?next=/helpdesk/people/{alice.pk}/"


@pytest.mark.parametrize("page", GET_PAGES)
def test_a_member_gets_403_on_every_page(
    page: str, alice: User, make_user: Callable[..., Any]
) -> None:
    bob = make_user("bob@example.org", full_name="Bob")
    response = signed_in(bob).get(page.format(pk=alice.pk))
    assert response.status_code == 403
    assert "The helpdesk tools are for helpdesk staff only." in response.content.decode()
    # Nothing of Alice's is shown to Bob, and nobody "viewed" her.
    assert "alice@example.org" not in response.content.decode()
    _nothing_happened(alice)


@pytest.mark.parametrize(("url", "data"), POSTS)
def test_a_member_gets_403_on_every_action(
    url: str, data: dict[str, str], alice: User, make_user: Callable[..., Any], clock: Any
) -> None:
    bob = make_user("bob@example.org", full_name="Bob")
    response = signed_in(bob).post(url.format(pk=alice.pk), data)
    assert response.status_code == 403
    _nothing_happened(alice)


@pytest.mark.parametrize(("url", "data"), POSTS)
def test_staff_without_the_permission_get_403(
    url: str, data: dict[str, str], alice: User, make_user: Callable[..., Any], clock: Any
) -> None:
    staff = make_user("staff@example.org", full_name="Stan Staff", is_staff=True)
    client = signed_in(staff)
    assert client.get(f"/helpdesk/people/{alice.pk}/").status_code == 403
    assert client.post(url.format(pk=alice.pk), data).status_code == 403
    _nothing_happened(alice)


def test_the_permission_without_staff_status_is_not_enough(
    alice: User, make_user: Callable[..., Any]
) -> None:
    member = grant_helpdesk(make_user("bob@example.org", full_name="Bob"))
    assert signed_in(member).get(f"/helpdesk/people/{alice.pk}/").status_code == 403


def test_a_disabled_agent_is_refused(agent: User, desk: Client, alice: User) -> None:
    User.objects.filter(pk=agent.pk).update(is_active=False)
    response = desk.get("/helpdesk/")
    # Django ends the session of a disabled account: back to the sign-in page.
    assert response.status_code in (302, 403)
    assert "alice" not in response.content.decode()


def test_an_agent_and_a_superuser_get_in(
    desk: Client, alice: User, make_user: Callable[..., Any]
) -> None:
    assert desk.get("/helpdesk/").status_code == 200
    admin = make_user("admin@example.org", full_name="Ada Admin", is_staff=True, is_superuser=True)
    assert signed_in(admin).get(f"/helpdesk/people/{alice.pk}/").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/helpdesk/people/{pk}/check/",
        "/helpdesk/people/{pk}/pass/",
        "/helpdesk/people/{pk}/exemptions/",
        "/helpdesk/people/{pk}/sign-out/",
        "/helpdesk/people/{pk}/unlock/",
    ],
)
def test_actions_take_only_post(url: str, desk: Client, alice: User) -> None:
    # A link (or an <img> on another site) cannot act: changes are POSTs with a CSRF token.
    assert desk.get(url.format(pk=alice.pk)).status_code == 405


def test_actions_need_the_csrf_token(agent: User, alice: User, clock: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    force_mfa_login(client, agent)
    response = client.post(
        f"/helpdesk/people/{alice.pk}/pass/",
        {"pass-ticket": "T-1", "pass-lifetime": "3600", "pass-use": "one_time"},
    )
    assert response.status_code == 403
    assert tap.active_pass(alice, now=clock()) is None


def test_an_agent_cannot_act_on_their_own_account(agent: User, desk: Client, clock: Any) -> None:
    page = desk.get(f"/helpdesk/people/{agent.pk}/")
    assert page.status_code == 200
    assert "You cannot use the helpdesk tools on your own account." in page.content.decode()
    response = desk.post(
        f"/helpdesk/people/{agent.pk}/pass/",
        {"pass-ticket": "T-1", "pass-lifetime": "3600", "pass-use": "one_time"},
    )
    # Self-service bypass: no pass (or exemption) for oneself.
    assert response.status_code == 403
    assert tap.active_pass(agent, now=clock()) is None
    response = desk.post(
        f"/helpdesk/people/{agent.pk}/exemptions/",
        {"exemption-ticket": "T-1", "exemption-reason": "x", "exemption-until": "2026-03-20"},
    )
    assert response.status_code == 403
    assert not Exemption.objects.exists()


def test_an_agent_cannot_take_over_an_administrator(
    desk: Client, make_user: Callable[..., Any], clock: Any
) -> None:
    admin = make_user("admin@example.org", full_name="Ada Admin", is_staff=True, is_superuser=True)
    page = desk.get(f"/helpdesk/people/{admin.pk}/")
    assert page.status_code == 200
    assert "Only an administrator can change the sign-in of staff" in page.content.decode()
    assert f'action="/helpdesk/people/{admin.pk}/pass/"' not in page.content.decode()
    response = desk.post(
        f"/helpdesk/people/{admin.pk}/pass/",
        {"pass-ticket": "T-1", "pass-lifetime": "3600", "pass-use": "one_time"},
    )
    assert response.status_code == 403
    assert tap.active_pass(admin, now=clock()) is None


def test_a_superuser_may_help_staff(agent: User, make_user: Callable[..., Any], clock: Any) -> None:
    admin = make_user("admin@example.org", full_name="Ada Admin", is_staff=True, is_superuser=True)
    response = signed_in(admin).post(
        f"/helpdesk/people/{agent.pk}/pass/",
        {"pass-ticket": "T-1", "pass-lifetime": "3600", "pass-use": "one_time"},
    )
    assert response.status_code == 302
    assert tap.active_pass(agent, now=clock()) is not None
