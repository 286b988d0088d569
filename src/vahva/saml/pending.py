"""A verified AuthnRequest kept in the browser's session while the person signs in.

The request arrives once (a GET or a POST); the person may then go through vahva's sign-in
pages and comes back to a GET address that names it by a random ticket. Tickets are
single-use, expire, and belong to the session that received the request: another browser
cannot finish someone else's request.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from django.http import HttpRequest

from .inbound import AuthnRequest

SESSION_KEY = "vahva_saml"
#: Requests one browser may have open at once (several tabs); the oldest is dropped.
MAX_OPEN = 8


@dataclass(frozen=True)
class Pending:
    ticket: str
    request: AuthnRequest
    relay_state: str | None
    at: float


def _all(request: HttpRequest) -> dict[str, Any]:
    stored = request.session.get(SESSION_KEY)
    return dict(stored) if isinstance(stored, dict) else {}


def put(
    request: HttpRequest, authn_request: AuthnRequest, relay_state: str | None, *, now: float
) -> str:
    ticket = secrets.token_urlsafe(24)
    stored = _all(request)
    values = asdict(authn_request)
    values["issued_at"] = authn_request.issued_at.isoformat()
    values["requested_contexts"] = list(authn_request.requested_contexts)
    stored[ticket] = {"request": values, "relay_state": relay_state, "at": now}
    while len(stored) > MAX_OPEN:
        oldest = min(stored, key=lambda key: float(stored[key].get("at", 0)))
        del stored[oldest]
    request.session[SESSION_KEY] = stored
    return ticket


def get(request: HttpRequest, ticket: str, *, now: float, max_age: int) -> Pending | None:
    raw = _all(request).get(ticket)
    if not isinstance(raw, dict):
        return None
    try:
        values = dict(raw["request"])
        values["issued_at"] = dt.datetime.fromisoformat(values["issued_at"])
        values["requested_contexts"] = tuple(values["requested_contexts"])
        pending = Pending(
            ticket=ticket,
            request=AuthnRequest(**values),
            relay_state=raw.get("relay_state"),
            at=float(raw["at"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    if now - pending.at > max_age:
        return None
    return pending


def drop(request: HttpRequest, ticket: str) -> None:
    stored = _all(request)
    if stored.pop(ticket, None) is not None:
        request.session[SESSION_KEY] = stored
