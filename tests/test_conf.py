"""The VAHVA settings object and the configuration file: typos are errors at start-up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import typing
from pathlib import Path
from typing import Any

import pytest
from annotated_types import Ge
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from vahva import conf
from vahva.conf import DEFAULTS, VahvaSettings, validate
from vahva.settings.config import load

FIELDS = VahvaSettings.model_fields
#: The settings a TOML scalar configures, by their Python type.
SCALARS = {
    name: info.annotation for name, info in FIELDS.items() if info.annotation in (int, bool, str)
}


def test_defaults_validate() -> None:
    assert validate({}) == DEFAULTS
    assert DEFAULTS["PHONE_COUNTRIES"] == ("FI", "SE", "NO", "DK", "EE", "DE", "GB")
    assert DEFAULTS["THROTTLE_MFA_ACCOUNT"]["limit"] == 100


def test_every_setting_is_typed() -> None:
    hints = typing.get_type_hints(VahvaSettings)
    assert set(DEFAULTS) == set(FIELDS) <= set(hints)
    untyped = [name for name in FIELDS if hints[name] is Any]
    assert untyped == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ORGANIZATION_NAME": "x"}, "Unknown VAHVA setting(s): ORGANIZATION_NAME"),
        ({"ACTIVATION_DELAY": "2h"}, "ACTIVATION_DELAY"),
        ({"REMEMBER_DEVICE_DAYS": "yes"}, "REMEMBER_DEVICE_DAYS"),
        ({"ENCRYPTION_KEYS": {"k1": "AAAAAAAAAAAAAAAAAAAAAA=="}}, "32 bytes"),
        ({"ENCRYPTION_KEYS": {"k1": "!!!"}}, "ENCRYPTION_KEYS"),
        ({"THROTTLE_MFA_ACCOUNT": {"typo": 1}}, "THROTTLE_MFA_ACCOUNT"),
        ({"THROTTLE_MFA_ACCOUNT": {"base": -1}}, "'base'"),
        # The key, the reason and the value, for each kind of setting.
        ({"PUSH_TTL": "60"}, "VAHVA['PUSH_TTL'] must be a whole number, not '60'"),
        ({"PUSH_TTL": 0}, "VAHVA['PUSH_TTL'] must be a whole number >= 1, not 0"),
        ({"DEV_PHONE": 1}, "VAHVA['DEV_PHONE'] must be true or false, not 1"),
        ({"ORGANISATION_NAME": 7}, "VAHVA['ORGANISATION_NAME'] must be a string, not 7"),
        ({"PHONE_LIMITS": {"ip": 0}}, "VAHVA['PHONE_LIMITS']['ip'] must be a whole number >= 1"),
        ({"TWILIO": {"sid": "AC1"}}, "VAHVA['TWILIO']['sid'] is not a known key"),
        ({"PUBLIC_URL": "mfa.example.org"}, "VAHVA['PUBLIC_URL'] must be an http:// or https://"),
        ({"PHONE_GATEWAY": "not a path"}, "VAHVA['PHONE_GATEWAY'] must be a dotted path"),
        ({"PHONE_COUNTRIES": ["FI", "XX"]}, "VAHVA['PHONE_COUNTRIES'][1] must be a region code"),
        (
            {"SCIM_GROUP_ROLES": {"IT": "root"}},
            "VAHVA['SCIM_GROUP_ROLES']['IT'] must be 'helpdesk'",
        ),
        ({"VAPID_SUBJECT": "helpdesk@x"}, "VAHVA['VAPID_SUBJECT'] must be a mailto: or https:"),
        ({"ARGON2_EXCLUSIVE": "sometimes"}, "VAHVA['ARGON2_EXCLUSIVE'] must be 'auto'"),
    ],
)
def test_bad_settings_are_errors(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        validate(overrides)


def test_key_id_must_name_a_key() -> None:
    key = "mFnCOWzvJe6uGQ0cV3nI8wz1j3-C5bS3xNcxu5u4r-E="
    with pytest.raises(ImproperlyConfigured, match="not a key id"):
        validate({"ENCRYPTION_KEYS": {"k1": key}, "ENCRYPTION_KEY_ID": "k2"})


def test_partial_throttle_table_keeps_other_defaults_and_zero_means_never() -> None:
    values = validate({"THROTTLE_MFA_ACCOUNT": {"limit": 0, "free": 3}})
    assert values["THROTTLE_MFA_ACCOUNT"]["limit"] is None
    assert values["THROTTLE_MFA_ACCOUNT"]["free"] == 3
    assert values["THROTTLE_MFA_ACCOUNT"]["cap"] == DEFAULTS["THROTTLE_MFA_ACCOUNT"]["cap"]


def test_secrets_are_not_repeated_in_errors() -> None:
    token = "short-secret-token"
    with pytest.raises(ImproperlyConfigured, match="METRICS_TOKEN") as raised:
        validate({"METRICS_ENABLED": True, "METRICS_TOKEN": token})
    assert token not in str(raised.value)
    with pytest.raises(ImproperlyConfigured, match=r"\['TWILIO'\]\['auth_token'\]") as raised:
        validate({"TWILIO": {"auth_token": 123456789}})
    assert "123456789" not in str(raised.value)


def test_overriding_vahva_in_tests_retypes_the_settings_object(settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "PUSH_TTL": 7, "PHONE_COUNTRIES": ["FI", "SE"]}
    assert conf.settings.PUSH_TTL == 7
    assert conf.settings.PHONE_COUNTRIES == ("FI", "SE")
    assert conf.current().PUSH_TTL == 7
    settings.VAHVA = {**settings.VAHVA, "PUSH_TTL": "7"}
    with pytest.raises(ImproperlyConfigured, match=r"VAHVA\['PUSH_TTL'\] must be a whole number"):
        conf.settings.PUSH_TTL  # noqa: B018
    with pytest.raises(AttributeError, match="No VAHVA setting 'PUSH_TTTL'"):
        conf.settings.PUSH_TTTL  # type: ignore[attr-defined]  # noqa: B018


def _toml(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "vahva.toml"
    path.write_text(text)
    return {"VAHVA_CONFIG": str(path)}


def test_config_file_unknown_setting_names_the_key_and_the_file(tmp_path: Path) -> None:
    env = _toml(tmp_path, "[vahva]\nactivation_dely = 7200\n")
    with pytest.raises(ImproperlyConfigured) as raised:
        load(env)
    assert str(raised.value).startswith(f"{env['VAHVA_CONFIG']}: Unknown VAHVA setting(s): ")
    assert "ACTIVATION_DELY." in str(raised.value)
    assert "ACTIVATION_DELAY" in str(raised.value)  # among the known ones


def test_config_file_bad_value_names_the_key_and_the_file(tmp_path: Path) -> None:
    env = _toml(tmp_path, '[vahva]\npush_ttl = "60"\n[vahva.throttle_mfa_ip]\nfre = 3\n')
    with pytest.raises(ImproperlyConfigured) as raised:
        load(env)
    assert str(raised.value) == (
        f"{env['VAHVA_CONFIG']}: VAHVA['THROTTLE_MFA_IP']['fre'] ([vahva] throttle_mfa_ip) is "
        "not a known key; VAHVA['PUSH_TTL'] ([vahva] push_ttl) must be a whole number, not '60'"
    )


def test_config_file_tables_are_typed(tmp_path: Path) -> None:
    config = load(
        _toml(
            tmp_path,
            '[vahva]\nphone_countries = ["FI"]\nphone_default_country = "FI"\n'
            "[vahva.phone_limits]\nip = 3\n[vahva.throttle_mfa_account]\nlimit = 0\n",
        )
    )
    values = validate(config.vahva)
    assert values["PHONE_COUNTRIES"] == ("FI",)
    assert values["PHONE_LIMITS"] == {**DEFAULTS["PHONE_LIMITS"], "ip": 3}
    assert values["THROTTLE_MFA_ACCOUNT"]["limit"] is None


def test_environment_overrides_a_setting_of_the_file(tmp_path: Path) -> None:
    env = _toml(tmp_path, "[vahva]\npush_ttl = 30\nmetrics_enabled = true\n")
    config = load(
        {
            **env,
            "VAHVA_PUSH_TTL": "90",
            "VAHVA_TRUSTED_PROXIES": '["10.0.0.1", "10.0.1.0/24"]',
            # A string setting takes the variable as it is, digits or not.
            "VAHVA_METRICS_TOKEN": "1" * 32,
        }
    )
    assert config.vahva == {
        "PUSH_TTL": 90,
        "METRICS_ENABLED": True,
        "TRUSTED_PROXIES": ("10.0.0.1", "10.0.1.0/24"),
        "METRICS_TOKEN": "1" * 32,
    }


def test_environment_bad_value_names_the_variable(tmp_path: Path) -> None:
    env = _toml(tmp_path, "")
    with pytest.raises(ImproperlyConfigured) as raised:
        load({**env, "VAHVA_PUSH_TTL": "soon", "VAHVA_WORKERS": "0"})
    assert str(raised.value) == (
        "VAHVA_WORKERS must be a whole number >= 1, not '0'; "
        "VAHVA['PUSH_TTL'] (from VAHVA_PUSH_TTL) must be a whole number, not 'soon'"
    )
    with pytest.raises(ImproperlyConfigured, match="VAHVA_DEBUG must be true or false"):
        load({**env, "VAHVA_DEBUG": "maybe"})
    with pytest.raises(ImproperlyConfigured, match="time_zone must be a time zone"):
        load(_toml(tmp_path, 'time_zone = "Europe/Helsinky"\n'))


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _wrong_value(kind: object) -> st.SearchStrategy[object]:
    text = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=8)
    numbers = st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    return {
        int: st.booleans() | text | st.floats(allow_nan=False, allow_infinity=False),
        bool: numbers | text,
        str: numbers | st.booleans(),
    }[kind]


@hypothesis_settings(max_examples=60, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(SCALARS)), in_file=st.booleans())
def test_any_setting_of_the_wrong_type_is_an_error_naming_it(
    data: st.DataObject, name: str, in_file: bool
) -> None:
    value = data.draw(_wrong_value(SCALARS[name]))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vahva.toml"
        path.write_text(f"[vahva]\n{name.lower()} = {_toml_value(value)}\n" if in_file else "")
        env = {"VAHVA_CONFIG": str(path)}
        if not in_file:
            env[f"VAHVA_{name}"] = _toml_value(value)
        if SCALARS[name] is str and not in_file:
            return  # a variable is always a string, so any is the right type
        with pytest.raises(ImproperlyConfigured) as raised:
            load(env)
    where = f"([vahva] {name.lower()})" if in_file else f"(from VAHVA_{name})"
    assert f"VAHVA[{name!r}] {where} must be " in str(raised.value)


INTEGERS = sorted(n for n, kind in SCALARS.items() if kind is int and not n.startswith("TAP_"))


@hypothesis_settings(max_examples=40, deadline=None)
@given(data=st.data(), name=st.sampled_from(INTEGERS), in_file=st.booleans())
def test_any_whole_number_in_range_reaches_the_settings_object(
    data: st.DataObject, name: str, in_file: bool
) -> None:
    lowest = next(m.ge for m in FIELDS[name].metadata if isinstance(m, Ge))
    value = data.draw(st.integers(min_value=int(lowest), max_value=2**40))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vahva.toml"
        path.write_text(f"[vahva]\n{name.lower()} = {value}\n" if in_file else "")
        env = {"VAHVA_CONFIG": str(path)}
        if not in_file:
            env[f"VAHVA_{name}"] = str(value)
        assert getattr(conf.parse(load(env).vahva), name) == value
        if lowest > 0:
            env[f"VAHVA_{name}"] = str(lowest - 1)
            with pytest.raises(ImproperlyConfigured, match=rf"\[{name!r}\].* >= {lowest}"):
                load(env)


def test_config_file_unknown_top_level_key(tmp_path: Path) -> None:
    path = tmp_path / "vahva.toml"
    path.write_text('secret_key = "x"\ndebugg = true\n')
    with pytest.raises(ImproperlyConfigured, match=r"unknown key.*debugg"):
        load({"VAHVA_CONFIG": str(path)})


def test_config_file_must_be_toml(tmp_path: Path) -> None:
    path = tmp_path / "vahva.toml"
    path.write_text("secret_key = \n")
    with pytest.raises(ImproperlyConfigured, match="not valid TOML"):
        load({"VAHVA_CONFIG": str(path)})


def test_environment_wins_over_file(tmp_path: Path) -> None:
    path = tmp_path / "vahva.toml"
    path.write_text('secret_key = "from-file"\ndebug = true\n[vahva]\norganisation_name = "U"\n')
    config = load({"VAHVA_CONFIG": str(path), "VAHVA_SECRET_KEY": "from-env", "VAHVA_DEBUG": "0"})
    assert config.secret_key == "from-env"
    assert config.debug is False
    assert config.vahva == {"ORGANISATION_NAME": "U"}


def _vahva(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "VAHVA_CONFIG", "VAHVA_SECRET_KEY"}
    }
    env["VAHVA_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "vahva.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_init_writes_private_config_once_and_a_typo_stops_start_up(tmp_path: Path) -> None:
    data = tmp_path / "var"
    first = _vahva(["init", "--demo"], data)
    assert first.returncode == 0, first.stderr
    config = data / "vahva.toml"
    assert config.stat().st_mode & 0o777 == 0o600
    text = config.read_text()
    assert "secret_key" in text
    assert "encryption_keys" in text
    second = _vahva(["init"], data)
    assert "leaving it as it is" in second.stdout
    assert config.read_text() == text

    assert _vahva(["check"], data).returncode == 0
    config.write_text(text.replace("[vahva]", "[vahva]\nactivation_dely = 7200"))
    broken = _vahva(["check"], data)
    assert broken.returncode != 0
    assert "Unknown VAHVA setting(s): ACTIVATION_DELY" in broken.stderr


def test_importing_the_cli_leaves_the_schema_for_later() -> None:
    # `vahva serve --workers N` spawns workers that import vahva.cli (and through vahva.crypto,
    # vahva.conf) before they answer uvicorn's 5-second health check; on a busy host pydantic
    # and the schema there got workers killed and restarted in a loop.
    probe = "import sys, vahva.cli; print(sorted(m for m in sys.modules if 'pydantic' in m))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
