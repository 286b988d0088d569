"""Drive a sign-in attempt: password → policy → second factor → signed in.

Views call these functions; the methods, the policy and the throttle do the deciding.
Protocols (OIDC, SAML...) enter here too, never around it.
"""

from __future__ import annotations

import datetime as dt
import hmac

from django.contrib.auth import authenticate, get_user_model, login, logout
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from vahva import clock
from vahva.accounts.models import User, by_email, normalise_email
from vahva.audit.log import record
from vahva.conf import settings
from vahva.directory.models import DirectoryLink
from vahva.errors import AlreadyCompleted, ExpiredChallenge
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.models import RegisteredMethod
from vahva.policy import decide

from . import attempts, remembered, throttle
from .attempts import (
    SESSION_ATTEMPT,
    SESSION_PHISHING_RESISTANT,
    InvalidCredentials,
    NotPhishingResistant,
    PasswordResult,
    binding,
    move,
    password_keys,
)
from .models import SignInAttempt
from .requirements import (
    SESSION_AUTH,
    SESSION_MUST_REGISTER,
    Requirement,
    client_ip,
    pending,
    policy_context,
)

# Re-exported for the rooms that call them through the engine (registration, protocols).
from .second_factor import check_second_factor as check_second_factor
from .second_factor import failure_reason as failure_reason
from .second_factor import finished as finished
from .second_factor import verify_answer
from .states import Event, State, next_state


def _known_as(name: str) -> tuple[User | None, int | None, str]:
    """The person a typed name belongs to (an e-mail address, or a directory username): the
    person when read by address (the same read ModelBackend then makes, read once per
    request: :func:`vahva.accounts.models.by_email`), their id, and the name their password
    throttle counts on (their e-mail address when known)."""
    person = by_email(name)
    if person is not None:
        return person, int(person.pk), person.email
    if "@" not in name:
        found = (
            DirectoryLink.objects.filter(username__iexact=name)
            .values_list("user_id", "user__email")
            .first()
        )
        if found is not None:
            return None, int(found[0]), str(found[1])
    return None, None, name


def check_password(request: HttpRequest, email: str, password: str) -> User:
    """The person for ``email`` if ``password`` is right; throttled and audited."""
    now = clock.now()
    email = normalise_email(email)
    if "\x00" in email or "\x00" in password:
        # Malformed, not a guess (a browser's is refused earlier; a RADIUS User-Name can
        # carry one): no name has a NUL, and PostgreSQL cannot store one (a 500 otherwise).
        raise InvalidCredentials()
    person, user_pk, canonical = _known_as(email)
    # One person, one allowance: "alice", her e-mail and her UPN count on the same key.
    keys = password_keys(request, canonical, user_pk)
    # Reserve first: a burst of parallel guesses is counted one by one before any is checked,
    # so no more of them reach the hash than the back-off allows.
    reservation = throttle.reserve(keys, now=now)
    if not password:
        reservation.refund()
        raise InvalidCredentials()
    try:
        user = authenticate(request, username=email, password=password)
    except BaseException:
        reservation.refund()
        raise
    if user is None:
        # (For unknown addresses Django's ModelBackend hashes anyway, so that they take as long
        # as wrong passwords: no enumeration by timing.) The try stays counted.
        subject = person
        if subject is None and user_pk is not None:
            # Known by a directory username: read by id (the address read found nobody).
            subject = get_user_model().objects.filter(pk=user_pk).first()
        record(
            "signin.password",
            subject=subject,
            request=request,
            outcome="failure",
            reason="wrong password" if subject else "unknown e-mail address",
            email=email[:254],
        )
        raise InvalidCredentials()
    reservation.refund(clear=[key for key, _rule in keys[1:]])
    return user


def begin(
    request: HttpRequest,
    user: User,
    *,
    next_url: str = "",
    requirement: Requirement | None = None,
) -> PasswordResult:
    """Start an attempt for a person whose password was right, and apply the policy."""
    now = clock.now()
    ip = client_ip(request)
    if request.user.is_authenticated and request.user.pk != user.pk:
        # Signing in again (prompt=login, step-up) as someone else, on a shared computer:
        # the old person's session ends before the new attempt starts.
        logout(request)
    context = policy_context(
        user,
        now=now,
        ip=ip,
        requirement=requirement,
        remembered_until=remembered.remembered_until(request, user, now=now),
    )
    decision = decide(context)
    asks_mfa = decision.require_mfa and (context.has_methods or context.has_pass)
    # Saved once, in the state the policy has just decided (one INSERT, not INSERT then
    # UPDATE): nobody knows the new attempt's id yet, so no guarded move is needed to get
    # there; the state machine still says which moves are allowed.
    event = Event.REQUIRE_MFA if asks_mfa else Event.SKIP_MFA
    attempt = attempts.create(
        user=user,
        state=next_state(State.PASSWORD_OK, event),
        binding=binding(request),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.SIGNIN_ATTEMPT_TTL),
        completed_at=None if asks_mfa else now,
        ip=ip,
        next_url=next_url,
        amr=["pwd"],
        reason=decision.reason,
    )
    # The sign-in log: every accepted password with the policy's reason, whichever way it went.
    record(
        "signin.password",
        subject=user,
        actor=user,
        request=request,
        reason=decision.reason,
        service=requirement.service if requirement else "",
        require_mfa=decision.require_mfa,
        attempt=str(attempt.pk),
    )
    if decision.must_register:
        # Kept in the session for every page (CampaignMiddleware) and re-decided at the door.
        request.session[SESSION_MUST_REGISTER] = True
    if asks_mfa:
        request.session[SESSION_ATTEMPT] = str(attempt.pk)
        if decision.phishing_resistant:
            # Kept beside the attempt in the session, set in the same request: the attempt
            # is finished only with a phishing-resistant method (see verify()).
            request.session[SESSION_PHISHING_RESISTANT] = str(attempt.pk)
        else:
            request.session.pop(SESSION_PHISHING_RESISTANT, None)
    else:
        _signed_in(request, attempt, method="")
    return PasswordResult(attempt, decision)


#: The reason of an attempt that re-authenticates a signed-in person (the sign-in log's line).
def current(request: HttpRequest) -> SignInAttempt:
    """The attempt this browser is in the middle of; ExpiredChallenge when there is none."""
    attempt_id = request.session.get(SESSION_ATTEMPT)
    attempt = attempts.read(attempt_id) if attempt_id else None
    if attempt is None:
        raise ExpiredChallenge(_("Your sign-in has expired. Start again."))
    # Session binding: an attempt id planted into another browser's session does not match.
    if not hmac.compare_digest(attempt.binding, binding(request)):
        raise ExpiredChallenge(_("Your sign-in has expired. Start again."))
    if attempt.state == State.DONE:
        raise AlreadyCompleted()
    if attempt.state != State.MFA_REQUIRED:
        raise ExpiredChallenge(_("Your sign-in has expired. Start again."))
    if attempt.expires_at <= clock.now():
        move(attempt, Event.EXPIRE)
        record(
            "signin.expired",
            subject=attempt.user,
            request=request,
            outcome="failure",
            reason="the second step was not completed in time",
        )
        raise ExpiredChallenge(_("Your sign-in took too long. Start again."))
    return attempt


def phishing_resistant_only(request: HttpRequest, attempt: SignInAttempt) -> bool:
    """Whether the service of this attempt accepts only phishing-resistant methods."""
    return request.session.get(SESSION_PHISHING_RESISTANT) == str(attempt.pk)


def methods_for(request: HttpRequest, attempt: SignInAttempt) -> list[RegisteredMethod]:
    """The methods this attempt may be finished with, the one to ask first first."""
    found = methods.registered_for(attempt.user)
    if phishing_resistant_only(request, attempt):
        found = [m for m in found if registry.get(m.kind).phishing_resistant]
    return found


def _not_phishing_resistant(request: HttpRequest, attempt: SignInAttempt) -> NotPhishingResistant:
    waiting = pending(request, attempt.next_url)
    service = waiting.requirement.service if waiting else ""
    if methods_for(request, attempt):
        if not service:
            return NotPhishingResistant()
        return NotPhishingResistant(
            _("%(service)s accepts only a security key or passkey. Use one of yours to continue.")
            % {"service": service}
        )
    return NotPhishingResistant(
        _(
            "%(service)s accepts only a security key or passkey, and you have not added one. "
            "Sign in to Security info without %(service)s, add one there, then try again."
        )
        % {"service": service or _("This service")}
    )


def choose_method(
    request: HttpRequest, attempt: SignInAttempt, method_id: object | None, *, answer: bool = False
) -> RegisteredMethod:
    """The method to ask for: the one the person picked, else their default (among the
    phishing-resistant ones, when the service accepts nothing else). For an ``answer``
    (a posted code), the person's own method is returned as picked: :func:`verify` refuses
    and logs one that the service does not accept."""
    if method_id:
        chosen = methods.get_for(attempt.user, method_id)
        if (
            not answer
            and phishing_resistant_only(request, attempt)
            and not registry.get(chosen.kind).phishing_resistant
        ):
            raise _not_phishing_resistant(request, attempt)
        return chosen
    registered = methods_for(request, attempt)
    if not registered:
        if phishing_resistant_only(request, attempt):
            raise _not_phishing_resistant(request, attempt)
        raise ExpiredChallenge()
    return registered[0]


def verify(
    request: HttpRequest,
    attempt: SignInAttempt,
    registered: RegisteredMethod,
    response: str,
    *,
    kind: str = "",
) -> None:
    """Check the second factor (:func:`.second_factor.verify_answer`, the one place every
    sign-in's answer is verified); on success the browser is signed in."""
    if (
        phishing_resistant_only(request, attempt)
        and not registry.get(kind or registered.kind).phishing_resistant
    ):
        # A code (which a look-alike site can relay) offered where the service demands a
        # security key: refused before the code is even checked.
        refused = _not_phishing_resistant(request, attempt)
        record(
            "signin.mfa",
            subject=attempt.user,
            request=request,
            outcome="failure",
            reason=refused.reason,
            method=registered.kind,
        )
        raise refused
    verify_answer(
        request,
        attempt,
        registered,
        response,
        action="signin.mfa",
        kind=kind,
        # In the transaction that finishes the attempt: last_login, the session's row and the
        # audit row are written in its commit (one write transaction, not four).
        then=lambda verified: _signed_in(request, verified.attempt, method=verified.method.kind),
    )


def _signed_in(request: HttpRequest, attempt: SignInAttempt, *, method: str) -> None:
    user = attempt.user
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session.pop(SESSION_ATTEMPT, None)
    request.session[SESSION_AUTH] = {
        "at": clock.now().timestamp(),
        "amr": list(attempt.amr),
        "method": method,
        "attempt": str(attempt.pk),
    }
    record(
        "signin.success",
        subject=user,
        actor=user,
        request=request,
        reason=attempt.reason,
        method=method,
        amr=list(attempt.amr),
        service=_service_of(request, attempt),
    )


def _service_of(request: HttpRequest, attempt: SignInAttempt) -> str:
    waiting = pending(request, attempt.next_url)
    return waiting.requirement.service if waiting else ""
