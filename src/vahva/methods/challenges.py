"""What a person must do to answer a method at sign-in: the typed result of ``Method.begin``.

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
from typing import Any

from django.utils.functional import Promise


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
