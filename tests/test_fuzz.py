"""Random input to every form: a clear 4xx or success, never a 500, never a half-saved method."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import sign_in_password
from vahva.methods.models import RegisteredMethod

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Text including control characters, surrogates-free unicode, NULs and very long strings.
junk = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
    st.sampled_from(
        [
            "\x00",
            "' OR 1=1 --",
            "<script>alert(1)</script>",
            "%00",
            "9" * 5000,
            "١٢٣٤٥٦",
            "12345\u200b6",
        ]
    ),
)


@FUZZ
@given(email=junk, password=junk, next_url=junk)
def test_password_form(
    client: Client, alice: Any, email: str, password: str, next_url: str
) -> None:
    response = client.post("/signin/", {"email": email, "password": password, "next": next_url})
    assert response.status_code in {302, 400, 429}


@FUZZ
@given(code=junk, method=junk)
def test_code_form(alice_totp: Any, clock: Any, code: str, method: str) -> None:
    client = Client()
    sign_in_password(client)
    response = client.post(f"/signin/verify/?method={method[:50]}", {"code": code})
    assert response.status_code in {302, 400, 429}


@FUZZ
@given(code=junk, name=junk, kind=junk)
def test_enrolment_forms(alice: Any, clock: Any, code: str, name: str, kind: str) -> None:
    client = Client()
    sign_in_password(client)
    client.get("/security-info/setup/totp/")
    # A refusal is a 303 to the form's page (post/redirect/get), which shows it with a 4xx;
    # input no form may hold (a NUL character) is refused at once with a 400.
    response = client.post("/security-info/setup/totp/", {"code": code, "name": name})
    assert response.status_code in {302, 303, 400}
    if response.status_code == 303:
        assert client.get(response["Location"]).status_code in {400, 410}
    chosen = client.post("/security-info/add/", {"kind": kind})
    assert chosen.status_code in {302, 303, 400}
    default = client.post("/security-info/default/", {"method": kind})
    assert default.status_code in {302, 303, 400}
    if response.status_code != 302:
        assert not RegisteredMethod.objects.filter(user=alice).exists()
