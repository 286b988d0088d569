"""``{% feedback_form as form %}``: the form a page passed as ``feedback_form``, or a new one.

The help page includes the form without a view of this room building it.
"""

from __future__ import annotations

from typing import Any

from django import template

from vahva.feedback.forms import FeedbackForm

register = template.Library()


@register.simple_tag(takes_context=True)
def feedback_form(context: template.Context) -> Any:
    return context.get("feedback_form") or FeedbackForm()
