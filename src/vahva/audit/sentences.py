"""What a sign-in event means, in words a helpdesk agent can read out to a caller.

The audit log keeps the machine's reasons (English, stable, searchable: "InvalidCode",
"3 consecutive wrong codes", "MFA skipped: …"). The sign-in log of the helpdesk and of
insights shows instead what :func:`describe` makes of them: a short label for the event
("Wrong code") and one sentence saying why, translated. A reason this table does not know
is shown as it was recorded, never hidden.

Lookup tables, not an if-chain: an exact reason first, then the reasons that carry a value
(a number, a time, a service), matched by pattern.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

#: The audit actions a sign-in log lists, with the name of each in the log's action filter.
SIGNIN_ACTIONS: dict[str, str | Promise] = {
    "signin.password": _("Password step"),
    "signin.passkey": _("Passkey sign-in"),
    "signin.mfa": _("Second step"),
    "signin.success": _("Signed in"),
    "signin.locked": _("Locked"),
    "signin.expired": _("Expired"),
    "signin.confirm": _("Identity confirmed again"),
    "push.denied": _("Request denied in the app"),
    "push.reported": _("Request reported in the app"),
    "push.ignored": _("Request not answered"),
    "push.limited": _("Request not sent"),
    "push.paused": _("Requests paused"),
    "phone.reported": _("Call reported"),
    "phone.limited": _("Text or call limit reached"),
    # The helpdesk checked who was calling in the person's name (the app, a code, a procedure).
    "helpdesk.caller_check": _("Helpdesk checked the caller"),
    # RADIUS (VPNs): the radius room's rows.
    "radius.challenge": _("RADIUS: second step asked"),
    "radius.mfa": _("RADIUS: second step"),
    "radius.accept": _("RADIUS: accepted"),
    "radius.reject": _("RADIUS: rejected"),
}

#: What a row says happened, by (action, outcome).
_LABELS: dict[tuple[str, str], str | Promise] = {
    ("signin.password", "ok"): _("Password accepted"),
    ("signin.password", "failure"): _("Wrong password"),
    ("signin.passkey", "ok"): _("Passkey accepted"),
    ("signin.passkey", "failure"): _("Passkey refused"),
    ("signin.mfa", "ok"): _("Second step accepted"),
    ("signin.mfa", "failure"): _("Second step failed"),
    ("signin.success", "ok"): _("Signed in"),
    ("signin.locked", "failure"): _("Locked after wrong codes"),
    ("signin.expired", "failure"): _("Sign-in expired"),
    ("signin.confirm", "ok"): _("Identity confirmed again"),
    ("signin.confirm", "failure"): _("Wrong code when confirming"),
    ("push.denied", "failure"): _("Denied in the app"),
    ("push.reported", "failure"): _("Reported as not theirs"),
    ("push.ignored", "failure"): _("Request not answered"),
    ("push.limited", "failure"): _("Request not sent"),
    ("push.paused", "failure"): _("App requests paused"),
    ("phone.reported", "failure"): _("Call reported as not theirs"),
    ("phone.limited", "failure"): _("Text or call limit reached"),
    ("radius.challenge", "ok"): _("Second step asked (RADIUS)"),
    ("radius.mfa", "failure"): _("Wrong code (RADIUS)"),
    ("radius.accept", "ok"): _("Accepted (RADIUS)"),
    ("radius.reject", "failure"): _("Rejected (RADIUS)"),
}

#: The password step's failure for an address nobody has.
UNKNOWN_ADDRESS = "unknown e-mail address"

#: Reasons recorded word for word: error names (what ``failure_reason`` writes when an error
#: has no reason of its own), and the fixed reasons of the rooms.
_EXACT: dict[str, str | Promise] = {
    # Codes and answers
    "InvalidCode": _("The code was wrong."),
    "WrongNumber": _("The number typed in the app was not the one on the screen."),
    "ReplayedCode": _("The code had been used already: each code works only once."),
    "ExpiredChallenge": _("The code or request had expired before it was used."),
    "CodeExpired": _("The texted or called code had expired; a new one has to be sent."),
    "PushExpired": _("The request to the vahva app was not answered in time."),
    "PushDenied": _("The person denied the request in the vahva app."),
    "EnrolmentLinkInvalid": _("The app's set-up link had expired or was not right."),
    "CodesUsedUp": _("Every recovery code of the set has been used."),
    "ChallengeExpired": _("The passkey or security key answered too late."),
    "CredentialRefused": _("The passkey or security key's answer could not be verified."),
    "NotApproved": _("The call was not approved by pressing #."),
    "MalformedInput": _("The answer was not in the expected form."),
    "AlreadyCompleted": _("This sign-in had already been completed."),
    "Locked": _("The second step is locked after too many wrong codes."),
    "RateLimited": _("Too many tries in a short time: the next try has to wait."),
    "LimitReached": _("The limit of texts or calls was reached."),
    "CallReported": _(
        "The person pressed 0 on the helpdesk's call with a code: they had not called the helpdesk."
    ),
    "InvalidCredentials": _("The e-mail address or password was wrong."),
    "NotPhishingResistant": _("This service needs a passkey or security key."),
    "PasskeyRefused": _("The passkey was refused."),
    # The password step
    "wrong password": _("The password was wrong."),
    UNKNOWN_ADDRESS: _("Nobody has this e-mail address here."),
    "account disabled": _("The account is disabled."),
    "no PAP password": _("The VPN sent no password."),
    # Passkeys and security keys (the reasons of vahva.methods.webauthn.checks)
    "the security key's answer could not be verified": _(
        "The passkey or security key's answer could not be verified."
    ),
    "answer made on another web address (origin)": _(
        "The passkey answered a different web address: possibly a phishing site."
    ),
    "answer made for another relying party (RP ID)": _(
        "The passkey answered for another site: possibly a phishing site."
    ),
    "answer to a challenge that was not this ceremony's": _(
        "The passkey answered another sign-in's question: possibly a replayed answer."
    ),
    "unknown credential": _("The passkey or security key is not registered here."),
    "the authenticator did not verify the person (no PIN or biometric)": _(
        "The passkey was used without its PIN, fingerprint or face check."
    ),
    "sign count did not increase: possibly a cloned authenticator": _(
        "The security key's counter did not go up: it may have been copied."
    ),
    "replayed answer (its challenge was already used)": _(
        "The passkey's answer had been used already: possibly a replayed answer."
    ),
    "passkey sign-in: possession and user verification, multi-factor on its own": _(
        "Signed in with a passkey: it counts as both steps."
    ),
    # The vahva app
    "the person denied the request": _("The person tapped Deny on the sign-in request."),
    "the person said the sign-in request was not theirs": _(
        "The person said the request was not theirs (Deny and report): someone else probably "
        "knows the password."
    ),
    "the sign-in request was not answered in time": _(
        "Nobody answered the request in the vahva app in time."
    ),
    "a sign-in request was already waiting on the phone": _(
        "No new request was sent: one was already waiting in the app."
    ),
    "sign-in requests are paused after suspicious attempts": _(
        "No request was sent: requests to the app are paused after suspicious sign-ins."
    ),
    # Texts and calls
    "0# pressed: the call was not expected": _(
        "The person pressed 0# on a sign-in call: they did not expect it. Someone else "
        "probably knows the password."
    ),
    "# pressed": _("The person approved the call by pressing #."),
    "0# pressed on the helpdesk's call: the person did not call the helpdesk": _(
        "The person pressed 0# on the helpdesk's call with a code: they did not call the "
        "helpdesk, so the caller who asked for it is probably someone else."
    ),
    # The policy
    "MFA skipped: no sign-in method registered yet": _(
        "No second step: the person has not registered a sign-in method yet."
    ),
    "MFA required: the person has registered methods": _(
        "A second step was asked, as for everyone with a sign-in method."
    ),
    "MFA required: staff always use a second factor": _(
        "A second step was asked: staff always need one."
    ),
    "MFA required: staff always use a security key or passkey": _(
        "A passkey or security key was asked: staff always need one."
    ),
    "MFA required: the helpdesk issued a temporary access pass": _(
        "The temporary access pass from the helpdesk was asked for."
    ),
}

#: Reasons that carry a value, by pattern; the groups fill the sentence.
_PATTERNS: list[tuple[re.Pattern[str], str | Promise]] = [
    (
        re.compile(r"(?P<count>\d+) consecutive wrong codes"),
        _("%(count)s wrong codes in a row: locked until the helpdesk clears the wrong codes."),
    ),
    (
        re.compile(r"(?P<count>\d+) sign-ins with the right password whose request was denied.*"),
        _(
            "%(count)s sign-ins with the right password were denied, reported or left "
            "unanswered: the app asks for a typed code for a while instead of a request."
        ),
    ),
    (
        re.compile(r"(?P<count>\d+) sign-in requests were sent within (?P<seconds>\d+) seconds"),
        _("No request was sent: %(count)s were sent within %(seconds)s seconds already."),
    ),
    (
        re.compile(r"(?P<scope>\w+) limit of (?P<count>\d+) reached"),
        _("No text or call was sent: the limit of %(count)s (%(scope)s) was reached."),
    ),
    (
        re.compile(r"MFA skipped: exempted until (?P<time>.+) \(ticket (?P<ticket>.*)\)"),
        _("No second step: the helpdesk exempted the person until %(time)s (ticket %(ticket)s)."),
    ),
    (
        re.compile(r"MFA skipped: (?P<address>\S+) is in trusted network (?P<network>.+)"),
        _("No second step: %(address)s is in the trusted network %(network)s."),
    ),
    (
        re.compile(r"MFA skipped: enforced from (?P<time>.+), after the activation delay"),
        _("No second step yet: the person registered recently; it is asked from %(time)s."),
    ),
    (
        re.compile(r"MFA skipped: this browser is remembered until (?P<time>.+)"),
        _("No second step: the person chose to be remembered in this browser until %(time)s."),
    ),
    (
        re.compile(r"MFA skipped: service (?P<service>.+) never requires it"),
        _("No second step: the service %(service)s never asks for one."),
    ),
    (
        re.compile(r"MFA required: service (?P<service>.+) requires phishing-resistant MFA"),
        _("A passkey or security key was asked: the service %(service)s requires one."),
    ),
    (
        re.compile(r"MFA required: service (?P<service>.+) requires it always"),
        _("A second step was asked: the service %(service)s always requires one."),
    ),
    (
        re.compile(r"MFA required: (?P<who>.+) asked for a second factor"),
        _("A second step was asked: %(who)s asked for one."),
    ),
    (
        re.compile(r"MFA required: (?P<why>.+), and no sign-in method is registered"),
        _("Stopped: a second step is needed (%(why)s) and the person has no sign-in method."),
    ),
]


@dataclass(frozen=True)
class Described:
    """One event in words: ``label`` says what happened, ``why`` says why (or "")."""

    label: str
    why: str


def explain(reason: str) -> str:
    """The sentence for a recorded reason; the reason itself when none is known."""
    reason = reason.strip()
    if not reason:
        return ""
    known = _EXACT.get(reason)
    if known is not None:
        return str(known)
    for pattern, sentence in _PATTERNS:
        match = pattern.fullmatch(reason)
        if match is not None:
            return str(sentence) % match.groupdict()
    # A refusal at a protocol's door: "need_method: <policy reason>".
    step, colon, rest = reason.partition(": ")
    if colon and step in _DOOR_STEPS:
        return f"{_DOOR_STEPS[step]} {explain(rest)}"
    return reason


_DOOR_STEPS: dict[str, str | Promise] = {
    "need_method": _("Refused: the person has no sign-in method."),
    "need_passkey": _("Refused: the service needs a passkey or security key."),
    "refuse": _("Refused even after signing in."),
}


def describe(*, action: str, outcome: str, reason: str, data: Mapping[str, Any]) -> Described:
    """The label and sentence of one audit event (``data``: the event's own fields)."""
    if action == "signin.password" and reason == UNKNOWN_ADDRESS:
        label: str | Promise = _("Unknown e-mail address")
    else:
        label = _LABELS.get((action, outcome), SIGNIN_ACTIONS.get(action, action))
    why = explain(reason)
    device = str(data.get("device_name") or "")
    if action in ("push.denied", "push.reported") and device:
        why = str(_("%(sentence)s Device: %(device)s.")) % {
            "sentence": why,
            "device": device,
        }
    return Described(str(label), why)


# --- the helpdesk's caller checks (helpdesk.caller_check: the app's and the other ways) -----

_LABELS.update(
    {
        ("helpdesk.caller_check", "ok"): _("Caller verified"),
        ("helpdesk.caller_check", "failure"): _("Caller not verified"),
    }
)
_EXACT.update(
    {
        "the person approved the helpdesk's check with the number read out": _(
            "Verified in the vahva app: the person typed the number the agent read out."
        ),
        "the person denied the helpdesk's check": _(
            "The person denied the helpdesk's check in the vahva app."
        ),
        "the person said they are not the one talking to the helpdesk": _(
            "The person said in the vahva app that they are not the caller: the caller may be "
            "someone else."
        ),
        "caller verified: a recovery code read out (now used up)": _(
            "Verified by a recovery code read out; that code is now used up."
        ),
        "caller verified by the organisation's procedure": _(
            "The agent verified the caller by the organisation's own procedure."
        ),
        "too many caller checks": _(
            "No check was started: too many checks were started for this person a short while ago."
        ),
    }
)
_PATTERNS.extend(
    [
        (
            re.compile(r"caller verified: a code texted to (?P<number>.+)"),
            _("Verified by a code texted to %(number)s."),
        ),
        (
            re.compile(r"caller verified: a code called to (?P<number>.+)"),
            _("Verified by a code said in a call to %(number)s."),
        ),
        (
            re.compile(r"caller verified: a code from (?P<method>.+) read out"),
            _("Verified by a code read out from %(method)s."),
        ),
    ]
)
