"""``{% memoise %}``: a part of a page that is the same for everyone, rendered once per key.

Most of ``web/base.html`` (the head's links, the skip link, the brand, the language list, the
footer) depends only on the active language and the deployment's settings, yet Django renders
it again on every page: translations, ``{% url %}`` reversals, ``{% static %}``, a loop over
every language. ``{% memoise key ... %}...{% endmemoise %}`` renders its content the first
time for a key and returns the same text afterwards.

The key is always the active language, the script prefix (``reverse`` depends on it), the
URL conf and the autoescape flag, plus the values the tag names (``organisation_name``).
Whatever else the content shows must be the same for every request: nothing from the
request, the person, the session or the CSRF token. ``{% csrf_token %}``, ``{% block %}``,
``{% include %}`` and ``{{ csrf_token }}``, ``{{ request... }}``, ``{{ user... }}``,
``{{ perms... }}``, ``{{ messages }}`` inside are refused when the template is parsed. The
memo is bounded per tag (``MEMO_LIMIT`` keys) and emptied whenever a setting changes (tests'
``override_settings``).
"""

from __future__ import annotations

import re
import weakref
from typing import Any

from django import template
from django.core.signals import setting_changed
from django.template.base import (
    FilterExpression,
    Node,
    NodeList,
    Parser,
    Token,
    Variable,
    VariableNode,
)
from django.template.context import Context
from django.template.defaulttags import CsrfTokenNode
from django.template.loader_tags import BlockNode, IncludeNode
from django.urls import get_script_prefix, get_urlconf
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

#: Keys kept per ``{% memoise %}`` tag: languages times the few values a key names.
MEMO_LIMIT = 64

#: Every memoising node, so that a changed setting can empty them all (weak: a template
#: compiled from a string and dropped takes its node with it).
_NODES: weakref.WeakSet[MemoiseNode] = weakref.WeakSet()

#: The render context's key for (script prefix, URL conf), read once per render.
_WHERE = "vahva.chrome.where"

#: Nodes that may never be inside a memoised part, and why.
_REFUSED: dict[type[Node], str] = {
    # One person's CSRF token shown to everyone, with the same mask on every page (BREACH).
    CsrfTokenNode: "{% csrf_token %}",
    # A block is the page's own content: a child template's block memoised as the first
    # page's would show on every other page.
    BlockNode: "{% block %}",
    # An included template is not seen here: it could hold any of the above.
    IncludeNode: "{% include %}",
}

#: Context names that belong to one request, refused as ``{{ name... }}`` inside.
_PERSONAL = frozenset({"csrf_token", "request", "user", "perms", "messages"})


class MemoiseNode(Node):
    #: Not walked by ``get_nodes_by_type`` (``{% extends %}`` looks for the parent's blocks on
    #: every render): there is no block inside, the parser refused one.
    child_nodelists = ()

    def __init__(self, nodelist: NodeList, keys: list[FilterExpression]) -> None:
        self.nodelist = nodelist
        self.keys = keys
        self.memo: dict[tuple[Any, ...], SafeString] = {}
        _NODES.add(self)

    def render(self, context: Context) -> SafeString:
        # The request's script prefix and URL conf do not change within one render: read once.
        where = context.render_context.get(_WHERE)
        if where is None:
            where = context.render_context[_WHERE] = (get_script_prefix(), get_urlconf())
        key = (
            translation.get_language(),  # not once: {% language %} may change it in a render
            *where,
            context.autoescape,
            *(str(expression.resolve(context)) for expression in self.keys),
        )
        rendered = self.memo.get(key)
        if rendered is None:
            rendered = mark_safe(self.nodelist.render(context))  # noqa: S308  (rendered by the template)
            if len(self.memo) >= MEMO_LIMIT:
                self.memo.clear()  # bounded: a flood of keys cannot grow it without end
            self.memo[key] = rendered
        return rendered


@register.tag
def memoise(parser: Parser, token: Token) -> MemoiseNode:
    """``{% memoise organisation_name %}...{% endmemoise %}``; the names are the key."""
    keys = [parser.compile_filter(bit) for bit in token.split_contents()[1:]]
    nodelist = parser.parse(("endmemoise",))
    parser.delete_first_token()
    for refused, name in _REFUSED.items():
        if nodelist.get_nodes_by_type(refused):
            raise template.TemplateSyntaxError(f"{name} cannot be inside {{% memoise %}}")
    for node in nodelist.get_nodes_by_type(VariableNode):
        if not isinstance(node, VariableNode):  # for the type checker: it is one
            continue
        variable = node.filter_expression.var
        if isinstance(variable, Variable) and str(variable.var).split(".")[0] in _PERSONAL:
            # One request's value (its token, its path, its person) kept for everyone.
            raise template.TemplateSyntaxError(
                f"{{{{ {variable.var} }}}} cannot be inside {{% memoise %}}: it is the request's"
            )
    return MemoiseNode(nodelist, keys)


def forget(**_kwargs: object) -> None:
    """Empty every memo (a setting changed: the organisation's name, STATIC_URL, LANGUAGES)."""
    for node in list(_NODES):
        node.memo.clear()


setting_changed.connect(forget)


_MEMOISE_TAG = re.compile(r"{%\s*(?:memoise(?:\s[^%]*)?|endmemoise)\s*%}")
_FIELD_TAG = re.compile(r"{%\s*field\s+([\w.]+)\s*%}")


def plain_source(source: str) -> str:
    """A template's source without ``{% memoise %}`` and with ``{% field %}`` as an include.

    What the page was before these tags: the reference the tests compare the memoised page
    with, byte for byte (tests/web/), and the "before" of ``bench/templates.py --plain``.
    """
    source = _MEMOISE_TAG.sub("", source)
    return _FIELD_TAG.sub(r'{% include "web/_field.html" with field=\1 %}', source)
