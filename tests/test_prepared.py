"""The door's two reads written as SQL once per process (vahva.prepared) answer what the ORM
answered: the person's exemption in force, and their own and their groups' permissions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission

from vahva.accounts.models import own_and_group_permissions
from vahva.policy import exemptions
from vahva.policy.models import Exemption

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def _orm_active(user: Any, now: dt.datetime) -> Exemption | None:
    return (
        Exemption.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=now)
        .order_by("-expires_at")
        .first()
    )


def test_the_exemption_in_force_is_the_longest_unrevoked_one(
    alice: Any, make_user: Any, clock: Any
) -> None:
    now = clock()
    assert exemptions.active_for(alice, now=now) is None
    short = exemptions.grant(alice, ticket="HD-1", reason="r", expires_at=now + DAY, now=now)
    long = exemptions.grant(alice, ticket="HD-2", reason="r", expires_at=now + 3 * DAY, now=now)
    revoked = exemptions.grant(alice, ticket="HD-3", reason="r", expires_at=now + 9 * DAY, now=now)
    exemptions.revoke(alice, revoked.pk, ticket="HD-4", now=now)
    bob = make_user("bob@example.org")
    exemptions.grant(bob, ticket="HD-5", reason="r", expires_at=now + 30 * DAY, now=now)

    found = exemptions.active_for(alice, now=now)
    assert found == long == _orm_active(alice, now)
    assert (found.ticket, found.expires_at) == ("HD-2", long.expires_at)
    # At the very end of the long one, and a microsecond before the short one ends.
    assert exemptions.active_for(alice, now=long.expires_at) is None
    before_end = short.expires_at - dt.timedelta(microseconds=1)
    assert exemptions.active_for(alice, now=before_end) == long == _orm_active(alice, before_end)
    assert exemptions.active_for(alice.pk, now=now) == long


def test_own_and_group_permissions_are_model_backends(alice: Any, make_user: Any) -> None:
    helpdesk = Permission.objects.get(content_type__app_label="helpdesk", codename="access")
    view_user = Permission.objects.get(codename="view_user")
    change_user = Permission.objects.get(codename="change_user")
    agents = Group.objects.create(name="Agents")
    agents.permissions.add(helpdesk, view_user)
    bob, carol = make_user("bob@example.org"), make_user("carol@example.org")
    bob.groups.add(agents)
    carol.groups.add(agents)
    carol.user_permissions.add(change_user, view_user)

    expected = {
        alice: set(),
        bob: {"helpdesk.access", "accounts.view_user"},
        carol: {"helpdesk.access", "accounts.view_user", "accounts.change_user"},
    }
    for person, permissions in expected.items():
        assert own_and_group_permissions(person) == permissions
        fresh = type(person).objects.get(pk=person.pk)  # nothing cached on it
        assert ModelBackend().get_all_permissions(fresh) == permissions
