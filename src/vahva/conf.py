"""The one ``VAHVA`` settings object: typed, validated at start-up, read lazily.

Modelled on django-oauth-toolkit's ``oauth2_settings``: a dictionary ``VAHVA`` in Django's
settings overrides the defaults of :class:`vahva.conf_schema.VahvaSettings`; an unknown key or
a value of the wrong type is an error at start-up naming the key, not a silent default.
``settings.PUSH_TTL`` is an ``int`` to mypy, ``settings.PHONE_LIMITS["ip"]`` too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

    from vahva.conf_schema import VahvaSettings

    #: Every setting's default (Django's ``VAHVA`` overrides them).
    DEFAULTS: dict[str, Any]

__all__ = [
    "DEFAULTS",
    "SECRET_SETTINGS",
    "VahvaSettings",
    "current",
    "explain",
    "parse",
    "reason",
    "settings",
    "validate",
]

#: Settings whose values an error message never repeats (they end up in logs).
SECRET_SETTINGS = frozenset({"ENCRYPTION_KEYS", "METRICS_TOKEN", "TWILIO", "DIRECTORY"})

_REASONS = {
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a table",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "missing": "is missing",
}


def reason(error: ErrorDetails, *, secret: bool) -> str:
    """What is wrong with the value, in the words of the old hand-written checks."""
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "greater_than_equal":
        text = f"must be >= {ctx['ge']}"
    elif kind == "greater_than":
        text = f"must be > {ctx['gt']}"
    elif kind == "literal_error":
        text = f"must be {ctx['expected']}"
    elif kind in ("too_short", "string_too_short"):
        text = "must not be empty"
    else:
        text = _REASONS.get(kind, error["msg"][:1].lower() + error["msg"][1:])
    if kind == "greater_than_equal" and isinstance(error["input"], int):
        text = text.replace("must be", "must be a whole number")
    return text if secret else f"{text}, not {error['input']!r}"


def key_name(loc: Sequence[int | str]) -> str:
    """``VAHVA['THROTTLE_MFA_ACCOUNT']['base']`` for the error location."""
    return "VAHVA" + "".join(f"[{part!r}]" for part in loc)


def explain(errors: Sequence[ErrorDetails], *, origin: Callable[[str], str] | None = None) -> str:
    """One message for all of a validation's errors, each naming its key.

    ``origin(top_level_key)`` may say where a value came from ("VAHVA_PUSH_TTL", a file).
    """
    unknown = sorted(
        str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden" and len(e["loc"]) == 1
    )
    lines = []
    if unknown:
        known = ", ".join(_schema().model_fields)
        lines.append(f"Unknown VAHVA setting(s): {', '.join(unknown)}. Known: {known}")
    for error in errors:
        loc = error["loc"]
        if len(loc) == 1 and error["type"] == "extra_forbidden":
            continue
        where = f" ({origin(str(loc[0]))})" if origin and loc else ""
        if not loc:
            lines.append(reason(error, secret=True))
        elif error["type"] == "extra_forbidden":
            lines.append(f"{key_name(loc)}{where} is not a known key")
        else:
            secret = str(loc[0]) in SECRET_SETTINGS
            lines.append(f"{key_name(loc)}{where} {reason(error, secret=secret)}")
    return "; ".join(lines)


def parse(overrides: Mapping[str, Any]) -> VahvaSettings:
    """The settings with ``overrides`` applied; ImproperlyConfigured naming each bad key."""
    from pydantic import ValidationError

    try:
        return _schema().model_validate(overrides)
    except ValidationError as exc:
        raise ImproperlyConfigured(explain(exc.errors())) from None


def validate(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """DEFAULTS updated with ``overrides`` as a dict; raise on unknown keys or bad values."""
    return parse(overrides).model_dump()


def _schema() -> type[VahvaSettings]:
    # Imported when first needed, not with this module: `vahva serve`'s spawned workers import
    # it (through vahva.cli) before they can answer the supervisor's 5-second health check.
    from vahva.conf_schema import VahvaSettings

    return VahvaSettings


def __getattr__(name: str) -> Any:
    if name == "VahvaSettings":
        return _schema()
    if name == "DEFAULTS":
        defaults = _schema()().model_dump()
        globals()["DEFAULTS"] = defaults
        return defaults
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Lazy:
    """Attribute access to the validated ``VAHVA`` dictionary, read when first used."""

    def __init__(self) -> None:
        self._cache: VahvaSettings | None = None

    def _values(self) -> VahvaSettings:
        if self._cache is None:
            self._cache = parse(getattr(django_settings, "VAHVA", {}))
        return self._cache

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in _schema().model_fields:
            raise AttributeError(f"No VAHVA setting {name!r}")
        return getattr(self._values(), name)

    def reload(self) -> None:
        self._cache = None


_lazy = _Lazy()
#: The settings, typed as the schema: ``settings.PUSH_TTL`` is an int to mypy. The object
#: reads Django's ``VAHVA`` on first use and again after a test overrides it.
settings = cast("VahvaSettings", _lazy)


def current() -> VahvaSettings:
    """The validated settings object itself (to pass around or to dump)."""
    return _lazy._values()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "VAHVA":
        _lazy.reload()


setting_changed.connect(_reload)
