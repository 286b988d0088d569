"""``{% field %}`` (vahva.web.widgets.field_group) writes what web/_field.html writes."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe

from vahva.signin.forms import CodeForm, EnrolCredentialForm, PasswordForm
from vahva.web.widgets import field_group

HOSTILE = '"><script>alert(1)</script>&<'


class Odd(forms.Form):
    """Everything the include shows: help text, several errors, text to escape."""

    plain = forms.CharField(label="A <b>label</b> & more", help_text=HOSTILE)
    safe = forms.CharField(label=mark_safe("<em>Safe</em>"), help_text=mark_safe("<i>ok</i>"))
    choice = forms.ChoiceField(choices=[("a", "A & a"), ("b", HOSTILE)])

    def clean_plain(self) -> str:
        raise ValidationError([f"first {HOSTILE}", "second"])


CASES: list[tuple[type[forms.Form], Any, dict[str, Any]]] = [
    (PasswordForm, None, {}),
    (PasswordForm, {"email": HOSTILE, "password": ""}, {}),  # sent back with errors
    (PasswordForm, {"email": "a@example.org", "password": "x"}, {}),
    (CodeForm, None, {}),
    (CodeForm, {"code": "12 <34>"}, {}),
    (CodeForm, {"code": ""}, {"auto_id": "x_%s"}),
    (EnrolCredentialForm, None, {}),
    (Odd, None, {}),
    (Odd, {"plain": "v", "safe": "", "choice": "c"}, {}),
    (Odd, {"plain": HOSTILE}, {"auto_id": False}),  # no ids at all
]


@pytest.mark.parametrize(("form_class", "data", "options"), CASES)
@pytest.mark.parametrize("language", ["en", "fi"])
def test_field_group_is_the_include(
    form_class: type[forms.Form], data: Any, options: dict[str, Any], language: str
) -> None:
    with translation.override(language):
        form = form_class(data, **options)
        if data is not None:
            form.is_valid()
        for bound in form:
            expected = render_to_string("web/_field.html", {"field": bound})
            assert field_group(bound) == expected, bound.name


def test_a_value_in_an_error_cannot_add_markup() -> None:
    # An error message quoting what the browser sent (reflected XSS).
    form = Odd({"plain": "x"})
    form.is_valid()
    html = field_group(form["plain"])
    assert "<script>" not in html
    assert "first &quot;&gt;&lt;script&gt;" in html
