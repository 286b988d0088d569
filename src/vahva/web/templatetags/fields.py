"""``{% field form.email %}``: a form field as web/_field.html writes it, without the engine."""

from __future__ import annotations

from django import template
from django.forms.boundfield import BoundField
from django.utils.safestring import SafeString

from vahva.web.widgets import field_group

register = template.Library()


@register.simple_tag
def field(bound: BoundField) -> SafeString:
    """The same HTML as ``{% include "web/_field.html" with field=bound %}``."""
    return field_group(bound)
