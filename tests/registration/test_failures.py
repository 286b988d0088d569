"""The failure tickets of post/redirect/get: what they keep, where they are shown, and never a
secret."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from tests.helpers import text
from tests.registration.prg import failed_post
from vahva.registration import failures
from vahva.registration.forms import ChangePasswordForm, EnrolCodeForm


def _request(
    method: str, path: str, data: dict[str, str] | None = None, session: Any = None
) -> Any:
    factory = RequestFactory()
    request = factory.post(path, data or {}) if method == "POST" else factory.get(path, data)
    request.session = session if session is not None else SessionStore()
    return request


def test_a_failure_is_shown_by_the_get_of_its_own_page_only() -> None:
    posted = _request("POST", "/security-info/add/sms/?replace=7", {"number": "044", "code": "1"})
    form = EnrolCodeForm({"code": "", "name": "Work"})
    assert not form.is_valid()
    response = failures.redirect_failed(
        posted, status=400, error="Not right", form=form, keep=("number",)
    )
    assert response.status_code == 303
    location = response["Location"]
    assert location.startswith("/security-info/add/sms/?replace=7&failed=")
    ticket = location.rsplit("=", 1)[1]
    session = posted.session

    shown = failures.recalled(
        _request("GET", location.split("?")[0], {"replace": "7", "failed": ticket}, session)
    )
    assert shown is not None
    assert (shown.status, shown.error) == (400, "Not right")
    assert shown.values == {"number": "044"}  # what was asked for, and never the code
    assert shown.field_errors == {"code": ["Enter the code."]}
    # Another page, an unknown ticket, or none: nothing to show.
    assert (
        failures.recalled(_request("GET", "/security-info/", {"failed": ticket}, session)) is None
    )
    assert (
        failures.recalled(_request("GET", "/security-info/add/sms/", {"failed": "x"}, session))
        is None
    )
    assert failures.recalled(_request("GET", "/security-info/add/sms/", {}, session)) is None
    # Another session (a link shared or guessed): nothing either.
    other = _request("GET", "/security-info/add/sms/", {"failed": ticket})
    assert failures.recalled(other) is None


@pytest.mark.parametrize("secret", sorted(failures.SECRET_FIELDS))
def test_a_secret_is_never_kept(secret: str) -> None:
    posted = _request("POST", "/security-info/password/", {secret: "hunter2"})
    with pytest.raises(ValueError, match="never kept"):
        failures.redirect_failed(posted, status=400, keep=(secret, "name"))
    assert failures.SESSION_KEY not in posted.session


def test_the_form_comes_back_with_its_messages_and_without_its_passwords() -> None:
    posted = _request(
        "POST", "/security-info/password/", {"current": "a", "new": "b", "again": "c"}
    )
    form = ChangePasswordForm(posted.POST)
    assert not form.is_valid()
    response = failures.redirect_failed(posted, status=400, form=form)
    shown = failures.recalled(
        _request(
            "GET",
            response["Location"].split("?")[0],
            {"failed": response["Location"].rsplit("=", 1)[1]},
            posted.session,
        )
    )
    again = failures.form_again(ChangePasswordForm, shown)
    assert again.errors["again"] == ["The two passwords are not the same."]
    assert "hunter" not in str(posted.session.items())
    assert 'value="a"' not in str(again["current"])


def test_only_the_newest_few_are_kept() -> None:
    session = SessionStore()
    for n in range(failures.KEEP + 3):
        failures.redirect_failed(_request("POST", f"/p{n}/", session=session), status=400)
    assert len(session[failures.SESSION_KEY]) == failures.KEEP


@pytest.mark.django_db
def test_a_wrong_code_on_the_wizard_keeps_no_code(alice: Any, client: Any, clock: Any) -> None:
    from tests.helpers import sign_in_password

    sign_in_password(client)
    client.get("/security-info/setup/totp/")
    shown = failed_post(client, "/security-info/setup/totp/", {"code": "31337", "name": "Mine"})
    assert "Mine" in text(shown)
    assert "31337" not in str(dict(client.session))
