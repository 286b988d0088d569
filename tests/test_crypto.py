"""Secrets at rest: AES-GCM, bound to a purpose, rotatable; the column never holds the secret."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from vahva import crypto
from vahva.methods.models import RegisteredMethod
from vahva.methods.totp import generate_secret

NEW_KEY = "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _raw_secret(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM methods_registeredmethod WHERE id = %s", [pk])
        return str(cursor.fetchone()[0])


def test_round_trip_and_fresh_nonce_each_time() -> None:
    one = crypto.encrypt("s3cret", purpose="p")
    two = crypto.encrypt("s3cret", purpose="p")
    assert one != two
    assert crypto.decrypt(one, purpose="p") == crypto.decrypt(two, purpose="p") == "s3cret"
    assert crypto.key_id_of(one) == "k1"


def test_ciphertext_from_another_purpose_does_not_decrypt() -> None:
    stored = crypto.encrypt("s3cret", purpose="method-secret")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stored, purpose="enrolment-secret")


def test_tampered_ciphertext_does_not_decrypt() -> None:
    stored = crypto.encrypt("s3cret", purpose="p")
    flipped = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(flipped, purpose="p")


def test_unknown_key_id_is_an_error() -> None:
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt("nokey$AAAA", purpose="p")


def test_database_column_does_not_contain_the_totp_secret(alice_totp: tuple[Any, str]) -> None:
    method, secret = alice_totp
    raw = _raw_secret(method.pk)
    assert secret not in raw
    assert secret.lower() not in raw.lower()
    assert raw.startswith("k1$")
    assert RegisteredMethod.objects.get(pk=method.pk).secret == secret


def test_rotate_keys_reencrypts_under_the_new_key(
    alice_totp: tuple[Any, str], settings: Any
) -> None:
    method, secret = alice_totp
    settings.VAHVA = {
        **settings.VAHVA,
        "ENCRYPTION_KEYS": {**settings.VAHVA["ENCRYPTION_KEYS"], "k2": NEW_KEY},
        "ENCRYPTION_KEY_ID": "k2",
    }
    assert _raw_secret(method.pk).startswith("k1$")
    out = StringIO()
    call_command("rotate_keys", stdout=out)
    assert "Re-encrypted 1 secret(s) under key id 'k2'" in out.getvalue()
    assert _raw_secret(method.pk).startswith("k2$")
    # The old key can now be dropped: the secret still reads back.
    settings.VAHVA = {**settings.VAHVA, "ENCRYPTION_KEYS": {"k2": NEW_KEY}}
    assert RegisteredMethod.objects.get(pk=method.pk).secret == secret
    call_command("rotate_keys", stdout=StringIO())  # nothing left to do, no error


def test_new_key_is_32_random_bytes() -> None:
    import base64

    keys = {crypto.new_key() for _ in range(10)}
    assert len(keys) == 10
    assert all(len(base64.urlsafe_b64decode(k)) == 32 for k in keys)


@pytest.mark.django_db
def test_secret_field_survives_generate_secret(alice: Any) -> None:
    from vahva.methods import service

    secret = generate_secret()
    method = service.save_new(alice, "totp", now=alice.date_joined, secret=secret)
    assert RegisteredMethod.objects.get(pk=method.pk).secret == secret
