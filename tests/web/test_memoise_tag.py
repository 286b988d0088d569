"""``{% memoise %}``: what it keeps, by which key, and what it refuses to keep."""

from __future__ import annotations

import pytest
from django.template import Context, Engine, TemplateSyntaxError
from django.test import override_settings
from django.urls import set_script_prefix
from django.utils import translation

from vahva.web.templatetags import chrome

ENGINE = Engine(
    libraries={
        "chrome": "vahva.web.templatetags.chrome",
        "i18n": "django.templatetags.i18n",
    }
)


def render(source: str, **values: object) -> str:
    return ENGINE.from_string(source).render(Context(values))


def test_the_content_is_rendered_once_per_key() -> None:
    template = ENGINE.from_string(
        "{% load chrome %}{% memoise name %}{{ name }}{{ n }}{% endmemoise %}"
    )
    assert template.render(Context({"name": "A", "n": 1})) == "A1"
    # Same key: the first rendering comes back, whatever else the context holds (which is
    # why nothing but the key may vary inside).
    assert template.render(Context({"name": "A", "n": 2})) == "A1"
    assert template.render(Context({"name": "B", "n": 3})) == "B3"


def test_the_active_language_is_always_in_the_key() -> None:
    template = ENGINE.from_string(
        "{% load chrome i18n %}{% memoise %}{% get_current_language as L %}{{ L }}{% endmemoise %}"
    )
    with translation.override("en"):
        assert template.render(Context()) == "en"
    with translation.override("fi"):
        assert template.render(Context()) == "fi"
    with translation.override("en"):
        assert template.render(Context()) == "en"


def test_autoescape_is_in_the_key() -> None:
    template = ENGINE.from_string("{% load chrome %}{% memoise %}{{ v }}{% endmemoise %}")
    assert template.render(Context({"v": "<b>"}, autoescape=False)) == "<b>"
    assert template.render(Context({"v": "<b>"})) == "&lt;b&gt;"


def test_a_changed_setting_empties_the_memo() -> None:
    template = ENGINE.from_string("{% load chrome %}{% memoise %}{{ n }}{% endmemoise %}")
    assert template.render(Context({"n": 1})) == "1"
    with override_settings(STATIC_URL="/elsewhere/"):
        assert template.render(Context({"n": 2})) == "2"


def test_the_memo_is_bounded() -> None:
    template = ENGINE.from_string("{% load chrome %}{% memoise k %}{{ k }}{% endmemoise %}")
    for k in range(3 * chrome.MEMO_LIMIT):  # a flood of keys
        assert template.render(Context({"k": k})) == str(k)
    [node] = template.nodelist.get_nodes_by_type(chrome.MemoiseNode)
    assert 0 < len(node.memo) <= chrome.MEMO_LIMIT


@pytest.mark.parametrize(
    "inside",
    [
        # One person's CSRF token would be shown to everyone after them (CSRF).
        "{% csrf_token %}",
        # A child template's block, memoised as the first page's, on every other page.
        "{% block content %}{% endblock %}",
        "<p>{% if x %}{% csrf_token %}{% endif %}</p>",
        # What an included template holds is not seen when the tag is parsed.
        '{% include "web/_field.html" %}',
        # The request's own values: its token, its path, its person.
        "{{ csrf_token }}",
        '<input name="next" value="{{ request.get_full_path }}">',
        "{% if x %}{{ user.email|upper }}{% endif %}",
    ],
)
def test_what_belongs_to_one_request_cannot_be_memoised(inside: str) -> None:
    with pytest.raises(TemplateSyntaxError, match="cannot be inside"):
        render("{% load chrome %}{% memoise %}" + inside + "{% endmemoise %}")


def test_plain_source_takes_the_tags_out() -> None:
    source = (
        "{% memoise org %}<a>{% endmemoise %}{% field form.email %}{%memoise%}b{% endmemoise %}"
    )
    assert (
        chrome.plain_source(source) == '<a>{% include "web/_field.html" with field=form.email %}b'
    )


def test_the_script_prefix_is_in_the_key() -> None:
    # vahva served under a path (SCRIPT_NAME): the links of one prefix are not the other's.
    template = ENGINE.from_string("{% load chrome %}{% memoise %}{% url 'help' %}{% endmemoise %}")
    try:
        set_script_prefix("/sso/")
        assert template.render(Context()) == "/sso/help/"
        set_script_prefix("/")
        assert template.render(Context()) == "/help/"
    finally:
        set_script_prefix("/")
