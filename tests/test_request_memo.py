"""A request reads a person's methods once (vahva.web.memo), and reads them again after any
write to them; a person's permissions are one statement."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from vahva.methods import service
from vahva.web.memo import request_memo

pytestmark = pytest.mark.django_db(transaction=True)


def _method_reads(captured: CaptureQueriesContext) -> int:
    return sum(
        1
        for query in captured.captured_queries
        if query["sql"].startswith('SELECT "methods_registeredmethod"."id"')
    )


def test_a_request_reads_the_methods_once_and_again_after_a_write(
    alice: Any, alice_totp: Any, clock: Any
) -> None:
    method, _secret = alice_totp
    with request_memo(), CaptureQueriesContext(connection) as captured:
        first = service.registered_for(alice)
        again = service.registered_for(alice)
        assert [m.pk for m in again] == [m.pk for m in first] == [method.pk]
        assert _method_reads(captured) == 1
        # A caller changing its list does not change the next caller's.
        again.clear()
        assert [m.pk for m in service.registered_for(alice)] == [method.pk]
        # A second method, registered in this request: the next read sees it.
        added = service.save_new(alice, "totp", now=clock(), secret="JBSWY3DPEHPK3PXP")
        assert {m.pk for m in service.registered_for(alice)} == {method.pk, added.pk}
        # Removed (a queryset DELETE, no model signal): gone from the next read as well.
        service.remove(alice, added.pk)
        assert [m.pk for m in service.registered_for(alice)] == [method.pk]


def test_nothing_is_kept_outside_a_request_or_inside_a_transaction(
    alice: Any, alice_totp: Any, clock: Any
) -> None:
    with CaptureQueriesContext(connection) as captured:
        service.registered_for(alice)
        service.registered_for(alice)
    assert _method_reads(captured) == 2
    with request_memo(), CaptureQueriesContext(connection) as captured:
        try:
            with transaction.atomic():
                added = service.save_new(alice, "totp", now=clock(), secret="JBSWY3DPEHPK3PXP")
                assert added.pk in {m.pk for m in service.registered_for(alice)}
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        # The method read inside the rolled-back transaction was not kept.
        assert added.pk not in {m.pk for m in service.registered_for(alice)}


def test_permissions_from_the_person_and_their_groups_in_one_statement(
    alice: Any, make_user: Any
) -> None:
    from django.contrib.auth.models import Group, Permission

    from vahva.accounts.models import User

    access = Permission.objects.get(codename="access", content_type__app_label="helpdesk")
    desk = Group.objects.create(name="Helpdesk")
    desk.permissions.add(access)
    bob = make_user(email="bob@example.org")
    carol = make_user(email="carol@example.org")
    bob.groups.add(desk)
    carol.user_permissions.add(access)
    for person, expected in ((alice, False), (bob, True), (carol, True)):
        fresh = User.objects.get(pk=person.pk)
        with CaptureQueriesContext(connection) as captured:
            assert fresh.has_perm("helpdesk.access") is expected
            assert fresh.has_perm("helpdesk.access") is expected  # kept on the object
        assert len(captured.captured_queries) == 1
        assert fresh.get_all_permissions() == ({"helpdesk.access"} if expected else set())
    # Disabled: no permission, whatever the group gives.
    bob.is_active = False
    bob.save()
    assert User.objects.get(pk=bob.pk).has_perm("helpdesk.access") is False
