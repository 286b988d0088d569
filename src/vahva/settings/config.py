"""Read the deployment's configuration from a TOML file and the environment.

The file is ``$VAHVA_CONFIG`` or, when that is unset, ``<data dir>/vahva.toml``. Top-level keys
configure Django; the ``[vahva]`` table holds the ``VAHVA`` settings object (see
:mod:`vahva.conf`). Environment variables win over the file for the few values operators
usually inject from a secret store.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

#: Top-level keys a configuration file may contain; anything else is a typo.
FILE_KEYS = frozenset(
    {
        "secret_key",
        "debug",
        "allowed_hosts",
        "database_url",
        "redis_url",
        "workers",
        "time_zone",
        "language_code",
        "secure_cookies",
        "vahva",
    }
)


@dataclass(frozen=True)
class Config:
    """The raw configuration, before Django and ``VAHVA`` validation."""

    data_dir: Path
    secret_key: str
    debug: bool
    allowed_hosts: list[str]
    database_url: str
    time_zone: str
    language_code: str
    secure_cookies: bool
    #: Redis for the event bus between nodes (DESIGN.md §4); empty: one node, in-process.
    redis_url: str = ""
    #: Worker processes `vahva serve` runs (its --workers wins); the checks read it too.
    workers: int = 1
    vahva: dict[str, Any] = field(default_factory=dict)


def _env_bool(env: Mapping[str, str], name: str) -> bool | None:
    value = env.get(name)
    if value is None:
        return None
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


#: What a Redis URL may start with (redis-py's ``from_url``).
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _redis_url(value: str, origin: str) -> str:
    if value and not value.startswith(REDIS_SCHEMES):
        # Not echoed: the URL may hold the Redis password.
        raise ImproperlyConfigured(
            f"{origin} must start with {', '.join(REDIS_SCHEMES)} (or be empty for one node)"
        )
    return value


def public_origin(url: str) -> str | None:
    """The origin (scheme://host[:port]) of an http(s) URL, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"


def _workers(value: object, origin: str) -> int:
    try:
        count = int(str(value))
    except ValueError:
        count = 0
    if isinstance(value, bool) or count < 1:
        raise ImproperlyConfigured(f"{origin} must be a whole number >= 1, not {value!r}")
    return count


def load(environ: Mapping[str, str] | None = None) -> Config:
    """Merge the TOML file and the environment into a :class:`Config`."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("VAHVA_DATA_DIR", "var")).resolve()
    path = Path(env["VAHVA_CONFIG"]) if env.get("VAHVA_CONFIG") else data_dir / "vahva.toml"
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ImproperlyConfigured(f"{path}: not valid TOML: {exc}") from exc
    elif env.get("VAHVA_CONFIG"):
        raise ImproperlyConfigured(f"VAHVA_CONFIG points at {path}, which does not exist")
    unknown = set(raw) - FILE_KEYS
    if unknown:
        raise ImproperlyConfigured(
            f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(FILE_KEYS))}"
        )
    debug = _env_bool(env, "VAHVA_DEBUG")
    secure = _env_bool(env, "VAHVA_SECURE_COOKIES")
    hosts = env.get("VAHVA_ALLOWED_HOSTS")
    vahva = raw.get("vahva", {})
    if env.get("REDIS_URL"):
        redis_url = _redis_url(env["REDIS_URL"], "REDIS_URL")
    else:
        redis_url = _redis_url(str(raw.get("redis_url", "")), f"{path}: redis_url")
    if not isinstance(vahva, dict):
        raise ImproperlyConfigured(f"{path}: [vahva] must be a table")
    if env.get("VAHVA_WORKERS"):
        workers = _workers(env["VAHVA_WORKERS"], "VAHVA_WORKERS")
    else:
        workers = _workers(raw.get("workers", 1), f"{path}: workers")
    vahva = {str(k).upper(): v for k, v in vahva.items()}
    if env.get("VAHVA_DIRECTORY_BIND_PASSWORD"):
        # The directory's service account password, from a secret store ([vahva.directory]).
        directory = vahva.get("DIRECTORY", {})
        if isinstance(directory, dict):
            vahva["DIRECTORY"] = {
                **directory,
                "bind_password": env["VAHVA_DIRECTORY_BIND_PASSWORD"],
            }
    return Config(
        data_dir=data_dir,
        secret_key=env.get("VAHVA_SECRET_KEY") or str(raw.get("secret_key", "")),
        debug=bool(raw.get("debug", False)) if debug is None else debug,
        allowed_hosts=hosts.split(",") if hosts else list(raw.get("allowed_hosts", ["localhost"])),
        database_url=env.get("DATABASE_URL")
        or str(raw.get("database_url", f"sqlite:///{data_dir / 'vahva.sqlite3'}")),
        time_zone=str(raw.get("time_zone", "Europe/Helsinki")),
        language_code=str(raw.get("language_code", "en")),
        secure_cookies=bool(raw.get("secure_cookies", True)) if secure is None else secure,
        redis_url=redis_url,
        workers=workers,
        vahva=vahva,
    )
