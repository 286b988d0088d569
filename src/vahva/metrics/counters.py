"""What happened, counted as it happens: read from the audit log (and the table of texts and
calls sent), so that no room has to call the metrics itself.

Each audit row is looked up in a table of (action, outcome) → counter and labels once its
transaction commits: a row rolled back was never counted. Label values come from short fixed
lists (a method kind this deployment knows, a limit's scope...), never from what a request
sent, so a caller cannot make the series grow without bound.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from prometheus_client import CollectorRegistry, Counter, Histogram

#: This process's metrics (one worker); in multiprocess mode their values live in the files
#: of PROMETHEUS_MULTIPROC_DIR and the scrape reads those instead (see :mod:`.views`).
REGISTRY = CollectorRegistry(auto_describe=True)

SIGNINS = Counter(
    "vahva_signins",
    "Sign-in steps by method and outcome (success, wrong_password, wrong_code, replayed, "
    "locked, expired, denied, reported, directory_unavailable). method is the second "
    "factor; none: no second factor was asked; password: the password step.",
    ["method", "outcome"],
    registry=REGISTRY,
)
PHONE_SENDS = Counter(
    "vahva_phone_sends",
    "Texts (sms) and calls (voice) sent.",
    ["channel"],
    registry=REGISTRY,
)
PHONE_REFUSED = Counter(
    "vahva_phone_refused",
    "Texts and calls refused by a limit (scope: number, person, ip, country, or daily: the "
    "whole deployment's daily cap).",
    ["scope", "channel"],
    registry=REGISTRY,
)
VALIDATIONS = Counter(
    "vahva_validate_checks",
    "Codes checked through the validation API (/api/validate/v1/check) by outcome.",
    ["outcome"],
    registry=REGISTRY,
)
PUSH_NOTIFY = Histogram(
    "vahva_push_notify_seconds",
    "From the phone's answer to a sign-in push until the waiting browser is told.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)

#: Methods that are not a registered kind but still label a sign-in step.
_STEP_METHODS = {"": "none", "pwd": "password"}
#: A failed code's reason (the exception's name, as the engine audits it) → outcome.
_CODE_FAILURES = {"InvalidCode": "wrong_code", "ReplayedCode": "replayed"}
_SCOPES = ("number", "person", "ip", "country", "daily")

Event = Any
Labeller = Callable[[Event], dict[str, str]]


def _known_method(kind: object) -> str:
    from vahva.methods import registry

    text = str(kind or "")
    if text in _STEP_METHODS:
        return _STEP_METHODS[text]
    known = {method.kind for method in registry.all_methods()}
    return text if text in known else "other"


def channels() -> tuple[str, ...]:
    """The channel labels of texts and calls: the installed methods' own."""
    from vahva.methods import registry

    return tuple(m.send_channel for m in registry.all_methods() if m.send_channel)


def _channel(value: object) -> str:
    """A channel label as the sending method wrote it (a short lowercase word: the label set
    stays small whatever a row holds); also usable before Django's apps are loaded (a worker
    counting a send)."""
    text = str(value or "")
    return (
        text if text.isascii() and text.isalpha() and text.islower() and len(text) <= 8 else "other"
    )


def _one_of(value: object, allowed: tuple[str, ...]) -> str:
    return str(value) if value in allowed else "other"


def _method_of(event: Event) -> str:
    return _known_method((event.data or {}).get("method"))


def _code_failure(event: Event) -> str:
    return _CODE_FAILURES.get(event.reason, "rejected")


#: (action, outcome) → (counter, labels of the row). A lookup table, not an if-chain.
_AUDITED: dict[tuple[str, str], tuple[Counter, Labeller]] = {
    ("signin.success", "ok"): (SIGNINS, lambda e: {"method": _method_of(e), "outcome": "success"}),
    ("signin.password", "failure"): (
        SIGNINS,
        lambda e: {"method": "password", "outcome": "wrong_password"},
    ),
    ("signin.mfa", "failure"): (
        SIGNINS,
        lambda e: {"method": _method_of(e), "outcome": _code_failure(e)},
    ),
    ("signin.locked", "failure"): (
        SIGNINS,
        lambda e: {"method": _method_of(e), "outcome": "locked"},
    ),
    ("signin.expired", "failure"): (
        SIGNINS,
        lambda e: {"method": "none", "outcome": "expired"},
    ),
    ("directory.unavailable", "failure"): (
        SIGNINS,
        lambda e: {"method": "password", "outcome": "directory_unavailable"},
    ),
    ("phone.limited", "failure"): (
        PHONE_REFUSED,
        lambda e: {
            "scope": _one_of((e.data or {}).get("scope"), _SCOPES),
            "channel": _one_of((e.data or {}).get("channel"), channels()),
        },
    ),
    ("validate.check", "ok"): (VALIDATIONS, lambda e: {"outcome": "accepted"}),
    ("validate.check", "failure"): (VALIDATIONS, lambda e: {"outcome": _code_failure(e)}),
}


def count_event(event: Event) -> None:
    """Count one audit row, if it is one of the counted actions."""
    found = _AUDITED.get((event.action, event.outcome))
    if found is not None:
        counter, labels = found
        counter.labels(**labels(event)).inc()
        return
    method = _ends_signin(event.action) if event.outcome == "failure" else None
    if method is not None:
        # A method's own ending of a sign-in (the app's "Deny"), labelled as it says.
        SIGNINS.labels(method=method.kind, outcome=method.audited_outcomes[event.action]).inc()


def _ends_signin(action: str) -> Any:
    from vahva.methods import registry

    return next((m for m in registry.all_methods() if action in m.audited_outcomes), None)


def count_send(channel: str) -> None:
    PHONE_SENDS.labels(channel=_channel(channel)).inc()


def observe_push_told(answered_at: dt.datetime | None, *, now: dt.datetime) -> None:
    """The waiting browser of a sign-in push is being told its answer (given at
    ``answered_at``, None while unanswered): one observation of the push latency."""
    if answered_at is None:
        return
    # Two nodes' clocks may differ by a little: a negative latency is counted as none.
    PUSH_NOTIFY.observe(max(0.0, (now - answered_at).total_seconds()))


def _audited(sender: Any, instance: Event, created: bool, **kwargs: Any) -> None:
    counted = (instance.action, instance.outcome) in _AUDITED or (
        instance.outcome == "failure" and _ends_signin(instance.action) is not None
    )
    if created and counted:
        # After the commit: an audit row rolled back with its transaction never happened.
        transaction.on_commit(partial(count_event, instance))


def _sent(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created:
        transaction.on_commit(partial(count_send, str(instance.channel)))


def connect() -> None:
    """Listen to the audit log and the sends table (the app's ready(); idempotent)."""
    post_save.connect(_audited, sender="audit.AuditEvent", dispatch_uid="vahva.metrics.audit")
    post_save.connect(_sent, sender="methods.PhoneSend", dispatch_uid="vahva.metrics.sends")
