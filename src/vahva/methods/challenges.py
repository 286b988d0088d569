"""What a method takes and asks at sign-in: its declared :class:`Answer` and :class:`Role`, and
the typed result of ``Method.begin`` (re-exported by :mod:`.base`).

A small sealed family of frozen dataclasses. The sign-in pages (the browser's and RADIUS's)
``match`` on the type to choose the form, the template and whether to wait; no caller asks a
method for flags. Each method's ``begin`` returns exactly one of them:

- :class:`TypeCode`: type a code (read from an app or a token, texted, written down);
- :class:`MatchNumber`: the vahva app got a request; show this number, then wait;
- :class:`Approve`: approve elsewhere without a number (answer a call and press #, or an
  approve-only push for a client that cannot show a number), then wait;
- :class:`Ceremony`: the browser's own prompt (a security key or passkey) with these options;
- :class:`LimitReached`: nothing was sent, a limit is full until a time: use another way;
- :class:`Paused`: requests to the app are paused after suspicious attempts: nothing was sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.utils.functional import Promise


class Answer(StrEnum):
    """What a method takes as the answer at sign-in."""

    #: Digits read from something the person holds (an authenticator app, a token): a
    #: protocol without a browser (the validation API, RADIUS) may check it
    #: (:meth:`Method.matches`).
    HELD_CODE = "held_code"
    #: Digits texted for one sign-in attempt: asked only inside the attempt that sent them
    #: (never to confirm a signed-in person), and never checked without a browser's attempt.
    SENT_CODE = "sent_code"
    #: A code with letters, written down or read out (recovery codes, a temporary pass).
    LETTERS = "letters"
    #: The browser's own prompt (a security key or passkey): WebAuthn JSON made by the page's
    #: script, in a long hidden field instead of a code.
    CREDENTIAL = "credential"
    #: Approved elsewhere (answer the call, press #): the page waits on :meth:`Method.status`,
    #: then :meth:`Method.verify` receives the attempt's own id as the response.
    APPROVAL = "approval"
    #: Approved in the vahva app (the page waits, as for APPROVAL), or the app's offline
    #: code typed (checked like a HELD_CODE, also without a browser).
    APP = "app"


#: The answers that come from elsewhere: the sign-in page waits, the response is the attempt.
ANSWERED_ELSEWHERE = frozenset({Answer.APPROVAL, Answer.APP})
#: The answers a protocol without a browser may check as a typed code.
HELD_CODES = frozenset({Answer.HELD_CODE, Answer.APP})
#: The answers a signed-in person can give on the "Confirm it's you" page itself (no text,
#: call or push: those go through the sign-in's second step).
ON_THE_PAGE = frozenset({Answer.HELD_CODE, Answer.LETTERS, Answer.CREDENTIAL})


class Role(StrEnum):
    """A method's place among the person's methods."""

    #: Registered by the person: listed on Security info, may be the default, counts as a
    #: registered method for the policy.
    METHOD = "method"
    #: A way back in when the usual methods cannot be used (recovery codes): listed, never
    #: the default, offered under "Sign in another way", never used to confirm a change.
    FALLBACK = "fallback"
    #: Given by the helpdesk (a temporary access pass): neither listed nor set up by the
    #: person, not a registered method (the person must still register a real one).
    STAND_IN = "stand_in"


@dataclass(frozen=True, kw_only=True)
class TypeCode:
    """Type a code. ``sent_to``: the masked number it was texted to ("" when the code is read
    from something the person holds)."""

    #: The code has letters (a recovery code, a temporary pass): no number pad.
    letters: bool = False
    sent_to: str = ""
    #: Seconds until another text may be asked for (0: now).
    resend_wait: int = 0
    #: How many codes are left (recovery codes); None: not counted.
    left: int | None = None


@dataclass(frozen=True, kw_only=True)
class MatchNumber:
    """A request went to the vahva app: the page shows ``number`` and waits for the answer."""

    number: int
    expires_at: dt.datetime
    #: How many devices the request went to (the page says "on any of your 2 devices").
    devices: int = 1


@dataclass(frozen=True, kw_only=True)
class Approve:
    """Approve elsewhere, with no number to match: the page waits for the answer.

    ``sent_to``: the masked number being called ("" for an approve-only push); ``state``:
    where the call already is ("pending", "approved"...) when the page is shown again."""

    sent_to: str = ""
    state: str = "pending"
    devices: int = 0


@dataclass(frozen=True, kw_only=True)
class Ceremony:
    """The browser's own prompt (WebAuthn): ``options`` for ``navigator.credentials.get``."""

    options: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class LimitReached:
    """Nothing was sent: a limit on texts or calls is full until ``until``; ``message`` says
    so in a sentence. The page offers the other ways instead of a field for a code that
    never came."""

    until: dt.datetime
    message: str | Promise


@dataclass(frozen=True, kw_only=True)
class Paused:
    """Nothing was sent: requests to the app are paused until ``until`` after suspicious
    attempts (push bombing). ``code``: the app's offline code still answers."""

    until: dt.datetime
    code: bool


#: Every challenge ``Method.begin`` may return.
Challenge = TypeCode | MatchNumber | Approve | Ceremony | LimitReached | Paused
#: The ones the page waits on (the answer comes from elsewhere).
WAITING = (MatchNumber, Approve)
