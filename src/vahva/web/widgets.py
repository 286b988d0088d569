"""``<input>`` widgets that write their tag directly instead of through a template.

Django renders each widget through the form renderer's template engine
(``django/forms/widgets/input.html`` and ``attrs.html``): a template context, a loop over the
attributes and two template look-ups for one tag, about half a millisecond of CPU per field on
the busiest pages (the sign-in form, the code form). These widgets write the same tag,
character for character (tests/test_widgets.py compares them with Django's), escaping
every name and value as the template's autoescape does: a value the browser sent back (the
e-mail address on a form with an error) cannot close the attribute and add markup (XSS).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.renderers import BaseRenderer
from django.forms.widgets import Input
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe


def input_tag(widget: dict[str, Any]) -> SafeString:
    """``<input ...>`` for a widget's template context, as Django's input.html writes it."""
    parts = [
        '<input type="',
        conditional_escape(widget["type"]),
        '" name="',
        conditional_escape(widget["name"]),
        '"',
    ]
    if widget["value"] is not None:
        parts += [' value="', conditional_escape(str(widget["value"])), '"']
    for name, value in widget["attrs"].items():
        # attrs.html: False leaves the attribute out, True writes its name alone.
        if value is False:
            continue
        parts += [" ", conditional_escape(name)]
        if value is not True:
            parts += ['="', conditional_escape(str(value)), '"']
    parts.append(">")
    return mark_safe("".join(parts))  # noqa: S308  (every part above is escaped)


class DirectInput(Input):
    """An ``Input`` whose ``render`` writes the tag without the template engine."""

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        return input_tag(self.get_context(name, value, attrs)["widget"])


class EmailInput(DirectInput, forms.EmailInput):
    pass


class PasswordInput(DirectInput, forms.PasswordInput):
    pass


class TextInput(DirectInput, forms.TextInput):
    pass


class HiddenInput(DirectInput, forms.HiddenInput):
    pass
