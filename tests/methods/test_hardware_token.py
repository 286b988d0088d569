"""Hardware OATH tokens: the codes (RFC 4226 vectors, oathtool), activation, sign-in,
single use, the look-ahead window, resynchronisation, and the validation API."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from tests.helpers import sign_in_password, text
from tests.methods.token_helpers import (
    RFC_SECRET,
    hotp_code,
    oathtool,
    stock_token,
    totp_code,
)
from vahva.clock import FakeClock
from vahva.errors import InvalidCode, MalformedInput, RateLimited, ReplayedCode
from vahva.methods import registry
from vahva.methods.hardware_token import oath, tokens
from vahva.methods.hardware_token.models import Algorithm, HardwareToken, State
from vahva.methods.models import RegisteredMethod

pytestmark = pytest.mark.django_db

#: RFC 4226 Appendix D: HOTP values for counters 0..9 of the secret "12345678901234567890".
RFC4226 = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
           "399871", "520489"]  # fmt: skip


def test_hotp_matches_rfc4226_appendix_d() -> None:
    assert [oath.code(RFC_SECRET, n) for n in range(10)] == RFC4226


@pytest.mark.parametrize("digits", [6, 8])
def test_hotp_and_totp_agree_with_oathtool(digits: int) -> None:
    key = RFC_SECRET.hex()
    for counter in (0, 1, 17, 1000):
        expected = oathtool("--hotp", f"--digits={digits}", f"--counter={counter}", key)
        assert oath.code(RFC_SECRET, counter, digits=digits) == expected
    moment = dt.datetime(2026, 3, 2, 8, 0, 0, tzinfo=dt.UTC)
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    expected = oathtool("--totp", f"--digits={digits}", f"--now={stamp}", key)
    assert oath.code(RFC_SECRET, int(moment.timestamp()) // 30, digits=digits) == expected


def test_totp_sha256_agrees_with_oathtool() -> None:
    secret = b"12345678901234567890123456789012"
    moment = dt.datetime(2026, 3, 2, 8, 0, 0, tzinfo=dt.UTC)
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    expected = oathtool("--totp=sha256", "--digits=8", f"--now={stamp}", secret.hex())
    step = int(moment.timestamp()) // 30
    assert oath.code(secret, step, digits=8, digest="sha256") == expected


# --- activation -------------------------------------------------------------------------------


def _activate(client: Client, serial: str, code: str, *, name: str = "") -> Any:
    client.get("/security-info/add/hardware_token/")
    client.post("/security-info/add/hardware_token/", {"action": "find", "serial": serial})
    posted = client.post("/security-info/add/hardware_token/", {"code": code, "name": name})
    # A refusal is shown by the page's GET (post/redirect/get).
    return client.get(posted["Location"]) if posted.status_code == 303 else posted


@pytest.fixture
def signed_in(client: Client, alice: Any, clock: FakeClock) -> Client:
    """Alice, signed in with a password, before she has any method (the wizard's case)."""
    from tests.helpers import force_mfa_login

    force_mfa_login(client, alice)
    RegisteredMethod.objects.filter(user=alice).delete()
    return client


def test_activate_a_token_by_serial_and_code_then_sign_in_with_it(
    signed_in: Client, alice: Any, clock: FakeClock
) -> None:
    token = stock_token("TK0001", digits=8)
    page = signed_in.get("/security-info/add/")
    assert "Hardware token" in text(page)

    assert "Serial number" in text(signed_in.get("/security-info/add/hardware_token/"))
    found = signed_in.post(
        "/security-info/add/hardware_token/", {"action": "find", "serial": " TK0001 "}
    )
    assert found.status_code == 302
    page = signed_in.get(found["Location"])
    assert "TK0001" in text(page)
    assert "8-digit code" in text(page)

    done = signed_in.post("/security-info/add/hardware_token/", {"code": hotp_code(token, 0)})
    assert done.status_code == 302
    info = text(signed_in.get("/security-info/"))
    assert "Hardware token (TK0001)" in info
    token.refresh_from_db()
    assert token.state == State.ACTIVE
    assert token.counter == 1
    assert token.registered is not None
    assert token.registered.user == alice

    # Signing in: the next code works once; the same code again is refused.
    browser = Client()
    assert sign_in_password(browser)["Location"] == "/signin/verify/"
    verify = browser.get("/signin/verify/")
    assert "Press the button on your token" in text(verify)
    assert browser.post("/signin/verify/", {"code": hotp_code(token, 1)}).status_code == 302
    again = Client()
    sign_in_password(again)
    refused = again.post("/signin/verify/", {"code": hotp_code(token, 1)})
    assert refused.status_code == 400
    assert "already been used" in text(refused)


def test_unknown_serial_and_wrong_code_save_nothing(signed_in: Client, clock: FakeClock) -> None:
    token = stock_token("TK0002")
    signed_in.get("/security-info/add/hardware_token/")
    unknown = signed_in.post(
        "/security-info/add/hardware_token/", {"action": "find", "serial": "NOPE"}, follow=True
    )
    assert unknown.status_code == 400
    assert "No token with that serial number" in text(unknown)
    wrong = _activate(signed_in, "TK0002", "000000" if hotp_code(token, 0) != "000000" else "1")
    assert wrong.status_code == 400
    assert "not right" in text(wrong)
    token.refresh_from_db()
    assert token.state == State.AVAILABLE
    assert token.registered is None
    assert token.activation_tries == 1
    assert not RegisteredMethod.objects.filter(kind="hardware_token").exists()


def test_a_token_reserved_for_someone_else_cannot_be_activated(
    signed_in: Client, make_user: Any, clock: FakeClock
) -> None:
    bob = make_user("bob@example.org")
    token = stock_token("TK0003", reserved_for=bob)
    signed_in.get("/security-info/add/hardware_token/")
    page = signed_in.post(
        "/security-info/add/hardware_token/", {"action": "find", "serial": "TK0003"}, follow=True
    )
    # The same answer as an unknown serial: nothing tells Alice it is Bob's.
    assert page.status_code == 400
    assert "No token with that serial number" in text(page)
    token.refresh_from_db()
    assert token.state == State.AVAILABLE


def test_activation_guesses_are_capped_per_token(alice: Any, clock: FakeClock) -> None:
    token = stock_token("TK0004")
    right = hotp_code(token, 0)
    wrong = next(c for c in ("111111", "222222") if c != right)
    for _ in range(tokens.MAX_ACTIVATION_TRIES):
        with pytest.raises(InvalidCode):
            tokens.activate(alice, "TK0004", wrong, now=clock())
    # Then even the right code waits for the helpdesk: the guesses are spent.
    with pytest.raises(RateLimited):
        tokens.activate(alice, "TK0004", right, now=clock())
    assert not RegisteredMethod.objects.filter(user=alice).exists()


def test_the_look_ahead_window_and_what_lies_beyond(alice: Any, clock: FakeClock) -> None:
    token = stock_token("TK0005")
    registered = tokens.activate(alice, "TK0005", hotp_code(token, 0), now=clock())
    method = registry.get("hardware_token")
    # Pressed a few times away from us: within the look-ahead, accepted, and the counter
    # follows; the skipped codes are never accepted afterwards.
    method.verify(registered, hotp_code(token, 1 + oath.LOOK_AHEAD), now=clock())
    with pytest.raises(ReplayedCode):
        method.verify(registered, hotp_code(token, 5), now=clock())
    token.refresh_from_db()
    far = token.counter + oath.LOOK_AHEAD + 5
    with pytest.raises(InvalidCode):
        method.verify(registered, hotp_code(token, far), now=clock())
    # The helpdesk's resync with two consecutive codes brings it back.
    tokens.resynchronise(
        alice, "TK0005", hotp_code(token, far), hotp_code(token, far + 1), now=clock()
    )
    method.verify(registered, hotp_code(token, far + 2), now=clock())
    with pytest.raises(ReplayedCode):
        method.verify(registered, hotp_code(token, far + 2), now=clock())


def test_totp_token_window_replay_and_drift(alice: Any, clock: FakeClock) -> None:
    token = stock_token("TK0006", algorithm=Algorithm.TOTP, digits=8)
    registered = tokens.activate(alice, "TK0006", totp_code(token, clock()), now=clock())
    method = registry.get("hardware_token")
    with pytest.raises(ReplayedCode):
        method.verify(registered, totp_code(token, clock()), now=clock())
    clock.advance(30)
    method.verify(registered, totp_code(token, clock(), offset=1), now=clock())
    # A token whose clock runs ten minutes fast: refused, until resynchronised.
    clock.advance(300)
    fast = 20
    with pytest.raises(InvalidCode):
        method.verify(registered, totp_code(token, clock(), offset=fast), now=clock())
    clock.advance(30)
    tokens.resynchronise(
        alice,
        "TK0006",
        totp_code(token, clock(), offset=fast - 1),
        totp_code(token, clock(), offset=fast),
        now=clock(),
    )
    clock.advance(30)
    method.verify(registered, totp_code(token, clock(), offset=fast), now=clock())


def test_garbage_serials_and_codes_are_clear_errors(alice: Any, clock: FakeClock) -> None:
    stock_token("TK0007")
    for serial in ("", "x" * 65, "TK\x000007"):
        with pytest.raises(MalformedInput):
            tokens.activatable(alice, serial)
    # Full-width digits are digits to str.isdigit, not to a code.
    for code in ("", "12345", "1234567", "abcdef", "１２３４５６"):  # noqa: RUF001
        with pytest.raises(MalformedInput):
            tokens.activate(alice, "TK0007", code, now=clock())


def test_a_removed_token_is_retired_and_refused(alice: Any, clock: FakeClock) -> None:
    from vahva.methods import service

    token = stock_token("TK0008")
    registered = tokens.activate(alice, "TK0008", hotp_code(token, 0), now=clock())
    service.remove(alice, registered.pk)
    token.refresh_from_db()
    # Lost, perhaps: a finder with an account cannot activate it.
    assert token.state == State.RETIRED
    assert token.registered is None
    with pytest.raises(MalformedInput):
        tokens.activatable(alice, "TK0008")


# --- the validation API -----------------------------------------------------------------------


def test_the_validation_api_accepts_a_token_code_once(
    client: Client, alice: Any, clock: FakeClock
) -> None:
    from vahva.validate import clients

    key = clients.add("VPN gateway").key
    token = stock_token("TK0009", digits=8)
    tokens.activate(alice, "TK0009", hotp_code(token, 0), now=clock())

    def check(code: str) -> Any:
        return client.post(
            "/api/validate/v1/check",
            data=json.dumps({"user": "alice@example.org", "code": code}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )

    accepted = check(hotp_code(token, 1))
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["method"] == "hardware_token"
    assert check(hotp_code(token, 1)).status_code == 400


def test_secrets_are_encrypted_at_rest(alice: Any) -> None:
    from django.db import connection

    token = stock_token("TK0010")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM hardware_token_hardwaretoken WHERE id = %s", [token.pk])
        (stored,) = cursor.fetchone()
    assert base64.b32encode(RFC_SECRET).decode().rstrip("=") not in stored
    assert HardwareToken.objects.get(pk=token.pk).secret == token.secret
