"""Random strings drawn from the operating system in one call each, not one call per character.

Django's ``get_random_string`` asks ``os.urandom`` once per character (``secrets.choice``). A
sign-in draws about 190 such characters: its CSRF token's secrets and masks (four strings of
32) and its two session keys. Each call releases the GIL for a system call, and under load,
with other requests' threads waiting for it, each release is a hand-over: a futex wake, a
context switch and caches refilled. In `vahva serve` with four sign-ins in flight on a core,
drawing each string in one call made a sign-in about 3 % cheaper (bench/README.md, "Eighth
session"); in a single thread the same change saves only ~0.2 ms.

The characters are as random as Django's: every one comes from the operating system's CSPRNG,
and rejection sampling keeps them uniform over the alphabet (a byte is used only below the
largest multiple of the alphabet's length, so no character is more likely than another).
"""

from __future__ import annotations

import os
import secrets

from django.utils.crypto import RANDOM_STRING_CHARS

#: Extra bytes drawn with each batch, so that the bytes rejection sampling throws away rarely
#: need a second system call (for 62 characters, 8 bytes in 256 are thrown away).
_SPARE = 8


def random_string(length: int, allowed_chars: str = RANDOM_STRING_CHARS) -> str:
    """``length`` characters chosen uniformly and independently from ``allowed_chars`` by the
    operating system's CSPRNG: what ``django.utils.crypto.get_random_string`` returns, drawn
    in one ``os.urandom`` call for the usual lengths."""
    if length <= 0:
        return ""  # as Django's: nothing drawn, whatever the alphabet
    size = len(allowed_chars)
    if size > 256:
        # A byte cannot index more characters than 256: Django's way, a call per character.
        return "".join(secrets.choice(allowed_chars) for _ in range(length))
    if size == 0:
        # As secrets.choice: an empty alphabet has nothing to choose from.
        raise IndexError("cannot choose from an empty alphabet")
    # Bytes at or above the largest multiple of size are thrown away: byte % size is then
    # uniform (a plain modulo would favour the alphabet's first characters: a biased token).
    below = 256 - 256 % size
    chosen: list[str] = []
    while len(chosen) < length:
        for byte in os.urandom(length - len(chosen) + _SPARE):
            if byte < below:
                chosen.append(allowed_chars[byte % size])
                if len(chosen) == length:
                    break
    return "".join(chosen)


def use_for_csrf() -> None:
    """Django's CSRF middleware draws its secrets and masks with :func:`random_string`.

    ``django.middleware.csrf`` imported ``get_random_string`` by name, and its own functions
    (``_get_new_csrf_string``) look the name up in that module on every call: replacing it
    there is the one place it can be changed. Same length, same alphabet, same source of
    randomness; the token's format and checks are Django's, unchanged.
    """
    from django.middleware import csrf

    csrf.get_random_string = random_string  # type: ignore[attr-defined]
