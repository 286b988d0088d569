"""Security keys and passkeys without a browser: a software authenticator answers the options
vahva makes, and lies where an attacker would (another site, a replay, a cloned key)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st
from webauthn.helpers import base64url_to_bytes

from tests.methods.contract import MethodContract
from tests.methods.soft_authenticator import SoftAuthenticator, b64
from vahva.clock import FakeClock
from vahva.errors import MalformedInput, VahvaError
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import AttemptRef
from vahva.methods.challenges import Ceremony, Challenge
from vahva.methods.models import PendingEnrolment, RegisteredMethod
from vahva.methods.webauthn import method as webauthn
from vahva.methods.webauthn.checks import (
    ChallengeExpired,
    ClonedAuthenticator,
    CredentialRefused,
    ReplayedAssertion,
    UnexpectedChallenge,
    UnknownCredential,
    UserNotVerified,
    WrongOrigin,
    WrongRelyingParty,
    relying_party,
)
from vahva.methods.webauthn.models import WebAuthnChallenge, WebAuthnCredential


def ceremony(asked: Challenge) -> dict[str, Any]:
    """The options of the security key's prompt that ``begin`` asks for."""
    assert isinstance(asked, Ceremony)
    return asked.options


pytestmark = pytest.mark.django_db

METHOD = registry.get("webauthn")


class TestWebAuthnContract(MethodContract):
    kind = "webauthn"

    @property
    def key(self) -> SoftAuthenticator:
        if not hasattr(self, "_key"):
            self._key = SoftAuthenticator()
        return self._key

    def right_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        if isinstance(secret_holder, PendingEnrolment):
            return self.key.create(METHOD.enrolment_context(secret_holder)["options"])
        return self.key.get(ceremony(METHOD.begin(secret_holder, now=now)))

    def wrong_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        if isinstance(secret_holder, PendingEnrolment):
            options = METHOD.enrolment_context(secret_holder)["options"]
            return SoftAuthenticator().create(options, origin="https://vahva.example.net")
        # Signed by a key that is not the registered one.
        other = ec.generate_private_key(ec.SECP256R1())
        return self.key.get(ceremony(METHOD.begin(secret_holder, now=now)), key=other)


def enrol(user: Any, clock: FakeClock, key: SoftAuthenticator, name: str = "") -> RegisteredMethod:
    pending = METHOD.start_enrolment(user, now=clock())
    options = METHOD.enrolment_context(pending)["options"]
    return METHOD.finish_enrolment(pending, key.create(options), now=clock(), name=name)


def sign_in(
    registered: RegisteredMethod, device: SoftAuthenticator, clock: FakeClock, **lie: Any
) -> str:
    """Begin a challenge for attempt "a1" and answer it with ``device``."""
    options = ceremony(METHOD.begin(registered, now=clock(), attempt=AttemptRef(id="a1")))
    return device.get(options, **lie)


def verify(
    registered: RegisteredMethod, answer: str, clock: FakeClock, attempt: str = "a1"
) -> None:
    METHOD.verify_for(registered, answer, now=clock(), attempt=AttemptRef(id=attempt))


# --- the relying party ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("public_url", "rp_id", "origin"),
    [
        ("http://localhost:8000", "localhost", "http://localhost:8000"),
        ("https://MFA.example.org/", "mfa.example.org", "https://mfa.example.org"),
        ("https://mfa.example.org:443/base", "mfa.example.org", "https://mfa.example.org"),
        ("https://mfa.example.org:8443", "mfa.example.org", "https://mfa.example.org:8443"),
    ],
)
def test_rp_id_and_origin_come_from_the_public_url(
    settings: Any, public_url: str, rp_id: str, origin: str
) -> None:
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": public_url}
    rp = relying_party()
    assert (rp.id, rp.origin, rp.name) == (rp_id, origin, "Demo University")


# --- enrolment --------------------------------------------------------------------------------


def test_enrolment_keeps_the_public_credential_and_its_flags(alice: Any, clock: FakeClock) -> None:
    key = SoftAuthenticator(backup_eligible=True, transports=["internal", "hybrid"], sign_count=3)
    saved = enrol(alice, clock, key, name="Laptop fingerprint")
    assert (saved.kind, saved.name, saved.counter) == ("webauthn", "Laptop fingerprint", 3)
    assert METHOD.describe(saved) == "Security key or passkey (Laptop fingerprint)"
    stored = WebAuthnCredential.objects.get(registered=saved)
    assert base64url_to_bytes(stored.credential_id) == key.credential_id
    assert len(stored.lookup) == 64
    assert stored.transports == ["internal", "hybrid"]
    assert stored.aaguid == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert (stored.backup_eligible, stored.backed_up) == (True, True)
    assert (stored.discoverable, stored.user_verified) == (True, True)
    assert stored.public_key
    assert saved.secret == ""  # nothing secret is kept: the private key stays in the key


def test_creation_options_ask_what_the_issue_decided(
    alice: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = SoftAuthenticator()
    enrol(alice, clock, first)
    pending = METHOD.start_enrolment(alice, now=clock())
    options = METHOD.enrolment_context(pending)["options"]
    assert options["rp"] == {"id": "localhost", "name": "Demo University"}
    assert options["user"]["name"] == "alice@example.org"
    # The user handle is opaque and stable: no e-mail address or database id in it.
    handle = base64url_to_bytes(options["user"]["id"])
    assert len(handle) == 32
    assert b"alice" not in handle
    assert handle == webauthn.user_handle(alice)
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["authenticatorSelection"]["residentKey"] == "discouraged"
    assert options["extensions"] == {"credProps": True}
    # Already registered keys are excluded, with their transports.
    assert options["excludeCredentials"] == [
        {"type": "public-key", "id": b64(first.credential_id), "transports": ["usb"]}
    ]
    # Where passwordless sign-in is on, a passkey (discoverable credential) is preferred.
    monkeypatch.setattr(webauthn.settings, "PASSKEY_SIGNIN", True)
    options = METHOD.enrolment_context(pending)["options"]
    assert options["authenticatorSelection"]["residentKey"] == "preferred"


def test_the_same_key_twice_is_refused_and_nothing_is_saved(alice: Any, clock: FakeClock) -> None:
    key = SoftAuthenticator()
    enrol(alice, clock, key)
    with pytest.raises(webauthn.AlreadyRegistered):
        enrol(alice, clock, key)
    assert RegisteredMethod.objects.filter(user=alice).count() == 1


def test_someone_elses_key_cannot_be_registered_again(
    alice: Any, make_user: Any, clock: FakeClock
) -> None:
    key = SoftAuthenticator()
    enrol(alice, clock, key)
    bob = make_user("bob@example.org")
    with pytest.raises(webauthn.AlreadyRegistered):
        enrol(bob, clock, key)
    assert not RegisteredMethod.objects.filter(user=bob).exists()


@pytest.mark.parametrize(
    ("lie", "error"),
    [
        ({"origin": "https://vahva-login.example.net"}, WrongOrigin),
        ({"origin": "http://localhost:8001"}, WrongOrigin),
        ({"rp_id": "example.net"}, WrongRelyingParty),
        ({"challenge": b64(b"x" * 32)}, UnexpectedChallenge),
    ],
)
def test_registration_for_another_site_or_challenge_is_refused(
    alice: Any, clock: FakeClock, lie: dict[str, str], error: type[Exception]
) -> None:
    pending = METHOD.start_enrolment(alice, now=clock())
    answer = SoftAuthenticator().create(METHOD.enrolment_context(pending)["options"], **lie)
    with pytest.raises(error) as caught:
        METHOD.finish_enrolment(pending, answer, now=clock())
    assert isinstance(caught.value, CredentialRefused)
    assert caught.value.status == 400
    assert not RegisteredMethod.objects.exists()
    assert not PendingEnrolment.objects.get(pk=pending.pk).consumed


def test_a_sign_in_answer_is_no_registration(alice: Any, clock: FakeClock) -> None:
    key = SoftAuthenticator()
    registered = enrol(alice, clock, key)
    pending = METHOD.start_enrolment(alice, now=clock())
    with pytest.raises(MalformedInput):
        METHOD.finish_enrolment(pending, sign_in(registered, key, clock), now=clock())


# --- sign-in as a second factor ---------------------------------------------------------------


def test_sign_in_moves_the_count_and_says_when_it_was_used(alice: Any, clock: FakeClock) -> None:
    key = SoftAuthenticator()
    registered = enrol(alice, clock, key)
    clock.advance(60)
    answer = sign_in(registered, key, clock)
    verify(registered, answer, clock)
    saved = RegisteredMethod.objects.get(pk=registered.pk)
    assert (saved.counter, saved.last_used_at) == (1, clock())
    assert METHOD.amr_for(answer) == ("hwk", "user")


def test_the_challenge_is_bound_to_the_attempt_and_used_once(alice: Any, clock: FakeClock) -> None:
    key = SoftAuthenticator()
    registered = enrol(alice, clock, key)
    answer = sign_in(registered, key, clock)
    # Made for attempt a1: another attempt (another browser's sign-in) cannot use it...
    with pytest.raises(UnexpectedChallenge):
        verify(registered, answer, clock, attempt="a2")
    # ...nor confirming a signed-in person, which has challenges of its own.
    with pytest.raises(UnexpectedChallenge):
        METHOD.verify(registered, answer, now=clock())
    verify(registered, answer, clock)
    # Replayed: the same answer again, even for the same attempt.
    with pytest.raises(ReplayedAssertion):
        verify(registered, answer, clock)
    assert WebAuthnChallenge.objects.get().used


def test_an_old_challenge_expires(alice: Any, clock: FakeClock) -> None:
    key = SoftAuthenticator()
    registered = enrol(alice, clock, key)
    answer = sign_in(registered, key, clock)
    clock.advance(webauthn.CHALLENGE_TTL)
    with pytest.raises(ChallengeExpired) as caught:
        verify(registered, answer, clock)
    assert caught.value.status == 410
    assert RegisteredMethod.objects.get(pk=registered.pk).last_used_at is None


def test_starting_again_retires_the_open_challenge(alice: Any, clock: FakeClock) -> None:
    key = SoftAuthenticator()
    registered = enrol(alice, clock, key)
    first = sign_in(registered, key, clock)
    second = sign_in(registered, key, clock)
    with pytest.raises(UnexpectedChallenge):
        verify(registered, first, clock)
    verify(registered, second, clock)
    # Expired challenges are swept when new ones are made: the table stays small.
    clock.advance(webauthn.CHALLENGE_TTL + 1)
    sign_in(registered, key, clock)
    assert WebAuthnChallenge.objects.count() == 1


def test_a_count_that_goes_backwards_is_a_cloned_key(alice: Any, clock: FakeClock) -> None:
    key = SoftAuthenticator()
    registered = enrol(alice, clock, key)
    for _ in range(3):
        verify(registered, sign_in(registered, key, clock), clock)
    assert RegisteredMethod.objects.get(pk=registered.pk).counter == 3
    # A copy of the key's secret that was used twice since it was copied.
    for stale in (3, 2, 0):
        with pytest.raises(ClonedAuthenticator) as caught:
            verify(registered, sign_in(registered, key, clock, count=stale), clock)
        assert "cloned" in caught.value.reason
    assert RegisteredMethod.objects.get(pk=registered.pk).counter == 3
    verify(registered, sign_in(registered, key, clock), clock)  # the original, ahead


def test_a_key_that_keeps_no_count_signs_in_every_time(alice: Any, clock: FakeClock) -> None:
    key = SoftAuthenticator(counts=False)
    registered = enrol(alice, clock, key)
    for _ in range(2):
        clock.advance(60)
        verify(registered, sign_in(registered, key, clock), clock)
    saved = RegisteredMethod.objects.get(pk=registered.pk)
    assert (saved.counter, saved.last_used_at) == (0, clock())


def test_any_of_the_persons_keys_answers_and_is_the_one_used(alice: Any, clock: FakeClock) -> None:
    yubikey, laptop = SoftAuthenticator(), SoftAuthenticator(transports=["internal"])
    first = enrol(alice, clock, yubikey, name="YubiKey")
    second = enrol(alice, clock, laptop, name="Laptop")
    options = ceremony(METHOD.begin(first, now=clock(), attempt=AttemptRef(id="a1")))
    assert [c["id"] for c in options["allowCredentials"]] == [
        b64(yubikey.credential_id),
        b64(laptop.credential_id),
    ]
    assert options["userVerification"] == "preferred"
    clock.advance(60)
    verify(first, laptop.get(options), clock)
    assert RegisteredMethod.objects.get(pk=second.pk).last_used_at == clock()
    assert RegisteredMethod.objects.get(pk=first.pk).last_used_at is None


def test_another_persons_key_is_unknown_here(alice: Any, make_user: Any, clock: FakeClock) -> None:
    bob = make_user("bob@example.org")
    bobs_key = SoftAuthenticator()
    enrol(bob, clock, bobs_key)
    registered = enrol(alice, clock, SoftAuthenticator())
    with pytest.raises(UnknownCredential):
        verify(registered, sign_in(registered, bobs_key, clock), clock)


@pytest.mark.parametrize(
    ("lie", "error"),
    [
        ({"origin": "https://vahva-login.example.net"}, WrongOrigin),
        ({"rp_id": "vahva-login.example.net"}, WrongRelyingParty),
        ({"key": ec.generate_private_key(ec.SECP256R1())}, CredentialRefused),
    ],
)
def test_answers_made_elsewhere_are_refused(
    alice: Any, clock: FakeClock, lie: dict[str, Any], error: type[Exception]
) -> None:
    key = SoftAuthenticator()
    registered = enrol(alice, clock, key)
    with pytest.raises(error):
        verify(registered, sign_in(registered, key, clock, **lie), clock)
    assert RegisteredMethod.objects.get(pk=registered.pk).last_used_at is None


def test_amr_says_which_kind_of_key_and_whether_the_person_was_verified(
    alice: Any, make_user: Any, clock: FakeClock
) -> None:
    key = SoftAuthenticator()
    registered = enrol(alice, clock, key)
    assert METHOD.amr_for(sign_in(registered, key, clock, user_verified=False)) == ("hwk",)
    synced = SoftAuthenticator(backup_eligible=True)
    other = enrol(make_user("bob@example.org"), clock, synced)
    assert METHOD.amr_for(sign_in(other, synced, clock)) == ("swk", "user")


_ANSWER = json.dumps(
    {
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"},
    }
)


@pytest.mark.parametrize(
    "garbage",
    [
        "{}",
        "[]",
        "null",
        "42",
        '{"id": 1}',
        '{"id": "a", "rawId": "a", "type": "public-key", "response": "x"}',
        _ANSWER,
        _ANSWER.replace("e30", "!!!"),
        _ANSWER.replace('"type": "public-key"', '"type": "password"'),
        "{" * 10_000,
        "x" * 20_000,
    ],
)
def test_mangled_answers_are_malformed_input_never_a_crash(
    alice: Any, clock: FakeClock, garbage: str
) -> None:
    registered = enrol(alice, clock, SoftAuthenticator())
    METHOD.begin(registered, now=clock(), attempt=AttemptRef(id="a1"))
    with pytest.raises(MalformedInput) as caught:
        verify(registered, garbage, clock)
    assert caught.value.status == 400
    pending = METHOD.start_enrolment(alice, now=clock())
    with pytest.raises(MalformedInput):
        METHOD.finish_enrolment(pending, garbage, now=clock())


def test_a_truncated_answer_is_refused(alice: Any, clock: FakeClock) -> None:
    key = SoftAuthenticator()
    registered = enrol(alice, clock, key)
    answer = json.loads(sign_in(registered, key, clock))
    answer["response"]["authenticatorData"] = answer["response"]["authenticatorData"][:20]
    with pytest.raises(VahvaError) as caught:
        verify(registered, json.dumps(answer), clock)
    assert 400 <= caught.value.status < 500


def test_removing_the_method_removes_the_credential(alice: Any, clock: FakeClock) -> None:
    registered = enrol(alice, clock, SoftAuthenticator())
    methods.remove(alice, registered.pk)
    assert not WebAuthnCredential.objects.exists()


# --- passwordless -----------------------------------------------------------------------------


def test_a_passkey_names_its_owner_and_must_verify_the_person(alice: Any, clock: FakeClock) -> None:
    key = SoftAuthenticator()
    registered = enrol(alice, clock, key)
    options = webauthn.passkey_options(scope="session-1", now=clock())
    assert options["allowCredentials"] == []
    assert options["userVerification"] == "required"
    with pytest.raises(UserNotVerified):
        webauthn.verify_passkey(
            key.get(options, user_verified=False), scope="session-1", now=clock()
        )
    options = webauthn.passkey_options(scope="session-1", now=clock())
    used = webauthn.verify_passkey(key.get(options), scope="session-1", now=clock())
    assert used.registered.pk == registered.pk
    assert used.registered.user == alice
    assert used.amr == ("hwk", "user")


def test_a_passkey_answer_is_bound_to_the_browser_session(alice: Any, clock: FakeClock) -> None:
    key = SoftAuthenticator()
    enrol(alice, clock, key)
    answer = key.get(webauthn.passkey_options(scope="session-1", now=clock()))
    with pytest.raises(UnexpectedChallenge):
        webauthn.verify_passkey(answer, scope="session-2", now=clock())
    # A second-factor challenge is no passkey challenge, and the other way round.
    registered = RegisteredMethod.objects.get()
    with pytest.raises(UnexpectedChallenge):
        verify(registered, key.get(webauthn.passkey_options(scope="a1", now=clock())), clock)


def test_an_unknown_passkey_or_a_wrong_user_handle_is_refused(alice: Any, clock: FakeClock) -> None:
    key = SoftAuthenticator()
    enrol(alice, clock, key)
    stranger = SoftAuthenticator()
    stranger.user_handle = b"someone"
    with pytest.raises(UnknownCredential):
        webauthn.verify_passkey(
            stranger.get(webauthn.passkey_options(scope="s", now=clock())), scope="s", now=clock()
        )
    with pytest.raises(UnknownCredential):
        webauthn.verify_passkey(
            key.get(webauthn.passkey_options(scope="s", now=clock()), user_handle=b"x" * 32),
            scope="s",
            now=clock(),
        )


def test_garbage_or_a_made_up_challenge_is_no_passkey(alice: Any, clock: FakeClock) -> None:
    with pytest.raises(MalformedInput):
        webauthn.verify_passkey("{", scope="s", now=clock())
    key = SoftAuthenticator()
    enrol(alice, clock, key)
    with pytest.raises(UnexpectedChallenge):
        webauthn.verify_passkey(key.get({"challenge": b64(b"y" * 32)}), scope="s", now=clock())


_b64_junk = st.one_of(
    st.binary(max_size=200).map(b64),
    st.text(max_size=40),
    st.integers(),
    st.none(),
)
_answers = st.fixed_dictionaries(
    {
        "id": _b64_junk,
        "rawId": _b64_junk,
        "type": st.sampled_from(["public-key", "x", ""]),
        "response": st.fixed_dictionaries(
            {
                "clientDataJSON": st.one_of(
                    _b64_junk,
                    st.builds(
                        lambda kind, origin: b64(
                            json.dumps(
                                {"type": kind, "challenge": "AAAA", "origin": origin}
                            ).encode()
                        ),
                        st.sampled_from(["webauthn.get", "webauthn.create", "x"]),
                        st.sampled_from(["http://localhost:8000", "https://evil.example"]),
                    ),
                ),
                "authenticatorData": _b64_junk,
                "attestationObject": _b64_junk,
                "signature": _b64_junk,
                "userHandle": _b64_junk,
                "transports": st.one_of(st.lists(st.text(max_size=8), max_size=3), st.none()),
            }
        ),
    }
).map(json.dumps)


@fuzz_settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(answer=_answers)
def test_random_answers_are_typed_errors(alice: Any, clock: FakeClock, answer: str) -> None:
    registered = RegisteredMethod.objects.filter(user=alice, kind="webauthn").first() or enrol(
        alice, clock, SoftAuthenticator()
    )
    METHOD.begin(registered, now=clock(), attempt=AttemptRef(id="a1"))
    with pytest.raises(VahvaError) as caught:
        verify(registered, answer, clock)
    assert 400 <= caught.value.status < 500
    with pytest.raises(VahvaError):
        webauthn.verify_passkey(answer, scope="s", now=clock())
    pending = METHOD.start_enrolment(alice, now=clock())
    with pytest.raises(VahvaError):
        METHOD.finish_enrolment(pending, answer, now=clock())
