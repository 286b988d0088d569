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
from django.forms.boundfield import BoundField
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


def _text(value: Any) -> str:
    """``{{ value }}`` as the template writes it: text, escaped unless already safe (XSS)."""
    return conditional_escape(value if isinstance(value, str) else str(value))


def field_group(field: BoundField) -> SafeString:
    """``{% include "web/_field.html" with field=field %}`` without the template engine.

    The label, the help text, the widget and the errors, character for character as
    ``web/_field.html`` writes them (tests/web/test_field_group.py compares the two); every
    text escaped as the template's autoescape does, so a label, a help text or an error
    message quoting what the browser sent cannot add markup (XSS).
    """
    errors = field.errors
    auto_id = _text(field.auto_id)
    parts = [
        '\n<div class="field',
        " invalid" if errors else "",
        '">\n  <label for="',
        _text(field.id_for_label),
        '">',
        _text(field.label),
        "</label>\n  ",
    ]
    if field.help_text:
        parts += ['<p class="help" id="', auto_id, '_helptext">', _text(field.help_text), "</p>"]
    parts += ["\n  ", _text(field), "\n  "]
    if errors:
        parts += ['<div id="', auto_id, '_error" role="alert">']
        for error in errors:
            parts += ['<p class="error">', _text(error), "</p>"]
        parts.append("</div>")
    parts.append("\n</div>\n")
    return mark_safe("".join(parts))  # noqa: S308  (every value above is escaped)
