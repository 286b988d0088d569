"""The VAHVA settings object and the configuration file: typos are errors at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from vahva.conf import DEFAULTS, validate
from vahva.settings.config import load


def test_defaults_validate() -> None:
    assert validate({}) == {**DEFAULTS, **validate({})}


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
    ],
)
def test_bad_settings_are_errors(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(").replace(")", r"\)")):
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
