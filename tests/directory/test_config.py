"""[vahva.directory]: off by default, and every mistake stops the start naming its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from vahva.conf import validate
from vahva.directory.config import Membership, parse
from vahva.settings.config import load

GOOD = {
    "enabled": True,
    "urls": ["ldaps://dc1.example.org", "ldaps://dc2.example.org"],
    "bind_dn": "cn=vahva,ou=services,dc=example,dc=org",
    "bind_password": "service-secret",
    "user_base": "ou=people,dc=example,dc=org",
}


def test_off_by_default() -> None:
    assert validate({})["DIRECTORY"] == {"enabled": False}
    assert parse({}).enabled is False


def test_a_good_table_parses() -> None:
    config = parse(GOOD)
    assert config.uri == "ldaps://dc1.example.org ldaps://dc2.example.org"
    assert config.attributes["immutable_id"] == "entryUUID"
    assert config.group_membership is Membership.MEMBER_OF
    assert "service-secret" not in repr(config)


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        ({"urls": ["ldap://dc1.example.org"]}, "urls", "needs ldaps:// or start_tls = true"),
        ({"urls": []}, "urls", "at least one"),
        ({"urls": ["http://dc1.example.org"]}, "urls", "must start with ldaps://"),
        ({"user_base": ""}, "user_base", "is needed"),
        ({"user_filter": "(uid=alice)"}, "user_filter", "%(user)s"),
        ({"user_filter": "(uid=%(user)s"}, "user_filter", "not an LDAP filter"),
        ({"timeout": 0}, "timeout", ">= 1"),
        ({"bind_password": ""}, "bind_password", "go together"),
        ({"ca_file": "/nonexistent/ca.pem"}, "ca_file", "is not a file"),
        ({"attributes": {"shoe_size": "x"}}, "attributes", "takes only"),
        ({"attributes": {"email": "mail)(x"}}, "attributes.email", "not an attribute name"),
        ({"group_membership": "nested"}, "group_membership", "not a valid"),
        ({"password_modify": "plain"}, "password_modify", "not a valid"),
        ({"colour": "blue"}, "colour", "unknown key"),
        ({"enabled": "yes"}, "enabled", "true or false"),
        ({"password_change_url": "http://x"}, "password_change_url", "https://"),
    ],
)
def test_mistakes_name_the_key(change: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        validate({"DIRECTORY": {**GOOD, **change}})
    assert f"[vahva.directory] {key}:" in str(caught.value)
    assert words in str(caught.value)


def test_plain_ldap_is_allowed_on_loopback_or_with_starttls() -> None:
    assert parse({**GOOD, "urls": ["ldap://127.0.0.1:3389", "ldap://localhost"]}).enabled
    assert parse({**GOOD, "urls": ["ldap://dc1.example.org"], "start_tls": True}).start_tls


def test_the_toml_table_and_the_secret_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "vahva.toml"
    path.write_text(
        'secret_key = "x"\n[vahva.directory]\nenabled = true\n'
        'urls = ["ldaps://dc1.example.org"]\nuser_base = "ou=people,dc=example,dc=org"\n'
        'bind_dn = "cn=vahva,dc=example,dc=org"\n'
    )
    config = load({"VAHVA_CONFIG": str(path), "VAHVA_DIRECTORY_BIND_PASSWORD": "from-vault"})
    table = validate(config.vahva)["DIRECTORY"]
    assert parse(table).bind_password == "from-vault"
    assert parse(table).urls == ("ldaps://dc1.example.org",)
