"""Consent tickets: the consent form may be answered only as vahva showed it.

django-oauth-toolkit's POST path issues a code for whatever hidden fields are posted. Without
a ticket, a person signed in with a password alone could post the form for a service that
never shows one (and whose rule demands a second factor), or change its fields. The GET that
renders the page records a ticket (a digest of the form's fields and the request it came
from) in the session; the POST must present the same fields, the ticket is used once, and
the door is asked again with the request the ticket remembers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from vahva import clock

SESSION_CONSENT = "vahva_consent"
#: The form's fields that make up the request (the "allow" button is the answer, not them).
FIELDS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "claims",
)
#: Tickets kept per session (several tabs), and for how long a consent page may be answered.
KEEP = 5
TTL = 600


@dataclass(frozen=True)
class Ticket:
    #: The authorization request's URL as the GET saw it (its acr_values, max_age, prompt).
    next_url: str


def _value(raw: Any) -> str:
    # The toolkit renders a missing claims request as the JSON "null".
    return "" if raw is None or raw == "null" else str(raw)


def _digest(fields: Mapping[str, Any]) -> str:
    values = {name: _value(fields.get(name)) for name in FIELDS}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def issue(request: HttpRequest, fields: Mapping[str, Any]) -> None:
    """Record that this session was shown the consent form with ``fields``."""
    now = clock.now().timestamp()
    tickets = {
        digest: ticket
        for digest, ticket in dict(request.session.get(SESSION_CONSENT) or {}).items()
        if now - float(ticket.get("at", 0)) < TTL
    }
    tickets[_digest(fields)] = {"next_url": request.get_full_path(), "at": now}
    newest = sorted(tickets.items(), key=lambda item: item[1]["at"])[-KEEP:]
    request.session[SESSION_CONSENT] = dict(newest)


def take(request: HttpRequest, fields: Mapping[str, Any]) -> Ticket | None:
    """The ticket of the consent page these posted ``fields`` answer, used up; else None."""
    tickets = dict(request.session.get(SESSION_CONSENT) or {})
    found = tickets.pop(_digest(fields), None)
    if found is None:
        return None
    request.session[SESSION_CONSENT] = tickets
    if clock.now().timestamp() - float(found.get("at", 0)) >= TTL:
        return None
    return Ticket(next_url=str(found["next_url"]))
