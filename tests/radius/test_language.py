"""Reply-Messages in the language of the person signing in, once their password was right; the
deployment's language before that, whoever the name is."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation
from pyrad import packet

from tests.radius.harness import SECRET, ServerThread
from tests.radius.test_phone import server  # noqa: F401  (a VPN client whose rule is "always")
from tests.radius.test_server import Nas
from vahva.radius import clients

pytestmark = pytest.mark.django_db(transaction=True)

WRONG_CODE = "000000"


@pytest.fixture
def nas(server: ServerThread) -> Nas:  # noqa: F811  (the fixture imported above)
    return Nas(server.port)


def challenge_and_wrong_code(nas: Nas) -> tuple[str, str]:
    """The challenge's text, and the answer to a wrong code sent back with its State."""
    challenge = nas.ask(nas.access())
    assert challenge.code == packet.AccessChallenge
    refused = nas.ask(nas.access(password=WRONG_CODE, State=challenge["State"][0]))
    assert refused.code == packet.AccessReject
    return challenge["Reply-Message"][0], refused["Reply-Message"][0]


def in_finnish(english: str) -> str:
    with translation.override("fi"):
        finnish = translation.gettext(english)
    assert finnish != english, f"no Finnish for {english!r} in the catalogue"
    return finnish


def test_the_challenge_and_its_refusal_speak_the_persons_language(nas: Nas, bob: Any) -> None:
    asked, refused = challenge_and_wrong_code(nas)
    # The deployment speaks English (LANGUAGE_CODE); bob chose Finnish on vahva's pages.
    bob.user.language = "fi"
    bob.user.save(update_fields=["language"])
    assert challenge_and_wrong_code(nas) == (in_finnish(asked), in_finnish(refused))


def test_a_wrong_password_is_answered_alike_for_every_name(nas: Nas, bob: Any) -> None:
    # Account enumeration: a refusal in the owner's language would tell a guesser that the
    # account exists (and what its owner reads).
    bob.user.language = "fi"
    bob.user.save(update_fields=["language"])
    guessed = nas.ask(nas.access(password="not-bobs-password"))
    request = nas.access(password="not-bobs-password")
    request["User-Name"] = "nobody@demo.example"
    unknown = nas.ask(request)
    assert guessed.code == unknown.code == packet.AccessReject
    assert guessed["Reply-Message"] == unknown["Reply-Message"]
    # In the deployment's English, not in bob's Finnish.
    assert in_finnish(guessed["Reply-Message"][0]) != guessed["Reply-Message"][0]


def test_a_client_without_prompts_refuses_in_the_persons_language(
    transactional_db: Any, bob: Any
) -> None:
    running = ServerThread().start()
    try:
        clients.add(
            "Wi-Fi", addresses=["127.0.0.1/32"], secret=SECRET, mfa_rule="always", prompt="wait"
        )
        running.reload()
        bob.user.language = "fi"
        bob.user.save(update_fields=["language"])
        nas = Nas(running.port)
        reply = nas.ask(nas.access())
        assert reply.code == packet.AccessReject
        assert reply["Reply-Message"] == [
            in_finnish("Use the vahva app to sign in here: this VPN cannot ask for a code.")
        ]
    finally:
        running.stop()
