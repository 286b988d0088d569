"""People: e-mail as the username, argon2id parameters from settings, directory import."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError

from tests.helpers import sign_in_password
from vahva.accounts.directory import import_csv
from vahva.accounts.models import User

pytestmark = pytest.mark.django_db


def test_password_is_argon2id_with_owasp_parameters(alice: Any) -> None:
    assert alice.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_email_is_unique_whatever_the_case(alice: Any) -> None:
    with pytest.raises(IntegrityError):
        User.objects.create(email="ALICE@example.org")


def test_hash_is_upgraded_on_next_sign_in_when_parameters_change(
    alice: Any, client: Any, settings: Any, clock: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "ARGON2_TIME_COST": 3}
    assert sign_in_password(client).status_code == 302
    alice.refresh_from_db()
    assert "m=19456,t=3,p=1" in alice.password
    assert alice.check_password("correct horse battery")


def test_csv_import_creates_and_updates(alice: Any) -> None:
    report = import_csv(
        [
            "email,full_name,password\n",
            "Bob@Example.org,Bob Berg,bob password 1\n",
            "alice@example.org,Alice Aalto,\n",
            "carol@example.org,Carol,\n",
        ]
    )
    assert report.errors == []
    assert report.created == ["bob@example.org", "carol@example.org"]
    assert report.updated == ["alice@example.org"]
    assert User.objects.get(email="bob@example.org").check_password("bob password 1")
    assert not User.objects.get(email="carol@example.org").has_usable_password()
    assert User.objects.get(email="alice@example.org").full_name == "Alice Aalto"


def test_csv_with_a_bad_row_imports_nothing() -> None:
    report = import_csv(
        ["email,full_name\n", "ok@example.org,Ok\n", "not an address,X\n", "ok@example.org,Twice\n"]
    )
    assert "line 3: 'not an address' is not an e-mail address" in report.errors
    assert "line 4: ok@example.org appears twice" in report.errors
    assert not User.objects.exists()


def test_csv_without_header() -> None:
    assert import_csv(["alice@example.org\n"]).errors


def test_user_command(tmp_path: Path) -> None:
    out = StringIO()
    call_command(
        "user", "add", "dave@example.org", "--name", "Dave", "--generate-password", stdout=out
    )
    assert "Password (shown once): " in out.getvalue()
    with pytest.raises(CommandError, match="exists already"):
        call_command("user", "add", "Dave@example.org", "--generate-password")
    with pytest.raises(CommandError, match="is not an e-mail address"):
        call_command("user", "add", "dave", "--generate-password")
    csv = tmp_path / "people.csv"
    csv.write_text("email,full_name\nerin@example.org,Erin\n")
    out = StringIO()
    call_command("user", "import", str(csv), stdout=out)
    assert "Created 1, updated 0." in out.getvalue()
    out = StringIO()
    call_command("user", "list", stdout=out)
    assert "dave@example.org\tDave" in out.getvalue()
    assert "erin@example.org\tErin" in out.getvalue()


def test_client_secrets_use_the_fast_hasher_and_passwords_argon2(db: Any) -> None:
    from django.contrib.auth.hashers import check_password, make_password

    from vahva.oidc import clients

    new = clients.add(name="Mail", redirect_uris=["https://mail.example.org/cb"])
    stored = new.application.__class__.objects.get(pk=new.application.pk).client_secret
    assert stored.startswith("vahva_secret_sha256$")
    assert check_password(new.client_secret, stored)
    assert not check_password(new.client_secret + "x", stored)
    # People's passwords still get argon2id.
    assert make_password("correct horse battery").startswith("argon2$argon2id$")
