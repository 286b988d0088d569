"""One Access-Request, from its password (or its State) to Accept, Challenge or Reject.

Every answer comes through the door (:mod:`vahva.signin.nonbrowser` asks
:func:`~vahva.signin.requirements.decide_step`); this module only maps what the door and the
second factor say to RADIUS, and writes the sign-in log's ``radius.*`` rows. The blocking
parts (password hash, database) run in a pool thread each; a request waiting for the app
holds no thread and no database connection while it waits.
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections
from django.utils.translation import gettext as _

from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import VahvaError
from vahva.gateways import outbox
from vahva.signin import nonbrowser
from vahva.signin.requirements import Requirement

from .clients import KnownClient
from .models import Prompt
from .packets import Code, Request, make_state, read_state

if TYPE_CHECKING:
    from vahva.accounts.models import User

T = TypeVar("T")

#: "password,123456" or "password123456": a 6-digit code at the end (opt-in per client).
_APPENDED = re.compile(r"(?s)(.*?),?(\d{6})")


@dataclass(frozen=True)
class Answer:
    code: Code
    message: str = ""
    state: bytes | None = None


def _closing(function: Callable[..., T]) -> Callable[..., T]:
    def run(*args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, **kwargs)
        finally:
            # The pool thread keeps no connection between requests.
            connections.close_all()

    return run


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    result: T = await sync_to_async(_closing(function), thread_sensitive=False)(*args, **kwargs)
    return result


def requirement_of(client: KnownClient) -> Requirement:
    return Requirement(service=client.service, rule=client.rule)


def split_appended(password: str) -> tuple[str, str | None]:
    """``password,123456`` / ``password123456`` → (password, code); no code → (password, None).

    OpenVPN's ``static-challenge`` sends ``SCRV1:<base64 password>:<base64 response>``; an
    empty response (or one that is not a code) leaves the second factor to the challenge.
    """
    if password.startswith("SCRV1:") and password.count(":") == 2:
        _tag, hidden, answer = password.split(":")
        try:
            secret = base64.b64decode(hidden, validate=True).decode()
            response = base64.b64decode(answer, validate=True).decode().strip()
        except (ValueError, UnicodeDecodeError):
            return password, None
        return secret, response if re.fullmatch(r"\d{6,8}", response) else None
    match = _APPENDED.fullmatch(password)
    if match is None or not match.group(1):
        return password, None
    return match.group(1), match.group(2)


def _log(
    action: str,
    *,
    client: KnownClient,
    request: Request,
    user: User | None = None,
    outcome: str = "ok",
    reason: str = "",
    **data: Any,
) -> None:
    record(
        action,
        subject=user,
        actor=user if outcome == "ok" else None,
        request=nonbrowser.bare_request(request.counted_as),
        outcome=outcome,
        reason=reason,
        service=client.service,
        client=client.name,
        user_name=request.user_name[:254],
        **data,
    )


def _reject(
    client: KnownClient, request: Request, message: str, *, reason: str, user: User | None = None
) -> Answer:
    _log(
        "radius.reject", client=client, request=request, user=user, outcome="failure", reason=reason
    )
    return Answer(Code.ACCESS_REJECT, message)


def _accept(client: KnownClient, request: Request, result: nonbrowser.Result) -> Answer:
    auth = result.step.authentication
    _log(
        "radius.accept",
        client=client,
        request=request,
        user=result.user,
        reason=result.step.reason,
        amr=list(auth.amr) if auth else [],
        method=auth.method if auth else "",
    )
    return Answer(Code.ACCESS_ACCEPT)


def _after(client: KnownClient, request: Request, result: nonbrowser.Result) -> Answer:
    """Accept on the door's ISSUE; Reject with its message otherwise."""
    if result.issue:
        return _accept(client, request, result)
    return _reject(
        client,
        request,
        result.message,
        reason=result.step.reason or result.step.outcome,
        user=result.user,
    )


# --- the first request: the password ---------------------------------------------------------


@dataclass(frozen=True)
class _Started:
    answer: Answer | None = None
    result: nonbrowser.Result | None = None
    code: str | None = None


def _password_step(client: KnownClient, request: Request) -> _Started:
    password = request.password
    if password is None:
        return _Started(
            _reject(client, request, _("Sign in with your password."), reason="no PAP password")
        )
    code = None
    if client.appended_codes:
        password, code = split_appended(password)
    try:
        user = nonbrowser.check_password(
            email=request.user_name, password=password, source=request.counted_as
        )
    except VahvaError as exc:
        # (The engine has logged the wrong password as signin.password.)
        return _Started(_reject(client, request, str(exc.message), reason=type(exc).__name__))
    # Reply-Messages in the person's language only from here on, after the right password:
    # a wrong one, or an unknown name, is answered in the deployment's language whoever the
    # name is, so that a refusal's language does not tell a guesser that an account exists
    # (account enumeration), nor what its owner reads.
    with outbox.in_language_of(user):
        return _second_step(client, request, user, code)


def _second_step(client: KnownClient, request: Request, user: User, code: str | None) -> _Started:
    """After the right password: what the door says, and the challenge (in the person's
    language: the challenge's text is written here)."""
    result = nonbrowser.start(
        user,
        requirement=requirement_of(client),
        ip=request.person_ip,
        source=request.counted_as,
        channel=channel_of(client),
        action="radius.mfa",
        answered=code is not None,
        prompts=client.prompt == Prompt.CHALLENGE,
        approve_only=client.approve_only,
    )
    if result.issue:
        return _Started(_accept(client, request, result))
    if result.challenge is None:
        return _Started(_after(client, request, result))
    _log(
        "radius.challenge",
        client=client,
        request=request,
        user=user,
        reason=result.step.reason,
        method=result.challenge.method,
    )
    return _Started(result=result, code=code)


def channel_of(client: KnownClient) -> str:
    """What binds an attempt to the client that started it (its State works nowhere else)."""
    return f"radius:{client.pk}"


def _code_step(
    client: KnownClient, request: Request, challenge: nonbrowser.Challenge, code: str
) -> Answer:
    try:
        attempt = nonbrowser.resume(
            attempt_id=challenge.attempt, token=challenge.token, channel=channel_of(client)
        )
    except VahvaError as exc:
        return _reject(client, request, str(exc.message), reason=type(exc).__name__)
    with outbox.in_language_of(attempt.user):
        return _answered(client, request, attempt, code)


def _answered(client: KnownClient, request: Request, attempt: Any, code: str) -> Answer:
    try:
        result = nonbrowser.answer_code(
            attempt,
            code,
            requirement=requirement_of(client),
            ip=request.person_ip,
            source=request.counted_as,
            action="radius.mfa",
        )
    except VahvaError as exc:
        # (A wrong answer has ended the attempt: its State takes no second guess.)
        return _reject(
            client, request, str(exc.message), reason=type(exc).__name__, user=attempt.user
        )
    return _after(client, request, result)


async def _wait_step(
    client: KnownClient, request: Request, challenge: nonbrowser.Challenge
) -> Answer:
    requirement = requirement_of(client)
    try:
        attempt = await in_thread(
            nonbrowser.resume,
            attempt_id=challenge.attempt,
            token=challenge.token,
            channel=channel_of(client),
        )
    except VahvaError as exc:
        return await in_thread(
            _reject, client, request, str(exc.message), reason=type(exc).__name__
        )
    state = await nonbrowser.wait_for_answer(
        attempt, requirement=requirement, timeout=float(settings.RADIUS_PUSH_WAIT)
    )
    return await in_thread(_waited, client, request, attempt, state)


def _waited(client: KnownClient, request: Request, attempt: Any, state: str) -> Answer:
    with outbox.in_language_of(attempt.user):
        return _after_waiting(client, request, attempt, state)


def _after_waiting(client: KnownClient, request: Request, attempt: Any, state: str) -> Answer:
    if state != "approved":
        nonbrowser.fail(attempt)
        message = {
            "pending": _("No answer from your app in time. Try again."),
            "denied": _("The sign-in request was denied."),
        }.get(state, _("The sign-in request expired. Try again."))
        reason = {
            "pending": "no answer within the wait",
            "denied": "the person denied the request",
        }.get(state, "the request expired")
        return _reject(client, request, message, reason=reason, user=attempt.user)
    try:
        result = nonbrowser.finish_wait(
            attempt, requirement=requirement_of(client), ip=request.person_ip
        )
    except VahvaError as exc:
        return _reject(
            client, request, str(exc.message), reason=type(exc).__name__, user=attempt.user
        )
    return _after(client, request, result)


async def handle(client: KnownClient, request: Request) -> Answer:
    """The answer to one authenticated Access-Request from ``client``."""
    if request.state is not None:
        return await _continue(client, request)
    started = await in_thread(_password_step, client, request)
    if started.answer is not None:
        return started.answer
    assert started.result is not None
    assert started.result.challenge is not None
    challenge = started.result.challenge
    if started.code is not None:
        # The code came appended to the password: no challenge round trip.
        return await in_thread(_code_step, client, request, challenge, started.code)
    if client.prompt == Prompt.WAIT:
        if challenge.waits:
            return await _wait_step(client, request, challenge)
        return await in_thread(_cannot_ask, client, request, started.result)
    return Answer(
        Code.ACCESS_CHALLENGE, challenge.message, make_state(challenge.attempt, challenge.token)
    )


def _cannot_ask(client: KnownClient, request: Request, result: nonbrowser.Result) -> Answer:
    """A client that shows no prompt, and a method it cannot complete (a code to type, a
    number to show, the app's requests paused): the code goes with the password (when the
    client accepts that), or this VPN cannot be used."""
    with outbox.in_language_of(result.user):
        return _refused_here(client, request, result)


def _refused_here(client: KnownClient, request: Request, result: nonbrowser.Result) -> Answer:
    assert result.challenge is not None
    challenge = result.challenge
    with contextlib.suppress(VahvaError):
        nonbrowser.fail(
            nonbrowser.resume(
                attempt_id=challenge.attempt, token=challenge.token, channel=channel_of(client)
            )
        )
    if challenge.needs_number:
        reason = "the client cannot show the number to type in the app"
        message = _(
            "This VPN cannot show the number to type in the vahva app. Contact your IT support."
        )
    elif challenge.paused:
        reason = "requests to the app are paused"
        message = _(
            "Requests to your vahva app are paused after suspicious sign-in attempts. "
            "Contact your IT support."
        )
    else:
        reason = "the client cannot ask for a code"
        message = _("Use the vahva app to sign in here: this VPN cannot ask for a code.")
    if client.appended_codes:
        message = _("Add the code to the end of your password (password,123456).")
    return _reject(client, request, message, reason=reason, user=result.user)


async def _continue(client: KnownClient, request: Request) -> Answer:
    """The answer to a challenge: a code, or (for the app) anything, and wait for it."""
    assert request.state is not None
    found = read_state(request.state)
    if found is None:
        return await in_thread(
            _reject,
            client,
            request,
            _("Your sign-in has expired. Start again."),
            reason="unknown State",
        )
    attempt_id, token = found
    typed = (request.password or "").strip()
    waits = await in_thread(_waits, client, attempt_id, token)
    challenge = nonbrowser.Challenge(
        attempt=attempt_id, token=token, waits=waits, number=None, message="", method=""
    )
    if waits and not typed:
        return await _wait_step(client, request, challenge)
    return await in_thread(_code_step, client, request, challenge, typed)


def _waits(client: KnownClient, attempt_id: Any, token: str) -> bool:
    """Whether the attempt's method is answered elsewhere (an empty answer then waits)."""
    try:
        attempt = nonbrowser.resume(attempt_id=attempt_id, token=token, channel=channel_of(client))
    except VahvaError:
        return False
    return nonbrowser.method_waits(attempt)
