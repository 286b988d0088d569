"""vahva.web.widgets write the same <input> tags as Django's widget templates, escaped alike."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms

from vahva.signin.forms import CodeForm, PasswordForm
from vahva.web import widgets

HOSTILE = '"><script>alert(1)</script>&<'


class Stock(forms.Form):
    email = forms.CharField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(widget=forms.PasswordInput(attrs={"data-x": HOSTILE}))
    code = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"size": 8, "hidden": False, "pattern": "[0-9]*"}),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class Direct(forms.Form):
    email = forms.CharField(
        max_length=254,
        widget=widgets.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(widget=widgets.PasswordInput(attrs={"data-x": HOSTILE}))
    code = forms.CharField(
        required=False,
        widget=widgets.TextInput(attrs={"size": 8, "hidden": False, "pattern": "[0-9]*"}),
    )
    next = forms.CharField(required=False, widget=widgets.HiddenInput)


CASES: list[Any] = [
    None,  # unbound: no values
    {"email": HOSTILE, "password": "secret", "code": "12 34", "next": "/a?b=1&c=<2>"},
    {"email": "", "password": "", "code": "", "next": ""},  # bound with errors: aria-invalid
]


@pytest.mark.parametrize("data", CASES)
def test_direct_widgets_write_what_djangos_templates_write(data: Any) -> None:
    stock, direct = Stock(data), Direct(data)
    if data is not None:
        stock.is_valid(), direct.is_valid()
    for name in ("email", "password", "code", "next"):
        assert str(direct[name]) == str(stock[name]), name


def test_a_value_sent_back_cannot_break_out_of_its_attribute() -> None:
    # The e-mail field on a form with an error shows what the browser sent (reflected XSS).
    form = PasswordForm({"email": HOSTILE, "password": ""})
    form.is_valid()
    html = str(form["email"])
    assert "<script>" not in html
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;&lt;"' in html


def test_the_sign_in_forms_render_as_before() -> None:
    assert str(PasswordForm()["email"]) == (
        '<input type="email" name="email" autocomplete="username" autofocus maxlength="254" '
        'required id="id_email">'
    )
    assert str(PasswordForm()["next"]) == '<input type="hidden" name="next" id="id_next">'
    assert str(CodeForm().letters()["code"]) == (
        '<input type="text" name="code" autocomplete="one-time-code" inputmode="text" autofocus '
        'size="8" maxlength="32" autocapitalize="characters" spellcheck="false" required '
        'id="id_code">'
    )
