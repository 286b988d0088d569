"""The wizard's steps: which methods "Keep your account secure" asks for, in order.

Each step names a tab ("App", "Phone") and the method kinds that satisfy it. A step whose
methods are not installed is left out, so the wizard grows as methods arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from vahva.methods import registry


@dataclass(frozen=True)
class Step:
    slug: str
    tab: str | Promise
    kinds: tuple[str, ...]
    #: The kind the step's own page enrols (the others are reached by "different method").
    primary: str


# The App step leads with the vahva app; "I want to use a different authenticator app" (TOTP)
# satisfies it too.
# The Phone step: a number, then "Text me a code" (SMS) or "Call me" (press #).
STEPS = (
    Step("app", _("App"), ("app_push", "totp"), "app_push"),
    Step("phone", _("Phone"), ("sms", "voice"), "sms"),
)


def steps() -> list[Step]:
    installed = {m.kind for m in registry.all_methods()}
    return [s for s in STEPS if s.primary in installed]


def next_step(done_kinds: set[str]) -> tuple[int, Step] | None:
    """The first step (1-based index) the person has not satisfied yet, or None."""
    for index, step in enumerate(steps(), start=1):
        if not done_kinds.intersection(step.kinds):
            return index, step
    return None
