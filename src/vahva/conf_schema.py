"""The ``VAHVA`` settings schema: every setting, its type, its default and why it exists.

One pydantic model for the ``[vahva]`` table of the TOML file, the ``VAHVA_*`` environment
variables (:mod:`vahva.settings.config`) and Django's ``VAHVA`` dictionary (tests override it):
an unknown key or a value of the wrong type is an error at start-up that names the key.
Adding a setting is one line here: ``NAME: Type = default`` under a comment saying why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, model_validator

from vahva.conf_types import (
    AesKeys,
    Contact,
    Count,
    Directory,
    DottedPath,
    Flag,
    HttpUrl,
    Name,
    Networks,
    OptionalHttpUrl,
    PhoneLimits,
    Positive,
    Proxies,
    Region,
    Regions,
    ScimRole,
    Text,
    Throttle,
    Twilio,
)

#: Tables a partial override completes from the setting's own default (not the type's).
PARTIAL_TABLES = (
    "PHONE_LIMITS",
    "TWILIO",
    "THROTTLE_PASSWORD_IP",
    "THROTTLE_PASSWORD_ACCOUNT",
    "THROTTLE_MFA_IP",
    "THROTTLE_MFA_ACCOUNT",
)


class VahvaSettings(BaseModel):
    """The validated ``VAHVA`` settings; ``vahva.conf.settings`` reads them lazily."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Who runs this deployment; shown in the UI, in authenticator apps and in messages.
    ORGANISATION_NAME: Text = "vahva"
    HELPDESK_EMAIL: Text = ""
    HELPDESK_PHONE: Text = ""
    HELPDESK_URL: OptionalHttpUrl = ""
    # Where people reach this server; QR links and absolute URLs are built from it.
    PUBLIC_URL: HttpUrl = "http://localhost:8000"
    # AES-256-GCM keys for secrets at rest: {key id: base64 of 32 random bytes}.
    ENCRYPTION_KEYS: AesKeys = {}
    # The key id new secrets are encrypted under; rotating = add a key, point this at it,
    # run `vahva rotate-keys`, then drop the old key.
    ENCRYPTION_KEY_ID: Text = ""
    # argon2id parameters (OWASP: 19 MiB, t=2, p=1); hashes are upgraded on sign-in.
    ARGON2_TIME_COST: Count = 2
    ARGON2_MEMORY_COST: Count = 19456
    ARGON2_PARALLELISM: Count = 1
    # Hash holding the GIL, so that no other thread of the process runs on the hash's core
    # meanwhile (vahva.accounts.exclusive_argon2): "auto" does when a `vahva serve` worker has
    # fewer than two cores; "always"; "never" (argon2-cffi's calls, the GIL released).
    ARGON2_EXCLUSIVE: Literal["auto", "always", "never"] = "auto"
    # Seconds after registration before MFA is enforced (the seed's organisation: 2 hours).
    ACTIVATION_DELAY: Count = 0
    # The registration campaign: a person without methods is asked to register at sign-in
    # and may answer "Not now" for REGISTRATION_SNOOZE_DAYS days, at most
    # REGISTRATION_MAX_SNOOZES times; after that registering is required (0: at once).
    REGISTRATION_SNOOZE_DAYS: Positive = 1
    REGISTRATION_MAX_SNOOZES: Count = 3
    # "Don't ask again on this device for N days" after a multi-factor sign-in (0: not
    # offered). Changing the password, a fraud report or "sign out everywhere" forget them.
    REMEMBER_DEVICE_DAYS: Count = 0
    # Temporary access passes the helpdesk issues: the default and the longest lifetime, in
    # seconds.
    TAP_LIFETIME: Positive = 3600
    TAP_MAX_LIFETIME: Positive = 7 * 86400
    # The longest exemption (opt-out) the helpdesk may grant, in days.
    EXEMPTION_MAX_DAYS: Positive = 365
    # Feedback messages one client address may send per hour (spam).
    FEEDBACK_PER_HOUR: Positive = 5
    # Offer "Sign in with a passkey" on the password page (a discoverable credential with user
    # verification; no password).
    PASSKEY_SIGNIN: Flag = False
    # Seconds a QR enrolment stays valid.
    ENROLMENT_TTL: Count = 600
    # Seconds a sign-in attempt may take from password to second factor.
    SIGNIN_ATTEMPT_TTL: Count = 600
    # Seconds after which removing a method asks for the password or a code again.
    REAUTH_TTL: Count = 300
    # --- the door (signin.requirements) ---
    # Staff (helpdesk, admin) always use a second factor; true: only a security key or
    # passkey (phishing-resistant, NIST AAL3) will do for them.
    STAFF_PHISHING_RESISTANT: Flag = False
    # Seconds a service's refresh tokens may renew a sign-in at most, from the sign-in itself
    # however often they are used (ASVS 10.4.8: an absolute lifetime); then sign in again.
    OIDC_REFRESH_MAX_AGE: Positive = 30 * 86400
    # Throttling of failures: `free` tries, then a delay of `base` seconds that doubles up to
    # `cap`; `limit` consecutive failures lock the key until a success or the helpdesk
    # (None = never); failures older than `forget` seconds no longer count (None = never).
    THROTTLE_PASSWORD_IP: Throttle = {
        "free": 20,
        "base": 1.0,
        "cap": 900.0,
        "limit": None,
        "forget": 86400,
    }
    THROTTLE_PASSWORD_ACCOUNT: Throttle = {
        "free": 5,
        "base": 1.0,
        "cap": 900.0,
        "limit": None,
        "forget": 86400,
    }
    THROTTLE_MFA_IP: Throttle = {
        "free": 20,
        "base": 1.0,
        "cap": 900.0,
        "limit": None,
        "forget": 86400,
    }
    # NIST SP 800-63B §5.2.2: at most 100 consecutive failed attempts on one account.
    THROTTLE_MFA_ACCOUNT: Throttle = {
        "free": 5,
        "base": 1.0,
        "cap": 900.0,
        "limit": 100,
        "forget": None,
    }
    # Days a browser stays "known" for an account after a successful sign-in (OWASP device
    # cookies: throttling of the account does not slow down browsers it has used before).
    KNOWN_BROWSER_DAYS: Count = 180
    # Seconds a push to the vahva app waits for an answer ("We didn't hear from you" after).
    PUSH_TTL: Positive = 60
    # Seconds a device's signed request may be older (or newer) than the server's clock.
    DEVICE_REQUEST_WINDOW: Positive = 120
    # Accept Web Push endpoints over http or on private addresses (SSRF guard off): only for
    # tests and development with a local push receiver.
    PUSH_ALLOW_PRIVATE_ENDPOINTS: Flag = False
    # Seconds after a "Deny and report" during which no sign-in push is sent to that person
    # (a password thief hoping for an accidental approval has to wait it out).
    PUSH_REPORT_HOLD: Count = 3600
    # --- push bombing (issue 14, item 5) ---
    # Sign-in requests a person's app receives, whatever addresses the sign-ins come from: at
    # most PUSH_MAX_OPEN waiting at once (a newer sign-in is told one is already waiting) and
    # PUSH_MAX_PER_WINDOW within any PUSH_WINDOW seconds.
    PUSH_MAX_OPEN: Positive = 1
    PUSH_MAX_PER_WINDOW: Positive = 3
    PUSH_WINDOW: Positive = 600
    # PUSH_SUSPICIOUS_LIMIT sign-ins with the right password whose request was denied,
    # reported or not answered within PUSH_SUSPICIOUS_WINDOW seconds switch the person to a
    # typed code (the app's offline code, another method) for PUSH_PAUSE seconds; the person
    # and the helpdesk get a mail.
    PUSH_SUSPICIOUS_LIMIT: Positive = 3
    PUSH_SUSPICIOUS_WINDOW: Positive = 86400
    PUSH_PAUSE: Positive = 86400
    # --- approve-only pushes for RADIUS wait mode (radwait) ---
    # Seconds after a person denies a sign-in request during which no approve-only request
    # (no number to type: a VPN that cannot show one) is sent to them: push bombing, where
    # the thief retries at once hoping for a tired "Approve". 0: no cool-down.
    PUSH_APPROVE_ONLY_COOLDOWN: Count = 300
    # The organisation's networks, by name: {"Campus": ["130.233.0.0/16", "2001:708::/32"],
    # "VPN": [...]}. A service whose rule is "outside_trusted" asks no second factor there.
    TRUSTED_NETWORKS: Networks = {}
    # Reverse proxies (addresses or CIDR blocks) whose X-Forwarded-For is believed; nobody
    # else's is, since anyone can send the header.
    TRUSTED_PROXIES: Proxies = ()
    # The contact in the VAPID JWT (RFC 8292 §2.1 "sub"): a mailto: or https: URL; empty =
    # mailto: the helpdesk address, else the public URL.
    VAPID_SUBJECT: Contact = ""
    # --- sign-in methods (vahva.methods) ---
    # The methods this deployment offers, by dotted path, in the order "Add method" lists
    # them; leave one out to turn it off (e.g. calls). A method in a package of its own with an
    # apps.py brings its models as a Django app. A path that does not import is an error.
    # Empty: the built-in ones (vahva.methods.installed.BUILTIN).
    METHODS: tuple[DottedPath, ...] = ()
    # --- phones (DESIGN.md §5) ---
    # The gateway that sends texts and makes calls, by dotted path: the dev phone (texts and
    # calls land on /dev/phone) or "vahva.gateways.twilio.TwilioGateway".
    PHONE_GATEWAY: DottedPath = "vahva.gateways.dev.DevGateway"
    # Serve the dev phone pages at /dev/phone even without DEBUG (tests, demos). They exist
    # only while the dev gateway is the configured one, whatever this says.
    DEV_PHONE: Flag = False
    # The country a number typed without a country code belongs to (ISO 3166 region code).
    PHONE_DEFAULT_COUNTRY: Region = "FI"
    # The countries numbers may be in (region codes); a number elsewhere is refused.
    PHONE_COUNTRIES: Regions = (
        "FI",
        "SE",
        "NO",
        "DK",
        "EE",
        "DE",
        "GB",
    )
    # Seconds a texted code stays valid, wrong tries a code takes, and seconds before
    # "Resend code" (or another call) is allowed.
    PHONE_CODE_TTL: Positive = 300
    PHONE_CODE_TRIES: Positive = 5
    PHONE_RESEND_AFTER: Count = 30
    # Seconds a call may take from dialling to the # press.
    PHONE_CALL_TTL: Positive = 120
    # SMS pumping: texts and calls per hour per number, person, client address and country.
    PHONE_LIMITS: PhoneLimits = {"number": 5, "person": 10, "ip": 20, "country": 300}
    # Texts and calls per day for the whole deployment (the spend cap).
    PHONE_DAILY_CAP: Positive = 2000
    # The Twilio gateway: account, the sender number (E.164), the public base URL Twilio's
    # webhooks reach (empty: PUBLIC_URL) and the API base (empty: Twilio's own; tests point it
    # at a loopback fake).
    TWILIO: Twilio = {
        "account_sid": "",
        "auth_token": "",
        "from_number": "",
        "webhook_base": "",
        "api_base": "",
    }
    # /metrics for Prometheus: off unless turned on, and then only with this bearer token (at
    # least 32 characters: python -c 'import secrets; print(secrets.token_urlsafe(32))').
    METRICS_ENABLED: Flag = False
    METRICS_TOKEN: Text = ""
    # --- SCIM provisioning (vahva.scim) ---
    # Groups that give a role, by the group's displayName: {"IT Helpdesk": "helpdesk"}.
    # "helpdesk" = staff + helpdesk.access, "admin" = staff + superuser; other groups are kept.
    SCIM_GROUP_ROLES: dict[Name, ScimRole] = {}
    # The largest SCIM request body, in bytes (413 above it, before it is parsed).
    SCIM_MAX_BODY: Positive = 1024 * 1024
    # The most resources one page of a search returns (filter.maxResults).
    SCIM_MAX_RESULTS: Positive = 200
    # --- sessions (NIST SP 800-63B AAL2 reauthentication) ---
    # Seconds without activity after which a browser is signed out (a waiting page's polls
    # are not activity), and seconds after the sign-in after which it is signed out however
    # active it is.
    SESSION_IDLE_TIMEOUT: Positive = 30 * 60
    SESSION_MAX_AGE: Positive = 12 * 3600
    # --- the organisation's directory (vahva.directory; [vahva.directory] in the TOML file) ---
    # LDAP / Active Directory: sign-in by bind, `vahva directory sync`, password changes.
    # Off by default; the table's keys and defaults are vahva.directory.config.DEFAULTS.
    DIRECTORY: Directory = {"enabled": False}
    # "Forgot your password?": seconds a link by e-mail works, and requests per hour for one
    # address and for one client address (counted before anything is sent).
    PASSWORD_RESET_TTL: Positive = 900
    PASSWORD_RESET_PER_ADDRESS: Positive = 3
    PASSWORD_RESET_PER_CLIENT: Positive = 20
    # --- RADIUS (vahva radius serve) ---
    # Seconds an Access-Request waits for the approval in the app (keep it under the VPN's
    # own RADIUS timeout), and seconds a retransmitted request is answered from the cache.
    RADIUS_PUSH_WAIT: Positive = 25
    RADIUS_REPLAY_WINDOW: Positive = 30
    # --- the SAML 2.0 identity provider (vahva.saml) ---
    # The IdP's entity id; empty: <PUBLIC_URL>/saml/metadata.
    SAML_ENTITY_ID: Text = ""
    # The organisation's scope (a DNS domain) for eduPersonPrincipalName, scoped affiliation,
    # subject-id and pairwise-id; empty: the domain of each person's e-mail address.
    SAML_SCOPE: Text = ""
    # eduPersonAffiliation given to every person (and "<it>@<scope>" as the scoped one).
    SAML_AFFILIATION: Text = "member"
    # schacHomeOrganization; empty: the scope.
    SAML_HOME_ORGANIZATION: Text = ""
    # The largest SAML message accepted, in bytes, before and after inflating (XML bombs).
    SAML_MAX_MESSAGE_BYTES: Positive = 65536
    # Seconds an AuthnRequest may be old (its IssueInstant) and may wait for the sign-in.
    SAML_REQUEST_MAX_AGE: Positive = 600
    # Seconds an issued assertion is valid (its SubjectConfirmationData NotOnOrAfter).
    SAML_RESPONSE_LIFETIME: Positive = 300
    # Days a retired signing certificate stays in the metadata after `vahva saml rotate-key`.
    SAML_KEY_KEEP_DAYS: Count = 30
    # --- SAML federation aggregates and metadata from URLs (vahva.saml, saml2) ---
    # The largest federation aggregate fetched, in bytes (a national aggregate with eduGAIN
    # is some tens of MB); a larger download is stopped and refused.
    SAML_FEDERATION_MAX_BYTES: Positive = 128 * 1024 * 1024
    # Seconds a metadata download (aggregate or one service's URL) may take in all.
    SAML_FETCH_TIMEOUT: Positive = 60
    # Days vahva's signed metadata at /saml/metadata says it is valid (its validUntil).
    SAML_METADATA_VALID_DAYS: Positive = 7

    # --- the helpdesk verifies a caller (helpdesk; issue #19 item 9) ---
    # The organisation's own way to verify a caller who has none of their methods at hand,
    # shown to the agent as guidance beside an "I verified them this way" confirmation.
    # Empty: vahva's default text.
    HELPDESK_CALLER_PROCEDURE: Text = ""
    # Caller checks (a code texted, called or read out) one person may get within
    # HELPDESK_CALLER_WINDOW seconds, and wrong codes each check takes: an agent, or a social
    # engineer on the phone, cannot guess a code by starting check after check.
    HELPDESK_CALLER_CHECKS: Positive = 5
    HELPDESK_CALLER_TRIES: Positive = 3
    HELPDESK_CALLER_WINDOW: Positive = 900

    @model_validator(mode="before")
    @classmethod
    def _complete_tables(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValueError("VAHVA must be a table (a dict) of settings")
        data = dict(data)
        for name in PARTIAL_TABLES:
            value = data.get(name)
            if isinstance(value, Mapping):
                # A partial table overrides only what it names.
                table = {**cls.model_fields[name].get_default(), **value}
                if name.startswith("THROTTLE_"):
                    for part in ("limit", "forget"):
                        # 0 means "never" (TOML has no null).
                        if table.get(part) == 0:
                            table[part] = None
                data[name] = table
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.ENCRYPTION_KEYS and self.ENCRYPTION_KEY_ID not in self.ENCRYPTION_KEYS:
            raise ValueError(
                f"VAHVA['ENCRYPTION_KEY_ID'] {self.ENCRYPTION_KEY_ID!r} is not a key id "
                "in VAHVA['ENCRYPTION_KEYS']"
            )
        if self.TAP_LIFETIME > self.TAP_MAX_LIFETIME:
            raise ValueError("VAHVA['TAP_LIFETIME'] is longer than VAHVA['TAP_MAX_LIFETIME']")
        if self.METRICS_ENABLED and len(self.METRICS_TOKEN) < 32:
            # A guessable token would open the metrics (who signs in how often) to anyone.
            raise ValueError(
                "VAHVA['METRICS_ENABLED'] needs VAHVA['METRICS_TOKEN']: at least 32 random "
                "characters"
            )
        if self.PHONE_DEFAULT_COUNTRY not in self.PHONE_COUNTRIES:
            raise ValueError(
                f"VAHVA['PHONE_DEFAULT_COUNTRY'] {self.PHONE_DEFAULT_COUNTRY!r} is not in "
                "VAHVA['PHONE_COUNTRIES']"
            )
        return self
