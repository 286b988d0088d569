"""Which methods exist. The engine looks methods up here by their ``kind``."""

from __future__ import annotations

from django.utils.module_loading import import_string

from .base import Method

#: Dotted paths of the built-in methods, in the order "Add method" lists them.
BUILTIN = (
    "vahva.methods.app_push.AppPushMethod",
    "vahva.methods.totp.TotpMethod",
    "vahva.methods.sms.SmsMethod",
    "vahva.methods.voice.VoiceMethod",
    "vahva.methods.webauthn.WebAuthnMethod",
    "vahva.methods.recovery_codes.RecoveryCodesMethod",
    "vahva.methods.tap.TemporaryPassMethod",
)

_methods: dict[str, Method] = {}


def load(paths: tuple[str, ...] = BUILTIN) -> None:
    _methods.clear()
    for path in paths:
        method: Method = import_string(path)()
        _methods[method.kind] = method


def get(kind: str) -> Method:
    """The method for ``kind``; KeyError for an unknown kind (a form must check first)."""
    return _methods[kind]


def all_methods() -> list[Method]:
    return list(_methods.values())


def enrolable() -> list[Method]:
    return [m for m in _methods.values() if m.enrolable]
