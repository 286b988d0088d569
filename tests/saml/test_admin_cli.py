"""Connecting services: the `vahva saml` command, the admin upload, key rotation."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from vahva.audit.models import AuditEvent
from vahva.saml.models import ServiceProvider

from .sp import ENTITY, TestSP


def _run(*args: str) -> str:
    out = StringIO()
    call_command("saml", *args, stdout=out)
    return out.getvalue()


def test_add_list_and_remove_from_the_command_line(tmp_path: Path, idp_metadata: str) -> None:
    metadata = tmp_path / "sp.xml"
    metadata.write_text(TestSP(idp_metadata).metadata())
    added = _run(
        "sp", "add", "--metadata", str(metadata), "--name", "Demo Learn", "--mfa", "always"
    )
    assert f"Added Demo Learn: {ENTITY}" in added
    sp = ServiceProvider.objects.get(entity_id=ENTITY)
    assert (sp.name, sp.mfa_rule, sp.enabled) == ("Demo Learn", "always", True)
    assert "mfa=always" in _run("sp", "list")
    with pytest.raises(CommandError, match="exists already"):
        _run("sp", "add", "--metadata", str(metadata))
    assert "Removed Demo Learn." in _run("sp", "remove", ENTITY)
    assert not ServiceProvider.objects.exists()
    assert AuditEvent.objects.filter(action="saml.sp_removed").exists()
    with pytest.raises(CommandError, match="no service"):
        _run("sp", "remove", ENTITY)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<not-metadata/>", "EntityDescriptor"),
        (b"\xff\xfe", "UTF-8"),
        (
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
            "forbidden XML",
        ),
    ],
)
def test_bad_metadata_is_refused_with_a_reason(
    tmp_path: Path, db: Any, content: bytes, message: str
) -> None:
    metadata = tmp_path / "sp.xml"
    metadata.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        _run("sp", "add", "--metadata", str(metadata))
    assert not ServiceProvider.objects.exists()


def test_unknown_release_attribute_is_refused(tmp_path: Path, idp_metadata: str) -> None:
    metadata = tmp_path / "sp.xml"
    metadata.write_text(TestSP(idp_metadata).metadata())
    with pytest.raises(CommandError, match="unknown attribute"):
        _run("sp", "add", "--metadata", str(metadata), "--release", "mail,password")


def test_the_admin_adds_a_service_from_an_uploaded_file(
    admin_client: Client, idp_metadata: str
) -> None:
    upload = SimpleUploadedFile("sp.xml", TestSP(idp_metadata).metadata().encode())
    response = admin_client.post(
        "/admin/saml/serviceprovider/add/",
        {
            "metadata_file": upload,
            "name": "",
            "mfa_rule": "always",
            "profile": "standard",
            "release": ["mail", "displayName"],
            "enabled": "on",
            "metadata_xml": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    sp = ServiceProvider.objects.get()
    assert (sp.entity_id, sp.name, sp.release) == (ENTITY, ENTITY, ["mail", "displayName"])
    bad = admin_client.post(
        "/admin/saml/serviceprovider/add/",
        {
            "metadata_file": SimpleUploadedFile("x.xml", b"<x/>"),
            "mfa_rule": "always",
            "profile": "standard",
        },
    )
    assert bad.status_code == 200
    assert "EntityDescriptor" in bad.content.decode()


def test_rotation_publishes_the_old_and_the_new_certificate(
    client: Client, db: Any, settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    key = '<md:KeyDescriptor use="signing">'
    before = client.get("/saml/metadata").content.decode()
    assert before.count(key) == 1
    assert "New SAML signing key" in _run("rotate-key")
    after = client.get("/saml/metadata").content.decode()
    assert after.count(key) == 2
    old = before.split(key)[1].split("<ds:X509Certificate>")[1].split("<")[0]
    assert old in after
    assert after.split(key)[1].split("<ds:X509Certificate>")[1].split("<")[0] != old  # new first
    _run("rotate-key", "--keep-days", "0")
    # Only retired keys older than zero days are dropped: the one retired just now stays.
    assert client.get("/saml/metadata").content.decode().count(key) >= 2


def test_a_missing_xmlsec1_is_a_warning_at_start_and_a_503(
    client: Client, service: Any, monkeypatch: Any
) -> None:
    from urllib.parse import urlsplit

    from vahva.saml import checks, idp

    from .conftest import SSO

    sp, _row = service
    _request_id, url = sp.redirect_url(SSO)
    assert checks.xmlsec_installed() == []
    monkeypatch.setattr(idp.shutil, "which", lambda name: None)
    monkeypatch.setattr(idp, "XMLSEC", "/nonexistent/xmlsec1")
    assert [message.id for message in checks.xmlsec_installed()] == ["vahva.saml.W001"]
    idp._cache.clear()
    response = client.get(f"{urlsplit(url).path}?{urlsplit(url).query}")
    assert response.status_code == 503
    assert client.get("/saml/metadata").status_code == 200  # metadata needs no xmlsec1
