"""The waiting page's answers: where a method answered elsewhere (a push, a call) is, as JSON
to poll and as server-sent events, for this browser's own attempt only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from vahva import clock, waits
from vahva.errors import AlreadyCompleted, VahvaError
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import ANSWERED_ELSEWHERE, AttemptRef
from vahva.methods.models import RegisteredMethod

from . import choices, engine
from .models import SignInAttempt
from .views import attempt_ref


def _waiting_state(argument: str) -> tuple[dict[str, Any], bool, float | None]:
    """The event stream's checker: ``argument`` is "<user>:<method>:<attempt>:<kind>", set by
    :func:`verify_events` from the session, never by the browser."""
    user_pk, method_pk, attempt_id, kind = argument.split(":", 3)
    registered = methods.get_for(int(user_pk), method_pk)
    state, until = registry.get(kind).status_until(
        registered, attempt=AttemptRef(id=attempt_id), now=clock.now()
    )
    return {"state": state}, state != "pending", until.timestamp() if until else None


waits.register("signin", _waiting_state)


@dataclass(frozen=True)
class _Waiting:
    """Where a waiting method is, for the waiting page: the answer, its HTTP status for the
    JSON poll, and (while it waits) the session's attempt and the method it waits on."""

    data: dict[str, Any]
    status: int = 200
    attempt: SignInAttempt | None = None
    registered: RegisteredMethod | None = None
    #: The kind of the method that answers (another than the registered one's for "Call me").
    kind: str = ""


def _waiting(request: HttpRequest) -> _Waiting:
    try:
        attempt = engine.current(request)
    except VahvaError as exc:
        if isinstance(exc, AlreadyCompleted) or request.user.is_authenticated:
            # Finished (in this tab or another): the page reloads and carries on signed in.
            return _Waiting({"state": "done"})
        return _Waiting({"state": "gone", "message": str(exc.message)}, exc.status)
    try:
        registered = engine.choose_method(request, attempt, request.GET.get("method"))
        method = choices.answering(registered, request.GET.get("by", ""))
    except VahvaError as exc:
        return _Waiting({"state": "gone", "message": str(exc.message)}, exc.status)
    if method.answer not in ANSWERED_ELSEWHERE:
        return _Waiting({"state": "gone"}, 400)
    state = method.status(registered, attempt=attempt_ref(request, attempt), now=clock.now())
    return _Waiting({"state": state}, 200, attempt, registered, method.kind)


@require_http_methods(["GET"])
def verify_events(request: HttpRequest) -> HttpResponse:
    """The waiting page's server-sent events: the push's state now, then each change.

    The stream is carried on outside Django (:mod:`vahva.waits`), so a waiting sign-in holds
    no thread and no database connection; the answers are the same as :func:`verify_status`.
    """
    found = _waiting(request)
    wait = None
    if (
        found.attempt is not None
        and found.registered is not None
        and (found.data["state"] == "pending")
    ):
        # Only this session's own attempt is ever waited on: the browser names a method of
        # the attempt's person at most, never an attempt.
        wait = waits.Wait(
            checker="signin",
            argument=(
                f"{found.attempt.user_id}:{found.registered.pk}:{found.attempt.pk}:{found.kind}"
            ),
            key=str(found.attempt.pk),
        )
    return waits.event_stream(request, found.data, wait)


@require_http_methods(["GET"])
def verify_status(request: HttpRequest) -> JsonResponse:
    """Where a waiting method (a push to the app) is, for the waiting page to poll.

    Cheap and read-only: the session's attempt and the method's status. "approved" tells the
    page to post its form, which completes the sign-in through engine.verify.
    """
    found = _waiting(request)
    return JsonResponse(found.data, status=found.status)
