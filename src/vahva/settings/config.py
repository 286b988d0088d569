"""Read the deployment's configuration from a TOML file and the environment.

The file is ``$VAHVA_CONFIG`` or, when that is unset, ``<data dir>/vahva.toml``. Its top-level
keys are :class:`Deployment`'s and configure Django; its ``[vahva]`` table is the ``VAHVA``
settings object (:class:`vahva.conf_schema.VahvaSettings`, keys in any case). Environment
variables win over the file: ``VAHVA_<KEY>`` for a top-level key (``VAHVA_SECRET_KEY``,
``VAHVA_ALLOWED_HOSTS=a,b``; ``DATABASE_URL`` and ``REDIS_URL`` as they are usually called)
and for a ``[vahva]`` setting (``VAHVA_METRICS_TOKEN``, ``VAHVA_PUSH_TTL=60``: written as a TOML
value, strings as they are), plus ``VAHVA_DIRECTORY_BIND_PASSWORD`` for the directory's
service account. An unknown key or a bad value is an error naming the key and where it was.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ImproperlyConfigured
from pydantic import AfterValidator, AliasChoices, BeforeValidator, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vahva.conf import explain, reason
from vahva.conf_schema import VahvaSettings

#: What a Redis URL may start with (redis-py's ``from_url``).
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
#: Top-level values an error message never repeats (they may hold passwords).
SECRET_KEYS = frozenset({"secret_key", "database_url", "redis_url"})


def _hosts(value: Any) -> Any:
    # VAHVA_ALLOWED_HOSTS=mfa.example.org,localhost
    return value.split(",") if isinstance(value, str) else value


def _redis_url(value: str) -> str:
    if value and not value.startswith(REDIS_SCHEMES):
        raise ValueError(f"must start with {', '.join(REDIS_SCHEMES)} (or be empty for one node)")
    return value


def _workers(value: Any) -> int:
    try:
        count = int(str(value))
    except ValueError:
        count = 0
    if isinstance(value, bool) or count < 1:
        raise ValueError(f"must be a whole number >= 1, not {value!r}")
    return count


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"must be a time zone such as 'Europe/Helsinki', not {value!r}") from None
    return value


class Deployment(BaseSettings):
    """The file's top-level keys; the environment's ``VAHVA_*`` variables win over them."""

    model_config = SettingsConfigDict(
        env_prefix="VAHVA_", extra="forbid", frozen=True, env_ignore_empty=True
    )

    secret_key: str = ""
    debug: bool = False
    allowed_hosts: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_hosts)] = ("localhost",)
    #: Empty: a SQLite file in the data directory.
    database_url: str = Field("", validation_alias=AliasChoices("database_url", "DATABASE_URL"))
    #: Redis for the event bus between nodes (DESIGN.md §4); empty: one node, in-process.
    redis_url: Annotated[str, AfterValidator(_redis_url)] = Field(
        "", validation_alias=AliasChoices("redis_url", "REDIS_URL")
    )
    #: Worker processes `vahva serve` runs (its --workers wins); the checks read it too.
    workers: Annotated[int, BeforeValidator(_workers)] = 1
    time_zone: Annotated[str, AfterValidator(_time_zone)] = "Europe/Helsinki"
    language_code: str = "en"
    secure_cookies: bool = True
    #: The [vahva] table.
    vahva: VahvaSettings = Field(default_factory=VahvaSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load() merges the file and the environment it was given; nothing else is read.
        return (init_settings,)


#: Top-level keys a configuration file may contain; anything else is a typo.
FILE_KEYS = frozenset(Deployment.model_fields)
# VAHVA_<name> names one thing: a top-level key or a [vahva] setting, never both.
assert not {name.upper() for name in FILE_KEYS} & set(VahvaSettings.model_fields)


class _Environment(EnvSettingsSource):
    """pydantic-settings' own environment source, reading the mapping :func:`load` got."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(Deployment)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self._environ.items() if v or not self.env_ignore_empty}


class _VahvaEnvironment(PydanticBaseSettingsSource):
    """``VAHVA_<SETTING>`` for each [vahva] setting: a TOML value, or a string as it is."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(Deployment)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # one table, built in __call__

    def __call__(self) -> dict[str, Any]:
        table: dict[str, Any] = {}
        for name, info in VahvaSettings.model_fields.items():
            raw = self._environ.get(f"VAHVA_{name}")
            if raw:
                table[name] = raw if info.annotation is str else _toml_value(raw)
        if self._environ.get("VAHVA_DIRECTORY_BIND_PASSWORD"):
            # The directory's service account password, from a secret store.
            table["DIRECTORY"] = {"bind_password": self._environ["VAHVA_DIRECTORY_BIND_PASSWORD"]}
        return {"vahva": table} if table else {}


def _toml_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw  # the schema says what it should have been


def _merge(low: Mapping[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    """``high`` over ``low``, tables merged key by key."""
    merged = dict(low)
    for key, value in high.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True)
class Config:
    """The configuration Django's settings are built from; ``vahva``: the [vahva] overrides."""

    data_dir: Path
    secret_key: str
    debug: bool
    allowed_hosts: list[str]
    database_url: str
    time_zone: str
    language_code: str
    secure_cookies: bool
    redis_url: str = ""
    workers: int = 1
    vahva: dict[str, Any] = field(default_factory=dict)


def public_origin(url: str) -> str | None:
    """The origin (scheme://host[:port]) of an http(s) URL, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"


def _read(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ImproperlyConfigured(f"VAHVA_CONFIG points at {path}, which does not exist")
        return {}
    try:
        raw = TomlConfigSettingsSource(Deployment, toml_file=path)()
    except tomllib.TOMLDecodeError as exc:
        raise ImproperlyConfigured(f"{path}: not valid TOML: {exc}") from exc
    unknown = set(raw) - FILE_KEYS
    if unknown:
        raise ImproperlyConfigured(
            f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(FILE_KEYS))}"
        )
    if isinstance(raw.get("vahva"), Mapping):
        # [vahva] keys are lower case in the file, upper case in VAHVA.
        raw["vahva"] = {str(key).upper(): value for key, value in raw["vahva"].items()}
    return raw


def _explain(exc: ValidationError, path: Path, env: Mapping[str, str]) -> str:
    in_file = f"{path}: " if path.exists() else ""
    lines = []
    for error in exc.errors():
        key = str(error["loc"][0]).lower() if error["loc"] else ""
        if key == "vahva":
            continue
        variable = {"database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}.get(
            key, f"VAHVA_{key.upper()}"
        )
        where = variable if env.get(variable) else f"{in_file}{key}"
        lines.append(f"{where} {reason(error, secret=key in SECRET_KEYS)}")
    table: list[ErrorDetails] = []
    for error in exc.errors():
        if error["loc"] and error["loc"][0] == "vahva":
            inner = error.copy()
            inner["loc"] = error["loc"][1:]
            table.append(inner)
    if table:

        def origin(name: str) -> str:
            variable = f"VAHVA_{name}"
            return f"from {variable}" if env.get(variable) else "[vahva] " + name.lower()

        from_file = [e for e in table if not (e["loc"] and env.get(f"VAHVA_{e['loc'][0]}"))]
        prefix = in_file if from_file else ""
        lines.append(prefix + explain(table, origin=origin))
    return "; ".join(lines)


def load(environ: Mapping[str, str] | None = None) -> Config:
    """Merge the TOML file and the environment into a :class:`Config`."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("VAHVA_DATA_DIR", "var")).resolve()
    path = Path(env["VAHVA_CONFIG"]) if env.get("VAHVA_CONFIG") else data_dir / "vahva.toml"
    values = _read(path, explicit=bool(env.get("VAHVA_CONFIG")))
    # Lowest first: the file, then the environment.
    for source in (_Environment(env), _VahvaEnvironment(env)):
        values = _merge(values, source())
    try:
        deployment = Deployment.model_validate(values)
    except ValidationError as exc:
        raise ImproperlyConfigured(_explain(exc, path, env)) from None
    return Config(
        data_dir=data_dir,
        secret_key=deployment.secret_key,
        debug=deployment.debug,
        allowed_hosts=list(deployment.allowed_hosts),
        database_url=deployment.database_url or f"sqlite:///{data_dir / 'vahva.sqlite3'}",
        time_zone=deployment.time_zone,
        language_code=deployment.language_code,
        secure_cookies=deployment.secure_cookies,
        redis_url=deployment.redis_url,
        workers=deployment.workers,
        vahva=deployment.vahva.model_dump(exclude_unset=True),
    )
