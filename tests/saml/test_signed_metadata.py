"""vahva's metadata at /saml/metadata is signed with its signing key and has a validUntil;
xmlsec1 verifies it with the certificate the metadata publishes, and not once changed."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path
from typing import Any

from django.test import Client

from vahva.saml import idp

NODE = "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"


def _xmlsec_verifies(xml: bytes, cert_pem: str, work: Path) -> bool:
    (work / "cert.pem").write_text(cert_pem)
    (work / "md.xml").write_bytes(xml)
    done = subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--enabled-key-data",
            "raw-x509-cert",
            "--pubkey-cert-pem",
            str(work / "cert.pem"),
            "--id-attr:ID",
            NODE,
            str(work / "md.xml"),
        ],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _pem(base64_text: str) -> str:
    return f"-----BEGIN CERTIFICATE-----\n{base64_text}\n-----END CERTIFICATE-----\n"


def _key_descriptor_certs(xml: str) -> list[str]:
    keys = re.findall(r'<md:KeyDescriptor use="signing">.*?</md:KeyDescriptor>', xml, re.S)
    return [re.search(r"<ds:X509Certificate>([^<]+)<", key).group(1) for key in keys]  # type: ignore[union-attr]


def test_the_metadata_is_signed_by_the_published_key_and_has_a_valid_until(
    client: Client, db: Any, settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path / "data"
    response = client.get("/saml/metadata")
    assert response.status_code == 200
    xml = response.content
    text = xml.decode()
    root = re.search(r"<md:EntityDescriptor [^>]*>", text)
    assert root
    document_id = re.search(r' ID="([^"]+)"', root.group(0))
    assert document_id
    # The signature is the EntityDescriptor's own, first child, over the whole document.
    assert re.search(r"entityID=[^>]*>\s*<ds:Signature>", text)
    assert f'<ds:Reference URI="#{document_id.group(1)}">' in text
    until = re.search(r'validUntil="([^"]+)"', root.group(0))
    assert until
    valid_until = dt.datetime.fromisoformat(until.group(1).replace("Z", "+00:00"))
    now = dt.datetime.now(dt.UTC)
    assert now + dt.timedelta(days=6) < valid_until <= now + dt.timedelta(days=7)

    published = _key_descriptor_certs(text)
    assert len(published) == 1
    assert _xmlsec_verifies(xml, _pem(published[0]), tmp_path)
    # Changed after signing (an SSO address moved elsewhere): the signature no longer holds.
    tampered = xml.replace(b"http://localhost:8000/saml/sso", b"https://evil.example/sso", 1)
    assert not _xmlsec_verifies(tampered, _pem(published[0]), tmp_path)
    # Another key does not verify it either.
    from .sp import cached_pair

    assert not _xmlsec_verifies(xml, cached_pair("attacker").cert_pem, tmp_path)


def test_after_a_rotation_the_new_key_signs_and_both_are_published(
    client: Client, db: Any, settings: Any, tmp_path: Path
) -> None:
    from django.core.management import call_command

    settings.DATA_DIR = tmp_path / "data"
    before = client.get("/saml/metadata").content
    call_command("saml", "rotate-key")
    after = client.get("/saml/metadata").content
    new, old = _key_descriptor_certs(after.decode())
    assert old == _key_descriptor_certs(before.decode())[0]
    assert _xmlsec_verifies(after, _pem(new), tmp_path)
    assert not _xmlsec_verifies(after, _pem(old), tmp_path)


def test_the_signed_copy_is_made_once_an_hour(
    client: Client, db: Any, settings: Any, tmp_path: Path, clock: Any
) -> None:
    settings.DATA_DIR = tmp_path / "data"
    first = idp.signed_metadata_xml()
    assert idp.signed_metadata_xml() is first
    clock.advance(3600)
    later = idp.signed_metadata_xml()
    assert later != first
    assert 'validUntil="2026-03-09T09:00:00Z"' in later  # signed at 09:00, valid 7 days
