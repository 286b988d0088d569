"""The value types of the ``VAHVA`` settings schema (:mod:`vahva.conf_schema`).

Scalars are strict: ``"60"`` is not a number of seconds and ``1`` is not ``true``, so a value
that only looks right in the TOML file is an error at start-up. Lists may be given as TOML
arrays or Python lists; they are kept as tuples. Each table is a ``TypedDict`` that rejects
unknown keys, so callers keep reading ``settings.PHONE_LIMITS["number"]``, typed.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, with_config
from typing_extensions import TypedDict

#: A whole number >= 0 (seconds, days or counts where 0 means "none" or "at once").
Count = Annotated[int, Field(strict=True, ge=0)]
#: A whole number >= 1 (lifetimes and limits where 0 would lock everyone out).
Positive = Annotated[int, Field(strict=True, ge=1)]
#: true or false, nothing that merely looks like it ("yes", 1).
Flag = Annotated[bool, Field(strict=True)]
Text = Annotated[str, Field(strict=True)]
Name = Annotated[str, Field(strict=True, min_length=1)]
#: A positive number of seconds that may have a fraction.
Seconds = Annotated[float, Field(strict=True, gt=0)]


def _dotted_path(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", value):
        raise ValueError(f"must be a dotted path such as 'package.module.Class', not {value!r}")
    return value


#: A class or function by its dotted path, imported when first needed.
DottedPath = Annotated[str, Field(strict=True), AfterValidator(_dotted_path)]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL with a host, not {value!r}")
    return value


def _optional_http_url(value: str) -> str:
    return _http_url(value) if value else value


#: An absolute http(s) URL.
HttpUrl = Annotated[str, Field(strict=True), AfterValidator(_http_url)]
#: An absolute http(s) URL, or empty for "the default".
OptionalHttpUrl = Annotated[str, Field(strict=True), AfterValidator(_optional_http_url)]


def _contact(value: str) -> str:
    # RFC 8292 §2.1: push services contact the sender through "sub", a mailto: or https: URL.
    if value and not value.startswith(("mailto:", "https://")):
        raise ValueError(f"must be a mailto: or https: URL, or empty, not {value!r}")
    return value


Contact = Annotated[str, Field(strict=True), AfterValidator(_contact)]


def _region(value: str) -> str:
    import phonenumbers

    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"must be a region code such as 'FI', not {value!r}")
    return value


#: An ISO 3166 region code phone numbers can be in ("FI").
Region = Annotated[str, Field(strict=True), AfterValidator(_region)]


def _some(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("must name at least one region code")
    return value


#: The region codes phone numbers may be in, at least one.
Regions = Annotated[tuple[Region, ...], AfterValidator(_some)]


def _aes_keys(value: dict[str, str]) -> dict[str, str]:
    for key_id, key in value.items():
        try:
            raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        except (binascii.Error, ValueError):
            raise ValueError(f"key {key_id!r} is not base64") from None
        if len(raw) != 32:
            raise ValueError(f"key {key_id!r} must be 32 bytes (AES-256), not {len(raw)}")
    return value


#: {key id: base64 of 32 random bytes}: AES-256-GCM keys for secrets at rest.
AesKeys = Annotated[dict[Name, Text], AfterValidator(_aes_keys)]


def _networks(value: Any) -> Any:
    # Lazily: the parser is a pure function of the shared core; settings import nothing else.
    from vahva.networks import parse_networks

    if not isinstance(value, Mapping):
        raise ValueError("must map names to lists of CIDR blocks")
    try:
        parse_networks(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
    return value


#: {"Campus": ("130.233.0.0/16", "2001:708::/32")}: named, non-overlapping CIDR blocks.
Networks = Annotated[dict[Text, tuple[Text, ...]], BeforeValidator(_networks)]


def _proxies(value: Any) -> Any:
    from vahva.networks import parse_proxies

    try:
        parse_proxies(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
    return value


#: Addresses or CIDR blocks.
Proxies = Annotated[tuple[Text, ...], BeforeValidator(_proxies)]


def _directory(value: Any) -> Any:
    # Lazily: the table's schema is the directory room's (vahva.directory.config).
    from vahva.directory.config import parse

    try:
        parse(value)
    except ImproperlyConfigured as exc:
        raise ValueError(str(exc)) from None
    return value


#: The [vahva.directory] table, checked by vahva.directory.config.parse (which types it).
Directory = Annotated[dict[str, Any], BeforeValidator(_directory)]

#: The roles a SCIM group may give.
ScimRole = Literal["helpdesk", "admin"]


@with_config(ConfigDict(extra="forbid"))
class Throttle(TypedDict):
    """`free` tries, then `base` seconds doubling up to `cap`; see signin.throttle.Rule."""

    free: Count
    base: Seconds
    cap: Seconds
    #: Consecutive failures that lock the key until a success (None: never).
    limit: Positive | None
    #: Seconds after which failures no longer count (None: never).
    forget: Positive | None


@with_config(ConfigDict(extra="forbid"))
class PhoneLimits(TypedDict):
    """Texts and calls per hour per number, person, client address and country."""

    number: Positive
    person: Positive
    ip: Positive
    country: Positive


@with_config(ConfigDict(extra="forbid"))
class Twilio(TypedDict):
    """The Twilio gateway's account; empty strings are "not configured" / "the default"."""

    account_sid: Text
    auth_token: Text
    from_number: Text
    webhook_base: OptionalHttpUrl
    api_base: OptionalHttpUrl
