"""Cookies under https carry the __Host- prefix (Secure, Path=/, no Domain); plain http for
development goes without it (browsers refuse the prefix without Secure)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from vahva.crypto import new_key

PRODUCTION_TOML = """\
debug = false
secret_key = "{secret}"
allowed_hosts = ["mfa.example.org"]

[vahva]
public_url = "https://mfa.example.org"
trusted_proxies = ["10.0.0.5"]
encryption_key_id = "k1"
encryption_keys = {{ k1 = "{key}" }}
"""

# Run in a process of its own: the production settings module, as `vahva serve` loads it.
SET_COOKIES = """
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from vahva.accounts.models import User
from vahva.signin import remembered
User.objects.create_user("alice@example.org", "correct horse battery", full_name="Alice")
browser = Client(HTTP_HOST="mfa.example.org")
seen = {}
def keep(response):
    for name, morsel in response.cookies.items():
        seen[name] = morsel.OutputString()
keep(browser.get("/signin/", secure=True))
keep(browser.post(
    "/signin/", {"email": "alice@example.org", "password": "correct horse battery"}, secure=True
))
keep(browser.post("/i18n/setlang/", {"language": "fi", "next": "/"}, secure=True))
print(json.dumps({"cookies": seen, "remember": remembered.COOKIE}))
"""


def _production_cookies(tmp_path: Path) -> dict[str, object]:
    (tmp_path / "vahva.toml").write_text(
        PRODUCTION_TOML.format(secret=secrets.token_urlsafe(48), key=new_key())
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VAHVA_", "DJANGO_")) and key not in ("DATABASE_URL", "REDIS_URL")
    }
    result = subprocess.run(
        [sys.executable, "-c", SET_COOKIES],
        env={
            **env,
            "VAHVA_DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "vahva.settings.main",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'vahva.sqlite3'}",
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    shown: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return shown


def test_https_cookies_use_the_host_prefix(tmp_path: Path) -> None:
    shown = _production_cookies(tmp_path)
    cookies = shown["cookies"]
    assert isinstance(cookies, dict)
    assert set(cookies) == {
        "__Host-vahva_session",
        "__Host-csrftoken",
        "__Host-vahva_known",
        "__Host-vahva_language",
    }
    for name, header in cookies.items():
        parts = [part.strip() for part in header.split(";")]
        # What a browser demands of __Host-: Secure, Path=/ and no Domain (host-only).
        assert "Secure" in parts, header
        assert "Path=/" in parts, header
        assert not any(part.lower().startswith("domain=") for part in parts), header
        assert "SameSite=Lax" in parts, header
        assert "HttpOnly" in parts, header
        assert parts[0].startswith(f"{name}="), header
    assert shown["remember"] == "__Host-vahva_remember"


def test_plain_http_development_names_have_no_prefix() -> None:
    # The test settings are the development case: http://localhost, secure_cookies off.
    assert settings.SESSION_COOKIE_NAME == "vahva_session"
    assert settings.CSRF_COOKIE_NAME == "csrftoken"
    assert settings.LANGUAGE_COOKIE_NAME == "vahva_language"
    assert settings.SESSION_COOKIE_SECURE is False
    assert settings.CSRF_COOKIE_SECURE is False
