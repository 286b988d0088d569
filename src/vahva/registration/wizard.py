"""The wizard's steps: which methods "Keep your account secure" asks for, in order.

Each method says where it stands (:class:`vahva.methods.base.WizardStep`): a step is led by
one method (its intro page, its tab's name) and satisfied by any method with the same slug.
A step without an installed lead is left out, so the wizard grows as methods arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise

from vahva.methods import registry


@dataclass(frozen=True)
class Step:
    slug: str
    tab: str | Promise
    kinds: tuple[str, ...]
    #: The kind the step's own page enrols (the others are reached by "different method").
    primary: str
    #: The step's intro page, the lead method's.
    template: str


def steps() -> list[Step]:
    """The steps, in the order their lead methods are installed."""
    installed = registry.all_methods()
    found = []
    for lead in installed:
        if lead.wizard is None or not lead.wizard.lead:
            continue
        slug = lead.wizard.slug
        kinds = tuple(m.kind for m in installed if m.wizard is not None and m.wizard.slug == slug)
        found.append(Step(slug, lead.wizard.tab, kinds, lead.kind, lead.wizard.template))
    return found


def next_step(done_kinds: set[str]) -> tuple[int, Step] | None:
    """The first step (1-based index) the person has not satisfied yet, or None."""
    for index, step in enumerate(steps(), start=1):
        if not done_kinds.intersection(step.kinds):
            return index, step
    return None
