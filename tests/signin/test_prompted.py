"""A sign-in attempt is marked when a method that leaves a request waiting (the app's push)
is begun for it; only then does its finish look for requests to withdraw (issue 20: two
statements at every finish). The withdrawal itself is unchanged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.authenticator.conftest import make_phone  # noqa: F401 (the fixture)
from tests.authenticator.device import TestDevice
from tests.helpers import code_for, sign_in_password
from vahva.authenticator.models import PushChallenge
from vahva.methods import service as methods
from vahva.methods.totp import generate_secret
from vahva.signin.models import SignInAttempt

pytestmark = pytest.mark.django_db


def test_a_push_begun_is_withdrawn_when_a_code_finishes_the_attempt(
    alice: Any,
    clock: Any,
    make_phone: Callable[..., TestDevice],  # noqa: F811
) -> None:
    phone = make_phone(alice)
    secret = generate_secret()
    totp = methods.save_new(alice, "totp", now=clock() - dt.timedelta(days=1), secret=secret)
    clock.advance(3600)
    browser = Client()
    assert sign_in_password(browser)["Location"] == "/signin/verify/"
    attempt = SignInAttempt.objects.get()
    assert attempt.prompted is False
    # The verify page begins her default, the app: a request waits on the phone.
    assert browser.get("/signin/verify/").status_code == 200
    assert len(phone.challenges()) == 1
    attempt.refresh_from_db()
    assert attempt.prompted is True
    done = browser.post(f"/signin/verify/?method={totp.pk}", {"code": code_for(secret, clock)})
    assert done["Location"] == "/security-info/"
    # Signed in with the code: the request nobody is left to approve is withdrawn.
    assert phone.challenges() == []
    withdrawn = PushChallenge.objects.get(attempt=attempt.pk)
    assert withdrawn.state == PushChallenge.State.EXPIRED


def test_an_attempt_finished_with_a_code_alone_is_not_marked(
    alice_totp: tuple[Any, str], clock: Any
) -> None:
    _method, secret = alice_totp
    browser = Client()
    assert sign_in_password(browser)["Location"] == "/signin/verify/"
    assert browser.get("/signin/verify/").status_code == 200
    assert SignInAttempt.objects.get().prompted is False
    done = browser.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert done["Location"] == "/security-info/"
    attempt = SignInAttempt.objects.get()
    assert (attempt.state, attempt.prompted) == ("done", False)
