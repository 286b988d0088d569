"""Bad requests from services get the OAuth error they deserve: never a 500, never a redirect
to an address the service did not register."""

from __future__ import annotations

import string
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import code_for, sign_in_password, text
from vahva.audit.models import AuditEvent

from .helpers import authorize_url, code_from, exchange, query_of
from .test_flow import sign_in_with_code

pytestmark = pytest.mark.django_db


def test_unknown_client_gets_an_error_page_not_a_redirect(client: Client) -> None:
    response = client.get(authorize_url("no-such-client"))
    assert response.status_code == 400
    assert "This sign-in link does not work" in text(response)
    assert "invalid_client_id" in text(response) or "invalid_request" in text(response)


@pytest.mark.parametrize(
    "redirect",
    [
        "http://localhost:8001/callback/",  # trailing slash
        "http://localhost:8001/callback?x=1",
        "http://localhost:8001/CALLBACK",
        "http://evil.example/callback",
        "http://localhost:8002/callback",
        "javascript:alert(1)",
    ],
)
def test_redirect_uri_must_match_exactly(mail: Any, client: Client, redirect: str) -> None:
    response = client.get(authorize_url(mail.client_id, redirect_uri=redirect))
    # Open redirect: nothing is sent to an unregistered address, the person sees a page.
    assert response.status_code == 400
    assert "Location" not in response
    assert "This sign-in link does not work" in text(response)


def test_public_client_without_pkce_is_refused(mobile: Any, client: Client) -> None:
    response = client.get(
        authorize_url(mobile.client_id, challenge="", redirect_uri="http://127.0.0.1:5000/callback")
    )
    assert response.status_code == 302
    query = query_of(response["Location"])
    assert response["Location"].startswith("http://127.0.0.1:5000/callback")
    assert query["error"] == "invalid_request"
    assert "code challenge required" in query["error_description"].lower()


def test_plain_pkce_is_refused(mobile: Any, client: Client, alice_totp: Any, clock: Any) -> None:
    response = client.get(
        authorize_url(
            mobile.client_id,
            redirect_uri="http://127.0.0.1:5000/callback",
            code_challenge="a" * 43,
            code_challenge_method="plain",
        )
    )
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("http://127.0.0.1:5000/callback"):
            assert query_of(location)["error"] == "invalid_request"
        else:
            # Sent to sign in first: the toolkit refuses "plain" when the code is made.
            _secret = alice_totp[1]
            response = sign_in_password(client, next=query_of(location)["next"])
            response = client.post("/signin/verify/", {"code": code_for(_secret, clock)})
            response = client.get(response["Location"])
            assert query_of(response["Location"])["error"] == "invalid_request"


def test_wrong_pkce_verifier_is_refused(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any, pkce: Any
) -> None:
    _method, secret = alice_totp
    url = authorize_url(mail.client_id, challenge=pkce.challenge)
    code = code_from(sign_in_with_code(client, secret, clock, url))
    response = exchange(client, mail, code, verifier="x" * 50)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_replayed_code_is_refused_and_revokes_the_first_tokens(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    code = code_from(sign_in_with_code(client, secret, clock, authorize_url(mail.client_id)))
    first = exchange(client, mail, code)
    assert first.status_code == 200
    access = first.json()["access_token"]
    assert client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200
    replay = exchange(client, mail, code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # What the first redemption got no longer works.
    assert client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
    refresh = exchange(
        client, mail, "", grant_type="refresh_token", refresh_token=first.json()["refresh_token"]
    )
    assert refresh.status_code == 400
    assert AuditEvent.objects.filter(action="oidc.code_replayed").count() == 1


def test_expired_code_is_refused(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    from django.utils import timezone
    from oauth2_provider.models import Grant

    _method, secret = alice_totp
    code = code_from(sign_in_with_code(client, secret, clock, authorize_url(mail.client_id)))
    Grant.objects.update(expires=timezone.now() - timezone.timedelta(seconds=1))
    response = exchange(client, mail, code)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_refused(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    code = code_from(sign_in_with_code(client, secret, clock, authorize_url(mail.client_id)))
    wrong = type(mail)(mail.application, mail.client_id, "not-the-secret")
    response = exchange(client, wrong, code)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    # The right secret still works: a failed client authentication does not burn the code.
    assert exchange(client, mail, code).status_code == 200


def test_code_from_one_service_does_not_work_for_another(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    from vahva.oidc import clients

    other = clients.add(name="Other", redirect_uris=["http://localhost:8001/callback"])
    _method, secret = alice_totp
    code = code_from(sign_in_with_code(client, secret, clock, authorize_url(mail.client_id)))
    assert exchange(client, other, code).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"max_age": "soon"}, "invalid_request"),
        ({"max_age": "-5"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "sometimes"}, "invalid_request"),
        ({"response_type": "token"}, "unauthorized_client"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"id_token_hint": "not.a.jwt"}, "login_required"),
    ],
)
def test_malformed_parameters_go_back_to_the_service(
    mail: Any, client: Client, params: dict[str, str], error: str
) -> None:
    response = client.get(authorize_url(mail.client_id, **params))
    assert response.status_code == 302
    assert response["Location"].startswith("http://localhost:8001/callback")
    assert query_of(response["Location"])["error"] == error


def test_malformed_id_token_hint_at_logout_is_a_clear_400(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    sign_in_with_code(client, secret, clock, authorize_url(mail.client_id))
    for hint in ("garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x" * 5000):
        response = client.get("/o/logout/", {"id_token_hint": hint})
        assert response.status_code == 400, hint
        assert "This sign-out link does not work" in text(response)
    # Still signed in: a bad link does not sign anyone out.
    assert client.get("/security-info/").status_code == 200


def test_logout_to_unregistered_address_is_refused(mail: Any, client: Client) -> None:
    response = client.get(
        "/o/logout/",
        {"client_id": mail.client_id, "post_logout_redirect_uri": "http://evil.example/"},
    )
    assert response.status_code == 400
    assert "Location" not in response


_query_chars = st.text(alphabet=string.printable + "äö€\x00", max_size=60)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "response_type",
                "client_id",
                "redirect_uri",
                "scope",
                "state",
                "nonce",
                "prompt",
                "max_age",
                "acr_values",
                "code_challenge",
                "code_challenge_method",
                "id_token_hint",
                "claims",
                "ui_locales",
            ]
        ),
        _query_chars,
    )
)
def test_authorize_never_fails_with_500(mail: Any, params: dict[str, str]) -> None:
    client = Client()
    base = {"client_id": mail.client_id, "redirect_uri": "http://localhost:8001/callback"}
    response = client.get("/o/authorize/", {**base, **params})
    assert response.status_code < 500


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.dictionaries(
        st.sampled_from(
            ["grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "client_id"]
        ),
        _query_chars,
    )
)
def test_token_endpoint_never_fails_with_500(mail: Any, data: dict[str, str]) -> None:
    response = Client().post("/o/token/", data)
    assert response.status_code < 500
    assert "error" in response.json()


# --- URL-shaped junk, signed in, GET and POST (issue #14 item 10) -----------------------------

_ports = st.integers(min_value=-1, max_value=10**7).map(str)
_uri_like = st.one_of(
    st.builds(lambda port: f"http://localhost:{port}/callback", _ports),
    st.builds(lambda port: f"http://127.0.0.1:{port}/callback", _ports),
    st.sampled_from(
        [
            "http://[::1/callback",
            "http://[zz::1]:80/callback",
            "http://localhost:80011/cb",
            "http://localhost:8001/callback#frag",
            "//localhost:8001/callback",
            "org.example.mail:/callback",
            "javascript:alert(1)",
            "http://user:pw@localhost:8001/callback",
            "http://localhost:8001/callback?\x00",
        ]
    ),
)


def test_a_redirect_uri_with_a_port_out_of_range_is_a_clear_400(
    alice_totp: Any, mail: Any, client: Client, clock: Any
) -> None:
    from tests.helpers import force_mfa_login

    for signed_in in (False, True):
        if signed_in:
            force_mfa_login(client, alice_totp[0].user)
        response = client.get(
            authorize_url(mail.client_id, redirect_uri="http://localhost:80011/cb")
        )
        assert response.status_code == 400
        assert "This sign-in link does not work" in text(response)
        assert "Location" not in response
    logout = client.get(
        "/o/logout/",
        {"client_id": mail.client_id, "post_logout_redirect_uri": "http://localhost:80011/"},
    )
    assert logout.status_code == 400


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "response_type",
                "redirect_uri",
                "scope",
                "state",
                "nonce",
                "prompt",
                "max_age",
                "acr_values",
                "code_challenge",
                "code_challenge_method",
                "id_token_hint",
                "claims",
                "ui_locales",
                "login_hint",
                "request",
                "request_uri",
                "resource",
                "approval_prompt",
            ]
        ),
        st.one_of(_query_chars, _uri_like),
    ),
    post=st.booleans(),
)
def test_authorize_signed_in_never_fails_with_500(
    alice_totp: Any, mail: Any, params: dict[str, str], post: bool
) -> None:
    from tests.helpers import force_mfa_login

    client = Client()
    force_mfa_login(client, alice_totp[0].user)
    base = {"client_id": mail.client_id, "redirect_uri": "http://localhost:8001/callback"}
    query = {**base, **params}
    if post:
        response = client.post("/o/authorize/", {**query, "allow": "Authorize"})
        # Never a code from a POST that answers no consent page.
        assert "code=" not in response.get("Location", "")
    else:
        response = client.get("/o/authorize/", query)
    assert response.status_code < 500
