"""Which methods exist. The engine looks methods up here by their ``kind``.

The list comes from the ``VAHVA_METHODS`` setting (dotted paths, :mod:`.installed`); a path
that does not import, is not a :class:`Method` or repeats a kind is a system check error
(``vahva check``), so a typo stops the start instead of silently dropping a method.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.utils.module_loading import import_string

from .base import HELD_CODES, Method, Role
from .installed import BUILTIN

_methods: dict[str, Method] = {}
_problems: list[str] = []


def configured() -> tuple[str, ...]:
    return tuple(getattr(settings, "VAHVA_METHODS", BUILTIN))


def load(paths: tuple[str, ...] | None = None) -> None:
    _methods.clear()
    _problems.clear()
    for path in configured() if paths is None else paths:
        try:
            found = import_string(path)
        except ImportError as exc:
            _problems.append(f"VAHVA_METHODS: {path!r} cannot be imported ({exc}).")
            continue
        if not (isinstance(found, type) and issubclass(found, Method)):
            _problems.append(f"VAHVA_METHODS: {path!r} is not a sign-in method class.")
            continue
        method: Method = found()
        if method.kind in _methods:
            _problems.append(f"VAHVA_METHODS: {path!r} repeats the kind {method.kind!r}.")
            continue
        _methods[method.kind] = method


@register()
def check_methods(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A method that could not be installed is an error naming its path."""
    found: list[CheckMessage] = [Error(text, id="vahva.E300") for text in _problems]
    if not any(m.role is Role.METHOD for m in _methods.values()):
        found.append(
            Error("VAHVA_METHODS installs no method a person can register.", id="vahva.E301")
        )
    return found


def get(kind: str) -> Method:
    """The method for ``kind``; KeyError for an unknown kind (a form must check first)."""
    return _methods[kind]


def all_methods() -> list[Method]:
    return list(_methods.values())


def enrolable() -> list[Method]:
    return [m for m in _methods.values() if m.available()]


def passwordless() -> Method | None:
    """The method that signs people in without a password here, if one is on."""
    return next((m for m in _methods.values() if m.passwordless_enabled()), None)


def typed_code(kind: str) -> Method | None:
    """The method of ``kind`` when a protocol without a browser may check its codes."""
    method = _methods.get(kind)
    return method if method is not None and method.answer in HELD_CODES else None
