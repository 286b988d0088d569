"""System checks: bad configuration is reported at start-up, not discovered in production.

``vahva check`` (and ``vahva serve``, before it starts) runs the checks that say a
configuration cannot work; ``vahva check --deploy`` adds the ones that say it is unsafe or
unfit for production (DESIGN.md §8), beside Django's own ``security.*`` checks (DEBUG,
cookies, a short SECRET_KEY...). Errors make the command fail; warnings are printed.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.http.request import validate_host

from vahva.conf import VahvaSettings, parse

#: SHA-256 of keys published with vahva itself: whoever has the source has them. The test
#: settings' secret key, and their encryption key (its 32 bytes).
PUBLISHED_KEYS = frozenset(
    {
        "a1c101d9e1dc1e8cbcdf7a4617dd4b08e4cd9efa9940b005370edb91b58bc792",
        "7a583bf7a9aede1f23de2bbc8cc084ff58c0898fa02f81032e1d1c8165939f91",
    }
)
#: Fewer different characters than this in a secret, or different bytes in a 32-byte key,
#: and it was not drawn at random (a random one has about 30 and 40).
MIN_DISTINCT = 16
SQLITE = "django.db.backends.sqlite3"


def fingerprint(secret: str | bytes) -> str:
    raw = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha256(raw).hexdigest()


def _values() -> VahvaSettings | None:
    try:
        return parse(getattr(django_settings, "VAHVA", {}))
    except ImproperlyConfigured:
        return None  # vahva.E001 says why


@register()
def check_vahva_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        values = parse(getattr(django_settings, "VAHVA", {}))
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="vahva.E001")]
    problems: list[CheckMessage] = []
    if not values.ENCRYPTION_KEYS:
        problems.append(
            Error(
                "VAHVA['ENCRYPTION_KEYS'] is empty: secrets at rest cannot be encrypted.",
                hint="Run `vahva init` to write a configuration with fresh keys.",
                id="vahva.E002",
            )
        )
    if not values.PUBLIC_URL.startswith(("https://", "http://localhost", "http://127.0.0.1")):
        problems.append(
            Warning(
                "VAHVA['PUBLIC_URL'] is not https: the vahva app and QR links need a "
                "secure origin.",
                id="vahva.W001",
            )
        )
    return problems


@register()
def check_workers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Several worker processes need Redis: each has its own in-process event bus."""
    workers = int(getattr(django_settings, "SERVE_WORKERS", 1))
    if workers > 1 and not getattr(django_settings, "REDIS_URL", ""):
        return [
            Error(
                f"{workers} workers without Redis: each worker process wakes only its own "
                "waiting sign-ins, so a push approved through one worker would reach a browser "
                "waiting on another only when the push expires.",
                hint="Set redis_url (or REDIS_URL) to redis://host:6379/0, or run one worker.",
                id="vahva.E003",
            )
        ]
    return []


def database_checks(*, engine: str, workers: int, redis_url: str) -> list[CheckMessage]:
    """What the database engine means for ``workers`` processes (and several nodes)."""
    if engine != SQLITE:
        return []
    problems: list[CheckMessage] = []
    if workers > 1:
        problems.append(
            Warning(
                f"The database is a SQLite file and vahva runs {workers} workers: they take "
                "turns to write, so sign-ins wait on each other at busy times.",
                hint="Use PostgreSQL: database_url = postgres://user:password@host/vahva.",
                id="vahva.W010",
            )
        )
    if redis_url:
        problems.append(
            Warning(
                "Redis is set, which is for several nodes, but the database is a SQLite file: "
                "nodes on other hosts cannot share it.",
                hint="Use PostgreSQL: database_url = postgres://user:password@host/vahva.",
                id="vahva.W011",
            )
        )
    return problems


def _key_checks(values: VahvaSettings) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    secret = str(django_settings.SECRET_KEY)
    if fingerprint(secret) in PUBLISHED_KEYS or len(set(secret)) < MIN_DISTINCT:
        # Whoever knows it can forge sessions (sign in as anyone) and password-reset tokens.
        problems.append(
            Error(
                "secret_key is a published or made-up value, not a random one.",
                hint="Generate one: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
                id="vahva.E010",
            )
        )
    for key_id, key in values.ENCRYPTION_KEYS.items():
        raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        if fingerprint(raw) in PUBLISHED_KEYS or len(set(raw)) < MIN_DISTINCT:
            # Secrets at rest (TOTP seeds...) would be readable by whoever has a database copy.
            problems.append(
                Error(
                    f"VAHVA['ENCRYPTION_KEYS'][{key_id!r}] is a published or made-up key, "
                    "not 32 random bytes.",
                    hint="Add a new key with `python -c 'import vahva.crypto as c; "
                    "print(c.new_key())'`, point encryption_key_id at it and run "
                    "`vahva rotate-keys` (docs/deploy.md, Key rotation).",
                    id="vahva.E011",
                )
            )
    return problems


def _phone_checks() -> list[CheckMessage]:
    from vahva.gateways import dev

    if dev.enabled():
        # Anyone who opens /dev/phone reads every code texted to anyone.
        return [
            Error(
                "The dev phone is on: /dev/phone shows every texted code and rings every "
                "call, to anyone who opens it.",
                hint="Set dev_phone = false and VAHVA['PHONE_GATEWAY'] to a real gateway.",
                id="vahva.E012",
            )
        ]
    return []


def _url_checks(values: VahvaSettings) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    public_url = values.PUBLIC_URL
    parts = urlsplit(public_url)
    if parts.scheme != "https":
        problems.append(
            Error(
                f"VAHVA['PUBLIC_URL'] {public_url!r} is not https: passwords and codes would "
                "cross the network in the clear, and phones refuse the vahva app.",
                hint="Serve vahva behind a reverse proxy with TLS (docs/deploy.md) and set "
                "public_url = https://...",
                id="vahva.E013",
            )
        )
    elif not values.TRUSTED_PROXIES:
        # vahva serves plain http: an https public URL means a proxy in front, and without it
        # in TRUSTED_PROXIES every request seems to come from the proxy's address.
        problems.append(
            Warning(
                "VAHVA['PUBLIC_URL'] is https, so a reverse proxy is in front of vahva, but "
                "VAHVA['TRUSTED_PROXIES'] is empty: every request seems to come from the "
                "proxy, so limits per address hold everyone back together and trusted "
                "networks never match.",
                hint='Set trusted_proxies = ["<the proxy\'s address>"] (docs/deploy.md).',
                id="vahva.W012",
            )
        )
    host = (parts.hostname or "").lower()
    if host and not validate_host(host, list(django_settings.ALLOWED_HOSTS)):
        problems.append(
            Error(
                f"The public URL's host {host!r} is not in allowed_hosts: every request "
                "through it would be refused.",
                hint=f'allowed_hosts = ["{host}"]',
                id="vahva.E014",
            )
        )
    if "*" in django_settings.ALLOWED_HOSTS:
        # A forged Host header would end up in the absolute links vahva builds.
        problems.append(
            Warning(
                'allowed_hosts contains "*": any Host header is accepted.',
                hint="List the public host name only.",
                id="vahva.W013",
            )
        )
    return problems


def _proxy_checks(values: VahvaSettings) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    for block in values.TRUSTED_PROXIES:
        network = ipaddress.ip_network(block, strict=False)
        if network.prefixlen == 0 or (not network.is_private and network.num_addresses > 256):
            # Anyone in that range could choose the address vahva sees (spoofing the campus
            # network to skip MFA, or someone else's address to get them throttled).
            problems.append(
                Error(
                    f"VAHVA['TRUSTED_PROXIES'] contains {block!r}: the X-Forwarded-For of "
                    "anyone in it is believed.",
                    hint="List only the reverse proxies' own addresses.",
                    id="vahva.E015",
                )
            )
    if values.PUSH_ALLOW_PRIVATE_ENDPOINTS:
        # SSRF: a device could register a "push endpoint" on the internal network.
        problems.append(
            Error(
                "VAHVA['PUSH_ALLOW_PRIVATE_ENDPOINTS'] is on: a device may have the server "
                "send requests to private addresses.",
                hint="Turn it off; it is for tests with a local push receiver.",
                id="vahva.E016",
            )
        )
    return problems


@register(deploy=True)
def check_deployment(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``vahva check --deploy``: what is unsafe or unfit for production."""
    values = _values()
    if values is None:
        return []
    return [
        *_key_checks(values),
        *_phone_checks(),
        *_url_checks(values),
        *_proxy_checks(values),
        *database_checks(
            engine=str(django_settings.DATABASES["default"]["ENGINE"]),
            workers=int(getattr(django_settings, "SERVE_WORKERS", 1)),
            redis_url=str(getattr(django_settings, "REDIS_URL", "")),
        ),
    ]
