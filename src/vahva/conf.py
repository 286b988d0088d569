"""The one ``VAHVA`` settings object: defaults, validation, lazy access.

Modelled on django-oauth-toolkit's ``oauth2_settings``: a dictionary ``VAHVA`` in Django's
settings overrides :data:`DEFAULTS`; an unknown key or a value of the wrong type is an
error at start-up, not a silent default.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Who runs this deployment; shown in the UI, in authenticator apps and in messages.
    "ORGANISATION_NAME": "vahva",
    "HELPDESK_EMAIL": "",
    "HELPDESK_PHONE": "",
    "HELPDESK_URL": "",
    # Where people reach this server; QR links and absolute URLs are built from it.
    "PUBLIC_URL": "http://localhost:8000",
    # AES-256-GCM keys for secrets at rest: {key id: base64 of 32 random bytes}.
    "ENCRYPTION_KEYS": {},
    # The key id new secrets are encrypted under; rotating = add a key, point this at it,
    # run `vahva rotate-keys`, then drop the old key.
    "ENCRYPTION_KEY_ID": "",
    # argon2id parameters (OWASP: 19 MiB, t=2, p=1); hashes are upgraded on sign-in.
    "ARGON2_TIME_COST": 2,
    "ARGON2_MEMORY_COST": 19456,
    "ARGON2_PARALLELISM": 1,
    # Seconds after registration before MFA is enforced (the seed's organisation: 2 hours).
    "ACTIVATION_DELAY": 0,
    # The registration campaign: a person without methods is asked to register at sign-in
    # and may answer "Not now" for REGISTRATION_SNOOZE_DAYS days, at most
    # REGISTRATION_MAX_SNOOZES times; after that registering is required (0: at once).
    "REGISTRATION_SNOOZE_DAYS": 1,
    "REGISTRATION_MAX_SNOOZES": 3,
    # "Don't ask again on this device for N days" after a multi-factor sign-in (0: not
    # offered). Changing the password, a fraud report or "sign out everywhere" forget them.
    "REMEMBER_DEVICE_DAYS": 0,
    # Temporary access passes the helpdesk issues: the default and the longest lifetime, in
    # seconds.
    "TAP_LIFETIME": 3600,
    "TAP_MAX_LIFETIME": 7 * 86400,
    # The longest exemption (opt-out) the helpdesk may grant, in days.
    "EXEMPTION_MAX_DAYS": 365,
    # Feedback messages one client address may send per hour (spam).
    "FEEDBACK_PER_HOUR": 5,
    # Offer "Sign in with a passkey" on the password page (a discoverable credential with user
    # verification; no password).
    "PASSKEY_SIGNIN": False,
    # Seconds a QR enrolment stays valid.
    "ENROLMENT_TTL": 600,
    # Seconds a sign-in attempt may take from password to second factor.
    "SIGNIN_ATTEMPT_TTL": 600,
    # Seconds after which removing a method asks for the password or a code again.
    "REAUTH_TTL": 300,
    # --- the door (signin.requirements) ---
    # Staff (helpdesk, admin) always use a second factor; true: only a security key or
    # passkey (phishing-resistant, NIST AAL3) will do for them.
    "STAFF_PHISHING_RESISTANT": False,
    # Seconds a service's refresh tokens may renew a sign-in at most, from the sign-in itself
    # however often they are used (ASVS 10.4.8: an absolute lifetime); then sign in again.
    "OIDC_REFRESH_MAX_AGE": 30 * 86400,
    # Throttling of failures: `free` tries, then a delay of `base` seconds that doubles up to
    # `cap`; `limit` consecutive failures lock the key until a success or the helpdesk
    # (None = never); failures older than `forget` seconds no longer count (None = never).
    "THROTTLE_PASSWORD_IP": {"free": 20, "base": 1.0, "cap": 900.0, "limit": None, "forget": 86400},
    "THROTTLE_PASSWORD_ACCOUNT": {
        "free": 5,
        "base": 1.0,
        "cap": 900.0,
        "limit": None,
        "forget": 86400,
    },
    "THROTTLE_MFA_IP": {"free": 20, "base": 1.0, "cap": 900.0, "limit": None, "forget": 86400},
    # NIST SP 800-63B §5.2.2: at most 100 consecutive failed attempts on one account.
    "THROTTLE_MFA_ACCOUNT": {"free": 5, "base": 1.0, "cap": 900.0, "limit": 100, "forget": None},
    # Days a browser stays "known" for an account after a successful sign-in (OWASP device
    # cookies: throttling of the account does not slow down browsers it has used before).
    "KNOWN_BROWSER_DAYS": 180,
    # Seconds a push to the vahva app waits for an answer ("We didn't hear from you" after).
    "PUSH_TTL": 60,
    # Seconds a device's signed request may be older (or newer) than the server's clock.
    "DEVICE_REQUEST_WINDOW": 120,
    # Accept Web Push endpoints over http or on private addresses (SSRF guard off): only for
    # tests and development with a local push receiver.
    "PUSH_ALLOW_PRIVATE_ENDPOINTS": False,
    # Seconds after a "Deny and report" during which no sign-in push is sent to that person
    # (a password thief hoping for an accidental approval has to wait it out).
    "PUSH_REPORT_HOLD": 3600,
    # --- push bombing (issue 14, item 5) ---
    # Sign-in requests a person's app receives, whatever addresses the sign-ins come from: at
    # most PUSH_MAX_OPEN waiting at once (a newer sign-in is told one is already waiting) and
    # PUSH_MAX_PER_WINDOW within any PUSH_WINDOW seconds.
    "PUSH_MAX_OPEN": 1,
    "PUSH_MAX_PER_WINDOW": 3,
    "PUSH_WINDOW": 600,
    # PUSH_SUSPICIOUS_LIMIT sign-ins with the right password whose request was denied,
    # reported or not answered within PUSH_SUSPICIOUS_WINDOW seconds switch the person to a
    # typed code (the app's offline code, another method) for PUSH_PAUSE seconds; the person
    # and the helpdesk get a mail.
    "PUSH_SUSPICIOUS_LIMIT": 3,
    "PUSH_SUSPICIOUS_WINDOW": 86400,
    "PUSH_PAUSE": 86400,
    # The organisation's networks, by name: {"Campus": ["130.233.0.0/16", "2001:708::/32"],
    # "VPN": [...]}. A service whose rule is "outside_trusted" asks no second factor there.
    "TRUSTED_NETWORKS": {},
    # Reverse proxies (addresses or CIDR blocks) whose X-Forwarded-For is believed; nobody
    # else's is, since anyone can send the header.
    "TRUSTED_PROXIES": [],
    # The contact in the VAPID JWT (RFC 8292 §2.1 "sub"): a mailto: or https: URL; empty =
    # mailto: the helpdesk address, else the public URL.
    "VAPID_SUBJECT": "",
    # --- phones (DESIGN.md §5) ---
    # The gateway that sends texts and makes calls, by dotted path: the dev phone (texts and
    # calls land on /dev/phone) or "vahva.gateways.twilio.TwilioGateway".
    "PHONE_GATEWAY": "vahva.gateways.dev.DevGateway",
    # Serve the dev phone pages at /dev/phone even without DEBUG (tests, demos). They exist
    # only while the dev gateway is the configured one, whatever this says.
    "DEV_PHONE": False,
    # The country a number typed without a country code belongs to (ISO 3166 region code).
    "PHONE_DEFAULT_COUNTRY": "FI",
    # The countries numbers may be in (region codes); a number elsewhere is refused.
    "PHONE_COUNTRIES": ["FI", "SE", "NO", "DK", "EE", "DE", "GB"],
    # Seconds a texted code stays valid, wrong tries a code takes, and seconds before
    # "Resend code" (or another call) is allowed.
    "PHONE_CODE_TTL": 300,
    "PHONE_CODE_TRIES": 5,
    "PHONE_RESEND_AFTER": 30,
    # Seconds a call may take from dialling to the # press.
    "PHONE_CALL_TTL": 120,
    # SMS pumping: texts and calls per hour per number, person, client address and country.
    "PHONE_LIMITS": {"number": 5, "person": 10, "ip": 20, "country": 300},
    # Texts and calls per day for the whole deployment (the spend cap).
    "PHONE_DAILY_CAP": 2000,
    # The Twilio gateway: account, the sender number (E.164), the public base URL Twilio's
    # webhooks reach (empty: PUBLIC_URL) and the API base (empty: Twilio's own; tests point it
    # at a loopback fake).
    "TWILIO": {
        "account_sid": "",
        "auth_token": "",
        "from_number": "",
        "webhook_base": "",
        "api_base": "",
    },
    # /metrics for Prometheus: off unless turned on, and then only with this bearer token (at
    # least 32 characters: python -c 'import secrets; print(secrets.token_urlsafe(32))').
    "METRICS_ENABLED": False,
    "METRICS_TOKEN": "",
    # --- SCIM provisioning (vahva.scim) ---
    # Groups that give a role, by the group's displayName: {"IT Helpdesk": "helpdesk"}.
    # "helpdesk" = staff + helpdesk.access, "admin" = staff + superuser; other groups are kept.
    "SCIM_GROUP_ROLES": {},
    # The largest SCIM request body, in bytes (413 above it, before it is parsed).
    "SCIM_MAX_BODY": 1024 * 1024,
    # The most resources one page of a search returns (filter.maxResults).
    "SCIM_MAX_RESULTS": 200,
    # --- sessions (NIST SP 800-63B AAL2 reauthentication) ---
    # Seconds without activity after which a browser is signed out (a waiting page's polls
    # are not activity), and seconds after the sign-in after which it is signed out however
    # active it is.
    "SESSION_IDLE_TIMEOUT": 30 * 60,
    "SESSION_MAX_AGE": 12 * 3600,
    # --- the organisation's directory (vahva.directory; [vahva.directory] in the TOML file) ---
    # LDAP / Active Directory: sign-in by bind, `vahva directory sync`, password changes.
    # Off by default; the table's keys and defaults are vahva.directory.config.DEFAULTS.
    "DIRECTORY": {"enabled": False},
    # "Forgot your password?": seconds a link by e-mail works, and requests per hour for one
    # address and for one client address (counted before anything is sent).
    "PASSWORD_RESET_TTL": 900,
    "PASSWORD_RESET_PER_ADDRESS": 3,
    "PASSWORD_RESET_PER_CLIENT": 20,
    # --- RADIUS (vahva radius serve) ---
    # Seconds an Access-Request waits for the approval in the app (keep it under the VPN's
    # own RADIUS timeout), and seconds a retransmitted request is answered from the cache.
    "RADIUS_PUSH_WAIT": 25,
    "RADIUS_REPLAY_WINDOW": 30,
    # --- approve-only pushes for RADIUS wait mode (radwait) ---
    # Seconds after a person denies a sign-in request during which no approve-only request
    # (no number to type: a VPN that cannot show one) is sent to them: push bombing, where
    # the thief retries at once hoping for a tired "Approve".
    "PUSH_APPROVE_ONLY_COOLDOWN": 300,
    # --- the SAML 2.0 identity provider (vahva.saml) ---
    # The IdP's entity id; empty: <PUBLIC_URL>/saml/metadata.
    "SAML_ENTITY_ID": "",
    # The organisation's scope (a DNS domain) for eduPersonPrincipalName, scoped affiliation,
    # subject-id and pairwise-id; empty: the domain of each person's e-mail address.
    "SAML_SCOPE": "",
    # eduPersonAffiliation given to every person (and "<it>@<scope>" as the scoped one).
    "SAML_AFFILIATION": "member",
    # schacHomeOrganization; empty: the scope.
    "SAML_HOME_ORGANIZATION": "",
    # The largest SAML message accepted, in bytes, before and after inflating (XML bombs).
    "SAML_MAX_MESSAGE_BYTES": 65536,
    # Seconds an AuthnRequest may be old (its IssueInstant) and may wait for the sign-in.
    "SAML_REQUEST_MAX_AGE": 600,
    # Seconds an issued assertion is valid (its SubjectConfirmationData NotOnOrAfter).
    "SAML_RESPONSE_LIFETIME": 300,
    # Days a retired signing certificate stays in the metadata after `vahva saml rotate-key`.
    "SAML_KEY_KEEP_DAYS": 30,
}

_PHONE_LIMIT_KEYS = {"number", "person", "ip", "country"}
_TWILIO_KEYS = {"account_sid", "auth_token", "from_number", "webhook_base", "api_base"}
_THROTTLE_KEYS = {"free", "base", "cap", "limit", "forget"}
_THROTTLES = tuple(name for name in DEFAULTS if name.startswith("THROTTLE_"))


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ImproperlyConfigured(f"VAHVA[{name!r}] must be a whole number >= 0, not {value!r}")


def _at_least_one(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ImproperlyConfigured(f"VAHVA[{name!r}] must be a whole number >= 1, not {value!r}")


def _string(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise ImproperlyConfigured(f"VAHVA[{name!r}] must be a string, not {value!r}")


def _boolean(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ImproperlyConfigured(f"VAHVA[{name!r}] must be true or false, not {value!r}")


def _keys(name: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(f"VAHVA[{name!r}] must map key ids to base64 keys")
    for key_id, key in value.items():
        try:
            raw = base64.urlsafe_b64decode(str(key) + "=" * (-len(str(key)) % 4))
        except (binascii.Error, ValueError) as exc:
            raise ImproperlyConfigured(f"VAHVA[{name!r}][{key_id!r}] is not base64") from exc
        if len(raw) != 32:
            raise ImproperlyConfigured(
                f"VAHVA[{name!r}][{key_id!r}] must be 32 bytes (AES-256), not {len(raw)}"
            )


def _trusted_networks(name: str, value: Any) -> None:
    # Lazily: the parser is the policy room's (a pure function); settings import nothing else.
    from vahva.networks import parse_networks

    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(f"VAHVA[{name!r}] must map names to lists of CIDR blocks")
    try:
        parse_networks(value)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"VAHVA[{name!r}]: {exc}") from None


def _trusted_proxies(name: str, value: Any) -> None:
    from vahva.networks import parse_proxies

    try:
        parse_proxies(value)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"VAHVA[{name!r}]: {exc}") from None


def _throttle(name: str, value: Any) -> None:
    if not isinstance(value, Mapping) or set(value) != _THROTTLE_KEYS:
        raise ImproperlyConfigured(f"VAHVA[{name!r}] needs exactly {sorted(_THROTTLE_KEYS)}")
    for part in ("limit", "forget"):
        bound = value[part]
        if bound is not None and (not isinstance(bound, int) or bound < 1):
            raise ImproperlyConfigured(f"VAHVA[{name!r}][{part!r}] must be >= 1 or None")
    if not isinstance(value["free"], int) or value["free"] < 0:
        raise ImproperlyConfigured(f"VAHVA[{name!r}]['free'] must be a whole number >= 0")
    for part in ("base", "cap"):
        if not isinstance(value[part], int | float) or value[part] <= 0:
            raise ImproperlyConfigured(f"VAHVA[{name!r}][{part!r}] must be > 0")


def _region(name: str, value: Any) -> None:
    import phonenumbers

    if not isinstance(value, str) or value not in phonenumbers.SUPPORTED_REGIONS:
        raise ImproperlyConfigured(
            f"VAHVA[{name!r}] must be a region code such as 'FI', not {value!r}"
        )


def _regions(name: str, value: Any) -> None:
    if not isinstance(value, list | tuple) or not value:
        raise ImproperlyConfigured(f"VAHVA[{name!r}] must be a non-empty list of region codes")
    for item in value:
        _region(name, item)


def _phone_limits(name: str, value: Any) -> None:
    if not isinstance(value, Mapping) or set(value) != _PHONE_LIMIT_KEYS:
        raise ImproperlyConfigured(f"VAHVA[{name!r}] needs exactly {sorted(_PHONE_LIMIT_KEYS)}")
    for part, limit in value.items():
        _at_least_one(f"{name}.{part}", limit)


_SCIM_ROLES = {"helpdesk", "admin"}


def _scim_group_roles(name: str, value: Any) -> None:
    if not isinstance(value, Mapping) or not all(
        isinstance(group, str) and group and isinstance(role, str) and role in _SCIM_ROLES
        for group, role in value.items()
    ):
        raise ImproperlyConfigured(
            f"VAHVA[{name!r}] maps group names to one of {sorted(_SCIM_ROLES)}"
        )


def _twilio(name: str, value: Any) -> None:
    if not isinstance(value, Mapping) or not set(value) <= _TWILIO_KEYS:
        raise ImproperlyConfigured(f"VAHVA[{name!r}] takes only {sorted(_TWILIO_KEYS)}")
    for part, item in value.items():
        _string(f"{name}.{part}", item)


def _directory(name: str, value: Any) -> None:
    # Lazily: the table's schema is the directory room's; settings import nothing else.
    from vahva.directory.config import parse

    parse(value)


_VALIDATORS: dict[str, Callable[[str, Any], None]] = {
    "ORGANISATION_NAME": _string,
    "HELPDESK_EMAIL": _string,
    "HELPDESK_PHONE": _string,
    "HELPDESK_URL": _string,
    "PUBLIC_URL": _string,
    "ENCRYPTION_KEYS": _keys,
    "ENCRYPTION_KEY_ID": _string,
    "ARGON2_TIME_COST": _positive_int,
    "ARGON2_MEMORY_COST": _positive_int,
    "ARGON2_PARALLELISM": _positive_int,
    "ACTIVATION_DELAY": _positive_int,
    "REGISTRATION_SNOOZE_DAYS": _at_least_one,
    "REGISTRATION_MAX_SNOOZES": _positive_int,
    "REMEMBER_DEVICE_DAYS": _positive_int,
    "TAP_LIFETIME": _at_least_one,
    "TAP_MAX_LIFETIME": _at_least_one,
    "EXEMPTION_MAX_DAYS": _at_least_one,
    "FEEDBACK_PER_HOUR": _at_least_one,
    "PASSKEY_SIGNIN": _boolean,
    "ENROLMENT_TTL": _positive_int,
    "SIGNIN_ATTEMPT_TTL": _positive_int,
    "REAUTH_TTL": _positive_int,
    "STAFF_PHISHING_RESISTANT": _boolean,
    "OIDC_REFRESH_MAX_AGE": _at_least_one,
    "THROTTLE_PASSWORD_IP": _throttle,
    "THROTTLE_PASSWORD_ACCOUNT": _throttle,
    "THROTTLE_MFA_IP": _throttle,
    "THROTTLE_MFA_ACCOUNT": _throttle,
    "KNOWN_BROWSER_DAYS": _positive_int,
    "PUSH_TTL": _at_least_one,
    "DEVICE_REQUEST_WINDOW": _at_least_one,
    "PUSH_ALLOW_PRIVATE_ENDPOINTS": _boolean,
    "PUSH_REPORT_HOLD": _positive_int,
    # --- push bombing (issue 14, item 5) ---
    "PUSH_MAX_OPEN": _at_least_one,
    "PUSH_MAX_PER_WINDOW": _at_least_one,
    "PUSH_WINDOW": _at_least_one,
    "PUSH_SUSPICIOUS_LIMIT": _at_least_one,
    "PUSH_SUSPICIOUS_WINDOW": _at_least_one,
    "PUSH_PAUSE": _at_least_one,
    "TRUSTED_NETWORKS": _trusted_networks,
    "TRUSTED_PROXIES": _trusted_proxies,
    "VAPID_SUBJECT": _string,
    "PHONE_GATEWAY": _string,
    "DEV_PHONE": _boolean,
    "PHONE_DEFAULT_COUNTRY": _region,
    "PHONE_COUNTRIES": _regions,
    "PHONE_CODE_TTL": _at_least_one,
    "PHONE_CODE_TRIES": _at_least_one,
    "PHONE_RESEND_AFTER": _positive_int,
    "PHONE_CALL_TTL": _at_least_one,
    "PHONE_LIMITS": _phone_limits,
    "PHONE_DAILY_CAP": _at_least_one,
    "TWILIO": _twilio,
    "METRICS_ENABLED": _boolean,
    "METRICS_TOKEN": _string,
    # --- SCIM provisioning (vahva.scim) ---
    "SCIM_GROUP_ROLES": _scim_group_roles,
    "SCIM_MAX_BODY": _at_least_one,
    "SCIM_MAX_RESULTS": _at_least_one,
    "SESSION_IDLE_TIMEOUT": _at_least_one,
    "SESSION_MAX_AGE": _at_least_one,
    "DIRECTORY": _directory,
    "PASSWORD_RESET_TTL": _at_least_one,
    "PASSWORD_RESET_PER_ADDRESS": _at_least_one,
    "PASSWORD_RESET_PER_CLIENT": _at_least_one,
    "RADIUS_PUSH_WAIT": _at_least_one,
    "RADIUS_REPLAY_WINDOW": _at_least_one,
    # --- approve-only pushes for RADIUS wait mode (radwait) ---
    "PUSH_APPROVE_ONLY_COOLDOWN": _positive_int,
    "SAML_ENTITY_ID": _string,
    "SAML_SCOPE": _string,
    "SAML_AFFILIATION": _string,
    "SAML_HOME_ORGANIZATION": _string,
    "SAML_MAX_MESSAGE_BYTES": _at_least_one,
    "SAML_REQUEST_MAX_AGE": _at_least_one,
    "SAML_RESPONSE_LIFETIME": _at_least_one,
    "SAML_KEY_KEEP_DAYS": _positive_int,
}
assert set(_VALIDATORS) == set(DEFAULTS), "every setting needs a validator"


def validate(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Return DEFAULTS updated with ``overrides``; raise on unknown keys or bad values."""
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise ImproperlyConfigured(
            f"Unknown VAHVA setting(s): {', '.join(sorted(unknown))}. "
            f"Known: {', '.join(sorted(DEFAULTS))}"
        )
    merged = {**DEFAULTS, **overrides}
    for name in ("PHONE_LIMITS", "TWILIO"):
        # A partial table overrides only what it names.
        if isinstance(merged[name], Mapping):
            merged[name] = {**DEFAULTS[name], **merged[name]}
    for name in _THROTTLES:
        # A partial table overrides only what it names; 0 means "never" for limit and forget
        # (TOML has no null).
        if isinstance(merged[name], Mapping):
            table = {**DEFAULTS[name], **merged[name]}
            for part in ("limit", "forget"):
                if table[part] == 0:
                    table[part] = None
            merged[name] = table
    for name, value in merged.items():
        _VALIDATORS[name](name, value)
    if merged["ENCRYPTION_KEYS"] and merged["ENCRYPTION_KEY_ID"] not in merged["ENCRYPTION_KEYS"]:
        raise ImproperlyConfigured(
            f"VAHVA['ENCRYPTION_KEY_ID'] {merged['ENCRYPTION_KEY_ID']!r} is not a key id "
            "in VAHVA['ENCRYPTION_KEYS']"
        )
    if merged["TAP_LIFETIME"] > merged["TAP_MAX_LIFETIME"]:
        raise ImproperlyConfigured("VAHVA['TAP_LIFETIME'] is longer than VAHVA['TAP_MAX_LIFETIME']")
    if merged["METRICS_ENABLED"] and len(merged["METRICS_TOKEN"]) < 32:
        # A guessable token would open the metrics (who signs in how often) to anyone.
        raise ImproperlyConfigured(
            "VAHVA['METRICS_ENABLED'] needs VAHVA['METRICS_TOKEN']: at least 32 random characters"
        )
    if merged["PHONE_DEFAULT_COUNTRY"] not in merged["PHONE_COUNTRIES"]:
        raise ImproperlyConfigured(
            f"VAHVA['PHONE_DEFAULT_COUNTRY'] {merged['PHONE_DEFAULT_COUNTRY']!r} is not in "
            "VAHVA['PHONE_COUNTRIES']"
        )
    return merged


class VahvaSettings:
    """Attribute access to the validated ``VAHVA`` dictionary, read lazily."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    def _values(self) -> dict[str, Any]:
        if self._cache is None:
            self._cache = validate(getattr(django_settings, "VAHVA", {}))
        return self._cache

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values()[name]
        except KeyError:
            raise AttributeError(f"No VAHVA setting {name!r}") from None

    def reload(self) -> None:
        self._cache = None


settings = VahvaSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "VAHVA":
        settings.reload()


setting_changed.connect(_reload)
