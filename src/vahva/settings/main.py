"""Django settings for vahva, built from :func:`vahva.settings.config.load`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from vahva.conf import validate
from vahva.methods import installed as installed_methods
from vahva.oidc import keys as oidc_keys
from vahva.oidc import schemes as oidc_schemes
from vahva.oidc import scopes as oidc_scopes
from vahva.settings.config import load, public_origin

CONFIG = load()
BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = CONFIG.data_dir

SECRET_KEY = CONFIG.secret_key
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured(
        "secret_key is missing or shorter than 32 characters; run `vahva init` or set "
        "VAHVA_SECRET_KEY"
    )
DEBUG = CONFIG.debug
ALLOWED_HOSTS = CONFIG.allowed_hosts

# A typo in [vahva] stops the start here rather than falling back to a default.
VAHVA: dict[str, Any] = validate(CONFIG.vahva)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "vahva.web",
    "vahva.audit",
    "vahva.accounts",
    "vahva.methods",
    "vahva.gateways",
    "vahva.authenticator",
    "vahva.signin",
    "vahva.sessions",
    "vahva.registration",
    "vahva.policy",
    "vahva.helpdesk",
    "vahva.feedback",
    "vahva.insights",
    "vahva.metrics",
    "vahva.validate",
    "vahva.scim",
    "vahva.directory",
    "vahva.radius",
    "vahva.saml",
    # Before oauth2_provider, so that vahva's templates for its pages win.
    "vahva.oidc",
    "oauth2_provider",
]

# The sign-in methods this deployment offers (dotted paths, vahva.methods.installed); a method
# in its own package with an apps.py brings its models and templates as a Django app.
VAHVA_METHODS: list[str] = list(VAHVA["METHODS"] or installed_methods.BUILTIN)
INSTALLED_APPS += installed_methods.apps_of(VAHVA_METHODS)

MIDDLEWARE = [
    # First: every line logged for a request, and its answer, carry the request's id.
    "vahva.logs.RequestIdMiddleware",
    "vahva.web.middleware.RequestHygieneMiddleware",
    # Early: the session list, the door's policy and every audit row see the same address.
    "vahva.web.middleware.ClientAddressMiddleware",
    # What a request reads several times (a person's methods) is read once (vahva.web.memo).
    "vahva.web.memo.RequestMemoMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "vahva.web.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Idle timeout, absolute lifetime, sessions ended elsewhere: before anything acts on them.
    "vahva.sessions.middleware.SessionLifetimeMiddleware",
    "vahva.registration.campaign.CampaignMiddleware",
    # Staff pages (admin, helpdesk) only after the door's second factor.
    "vahva.signin.staff.StaffAreaMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "vahva.urls"

# The lean chain: the validation API and the OAuth token endpoint are called by machines (a
# RADIUS server, a service's back end) with a bearer key or a client secret, never with a
# browser's cookies, so `vahva serve` answers them through a shorter middleware list
# (vahva.web.handler, LEAN_PATHS). Kept: the request id, the hygiene (NUL bytes, a forged
# X-Forwarded-Proto), the trusted-proxy client address (throttles and audit rows), Django's
# security middleware (HSTS, nosniff, the https redirect), vahva's security headers and
# X-Frame-Options. Dropped, and why that is safe there:
# - WhiteNoise: serves /static/ only, which these paths are not.
# - sessions, authentication, messages, SessionLifetime, Campaign: these endpoints read no
#   browser session and no request.user (the caller is the API key or the OAuth client; the
#   person is the one the key's request or the refresh token names); a cookie sent to them is
#   ignored, as it was, and no session is created or written.
# - CSRF: both views are csrf_exempt already (the full chain skips them too); a forged
#   cross-site POST has no key or client secret to send.
# - locale: the answers are JSON for machines, in the deployment's LANGUAGE_CODE.
# - CommonMiddleware: APPEND_SLASH and DISALLOWED_USER_AGENTS; the lean paths are exact
#   prefixes with their slash, and a path without it takes the full chain.
# - StaffArea: guards /admin/ and /helpdesk/, which are not lean paths.
LEAN_MIDDLEWARE = [
    "vahva.logs.RequestIdMiddleware",
    "vahva.web.middleware.RequestHygieneMiddleware",
    "vahva.web.middleware.ClientAddressMiddleware",
    "vahva.web.memo.RequestMemoMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "vahva.web.middleware.SecurityHeadersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
#: Path prefixes answered through LEAN_MIDDLEWARE by `vahva serve`.
LEAN_PATHS = ("/api/validate/v1/", "/o/token/")
ASGI_APPLICATION = "vahva.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "vahva.web.context.organisation",
            ],
        },
    },
]

# Persistent connections: `vahva serve` keeps a request's thread for the next request
# (vahva.web.handler), and with it the thread's connection, so a request does not pay for a new
# connection (and SQLite's PRAGMAs). CONN_HEALTH_CHECKS: a connection the database dropped while
# it was idle is replaced before a request uses it, not failed on. On PostgreSQL, Django's
# connection pool instead (psycopg_pool; CONN_MAX_AGE must then be 0): a request takes a
# connection when it first needs one and puts it back at its end. Query parameters of the URL
# are the driver's options (`?sslmode=verify-full&sslrootcert=...`); `?pool=false` turns the
# pool off (with PgBouncer, say), and the connections then persist as on SQLite.
#: Seconds a thread's connection is kept (SQLite, or PostgreSQL without the pool).
CONN_MAX_AGE = 300
try:
    _db = dj_database_url.parse(
        CONFIG.database_url, conn_max_age=CONN_MAX_AGE, conn_health_checks=True
    )
except ValueError as exc:  # UnknownSchemeError, ParseError
    # Not echoed: the URL may hold the database password.
    raise ImproperlyConfigured(
        "database_url / DATABASE_URL is not a database URL such as "
        f"postgres://user:password@host:5432/vahva or sqlite:///path ({type(exc).__name__})"
    ) from None
if _db["ENGINE"] == "django.db.backends.postgresql":
    _options = _db.setdefault("OPTIONS", {})
    # A database that does not answer fails a request in seconds instead of hanging it.
    _options.setdefault("connect_timeout", 5)
    _options.setdefault("application_name", "vahva")
    # PgBouncer in transaction mode cannot keep a server-side cursor across statements.
    _db["DISABLE_SERVER_SIDE_CURSORS"] = bool(_options.pop("disable_server_side_cursors", False))
    _pool = str(_options.pop("pool", "true")).lower() not in ("false", "0", "no", "off")
    if _pool:
        _options["pool"] = {
            # Opened when first needed; up to max_size requests hold one at once, the next
            # waits up to `timeout` seconds for one to come back, then fails (a 500, logged)
            # rather than queueing without end.
            "min_size": 2,
            "max_size": 20,
            "timeout": 10,
            # A connection idle this long is closed (the database restarts, a firewall forgets).
            "max_idle": 300,
        }
        _db["CONN_MAX_AGE"] = 0
        # The pool hands out only connections it has checked.
        _db["CONN_HEALTH_CHECKS"] = False
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db["OPTIONS"] = {
        # WAL lets readers and one writer work at once; IMMEDIATE takes the write lock at
        # BEGIN, so two writers queue instead of failing with "database is locked". The PRAGMAs
        # run once per connection, and a connection now lasts CONN_MAX_AGE.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DATABASES = {"default": _db}
# Redis for the event bus between nodes; empty: one node with an in-process bus (see
# vahva.authenticator.apps).
REDIS_URL = CONFIG.redis_url
#: The worker processes `vahva serve` starts (checked against the database and the bus).
SERVE_WORKERS = CONFIG.workers
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# With [vahva.directory]: the password is checked by binding to the directory as the person;
# local accounts (break-glass admins, people outside the directory) stay with ModelBackend.
AUTHENTICATION_BACKENDS = [
    *(["vahva.directory.backend.DirectoryBackend"] if VAHVA["DIRECTORY"].get("enabled") else []),
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "signin:password"
LOGIN_REDIRECT_URL = "registration:security_info"
PASSWORD_HASHERS = [
    "vahva.accounts.hashers.VahvaArgon2Hasher",  # the first: every password people choose
    "vahva.accounts.hashers.RandomSecretHasher",  # only services' generated client secrets
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Django's database sessions (signing out deletes them at once), fewer statements per write.
SESSION_ENGINE = "vahva.sessions.store"
# The cookie lives as long as the absolute lifetime; vahva.sessions ends the session earlier
# when it is idle, and activity never extends the lifetime (the cookie's expiry slides, the
# sign-in time does not).
SESSION_COOKIE_AGE = VAHVA["SESSION_MAX_AGE"]
# Secure cookies: the configuration says so (the default), or the public URL is https.
_SECURE_COOKIES = CONFIG.secure_cookies or str(VAHVA["PUBLIC_URL"]).startswith("https://")
# __Host-: the browser accepts the cookie only with Secure, Path=/ and no Domain, so a sibling
# subdomain or a plain-http page cannot plant or overwrite it (cookie tossing, session
# fixation). Browsers refuse the prefix without Secure: plain http (development) goes without.
_COOKIE_PREFIX = "__Host-" if _SECURE_COOKIES else ""
SESSION_COOKIE_NAME = f"{_COOKIE_PREFIX}vahva_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _SECURE_COOKIES
CSRF_COOKIE_NAME = f"{_COOKIE_PREFIX}csrftoken"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = _SECURE_COOKIES
LANGUAGE_COOKIE_NAME = f"{_COOKIE_PREFIX}vahva_language"
LANGUAGE_COOKIE_SECURE = _SECURE_COOKIES
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
# vahva's own host-only cookies (vahva.signin.remembered, vahva.signin.known_browser).
REMEMBER_COOKIE_NAME = f"{_COOKIE_PREFIX}vahva_remember"
KNOWN_BROWSER_COOKIE_NAME = f"{_COOKIE_PREFIX}vahva_known"
# Messages ("You were signed out...") ride in the session, not in a cookie of their own.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
CSRF_FAILURE_VIEW = "vahva.web.views.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating reverse proxy Django sees plain http; the browser's Origin is the
# public https one. The public URL is our own origin, so trusting it trusts no one else.
CSRF_TRUSTED_ORIGINS = [_origin] if (_origin := public_origin(VAHVA["PUBLIC_URL"])) else []
if VAHVA["TRUSTED_PROXIES"]:
    # The proxy says whether the browser used https (it must set the header, overwriting any
    # the client sent; docs/deploy.md), so that Django's is_secure() and HSTS are right.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if str(VAHVA["PUBLIC_URL"]).startswith("https://"):
    # Browsers that have seen the site over https never use plain http for it again
    # (SSL stripping). Sent only on requests Django sees as https.
    SECURE_HSTS_SECONDS = 365 * 86400
SILENCED_SYSTEM_CHECKS = [
    # HSTS for subdomains and the preload list would commit every other service of the
    # organisation's domain to https: the organisation's call, made at its proxy.
    "security.W005",
    "security.W021",
    # The reverse proxy redirects http to https (docs/deploy.md); vahva itself answers
    # health checks and the proxy over plain http on a private address.
    "security.W008",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

LANGUAGE_CODE = CONFIG.language_code
LANGUAGES = [("en", "English"), ("fi", "Suomi"), ("sv", "Svenska")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = CONFIG.time_zone
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve from the apps' static/ folders directly, so `collectstatic` is optional.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# OpenID Provider (django-oauth-toolkit). The signing keys live in the data directory.
_OIDC_KEYS = oidc_keys.load(DATA_DIR / "oidc")
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER: dict[str, Any] = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": _OIDC_KEYS.active,
    # Retired keys stay in the JWKS so that tokens signed before a rotation still verify.
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": _OIDC_KEYS.retired,
    "OAUTH2_VALIDATOR_CLASS": "vahva.oidc.validator.Validator",
    # Client secrets are 256 random bits: a fast salted hash (see RandomSecretHasher).
    "CLIENT_SECRET_HASHER": "vahva_secret_sha256",
    "SCOPES": oidc_scopes.SCOPES,
    "DEFAULT_SCOPES": ["openid"],
    "ALLOWED_REDIRECT_URI_SCHEMES": oidc_schemes.RedirectSchemes(),
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "ID_TOKEN_EXPIRE_SECONDS": 3600,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 24 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    # A refresh token used twice means it leaked: revoke the whole family (RFC 9700 §4.14.2).
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # No implicit or password grants, no "plain" PKCE (RFC 9700 §2.1.1, §2.4).
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    "OIDC_RP_INITIATED_LOGOUT_ACCEPT_EXPIRED_TOKENS": True,
    "REQUEST_APPROVAL_PROMPT": "auto",
}

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "vahva.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
