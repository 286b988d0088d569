"""Which sign-in methods a deployment installs: dotted paths, like ``AUTHENTICATION_BACKENDS``.

Read by the settings module before Django starts (so it imports nothing of Django's): a
method that lives in its own package with an ``apps.py`` (its models, migrations, templates)
is a Django app, added to ``INSTALLED_APPS`` from here, so installing a method is one line.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

#: The built-in methods, in the order "Add method" lists them.
BUILTIN = (
    "vahva.methods.app_push.AppPushMethod",
    "vahva.methods.totp.TotpMethod",
    "vahva.methods.hardware_token.method.HardwareTokenMethod",
    "vahva.methods.sms.SmsMethod",
    "vahva.methods.voice.VoiceMethod",
    "vahva.methods.webauthn.WebAuthnMethod",
    "vahva.methods.recovery_codes.method.RecoveryCodesMethod",
    "vahva.methods.tap.TemporaryPassMethod",
)


def apps_of(paths: tuple[str, ...] | list[str]) -> list[str]:
    """The Django apps the methods at ``paths`` bring: each package (above the class's module)
    that has an ``apps.py``, once each, in order."""
    found: list[str] = []
    for path in paths:
        parts = path.split(".")[:-1]
        # vahva.methods.hardware_token.method.X → try vahva.methods.hardware_token.method,
        # then vahva.methods.hardware_token (stopping at vahva.methods, the core's own app).
        # Only packages' __init__ files are imported: models cannot be, before Django starts.
        while parts and ".".join(parts) not in ("vahva", "vahva.methods"):
            package = ".".join(parts)
            if package not in found and _has_apps(package):
                found.append(package)
                break
            parts.pop()
    return found


def _has_apps(package: str) -> bool:
    try:
        spec = find_spec(package)
    except ImportError:
        return False  # the registry's system check names the path that does not import
    locations = (spec.submodule_search_locations or []) if spec is not None else []
    return any((Path(location) / "apps.py").is_file() for location in locations)
