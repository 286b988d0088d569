"""A real slapd per test (started on loopback in about half a second), and vahva configured
to use it: sign-in by bind with ModelBackend behind it, as settings/main.py sets it up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The directory extra (python-ldap) is built from source: `make test` as root installs it.
pytest.importorskip("ldap", reason="the directory extra is not installed (make test as root)")
import trustme

from tests.slapd_server import ADMIN_DN, ADMIN_PW, ADMINS_GROUP, HELPDESK_GROUP, PEOPLE, SlapdServer

BACKENDS = [
    "vahva.directory.backend.DirectoryBackend",
    "django.contrib.auth.backends.ModelBackend",
]


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for 127.0.0.1: (cert, key, ca)."""
    d = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    cert.private_key_pem.write_to_path(str(d / "key.pem"))
    return d / "cert.pem", d / "key.pem", d / "ca.pem"


@pytest.fixture
def slapd(tmp_path: Path, tls_files: tuple[Path, Path, Path]) -> Iterator[SlapdServer]:
    with SlapdServer(tmp_path / "slapd", tls=tls_files) as server:
        yield server


def openldap_table(slapd: SlapdServer, **overrides: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "urls": [slapd.uri],
        "bind_dn": ADMIN_DN,
        "bind_password": ADMIN_PW,
        "user_base": PEOPLE,
        "user_filter": "(|(mail=%(user)s)(uid=%(user)s))",
        "helpdesk_groups": [HELPDESK_GROUP],
        "admin_groups": [ADMINS_GROUP],
        "timeout": 1,
        **overrides,
    }


def ad_table(slapd: SlapdServer, **overrides: Any) -> dict[str, Any]:
    """The same server read as Active Directory is: sAMAccountName, userPrincipalName,
    objectGUID, memberOf and the ACCOUNTDISABLE bit of userAccountControl."""
    return openldap_table(
        slapd,
        user_filter=("(|(mail=%(user)s)(userPrincipalName=%(user)s)(sAMAccountName=%(user)s))"),
        sync_filter="(objectClass=adLiteObject)",
        disabled_filter="(userAccountControl:1.2.840.113556.1.4.803:=2)",
        attributes={
            "immutable_id": "objectGUID",
            "username": "sAMAccountName",
            "full_name": "cn",
        },
        **overrides,
    )


@pytest.fixture
def configure(settings: Any, db: Any) -> Any:
    """configure(table): turn the directory on with ``table`` for this test."""

    def apply(table: dict[str, Any]) -> dict[str, Any]:
        settings.VAHVA = {**settings.VAHVA, "DIRECTORY": table}
        settings.AUTHENTICATION_BACKENDS = BACKENDS
        return table

    return apply


@pytest.fixture
def directory(configure: Any, slapd: SlapdServer) -> SlapdServer:
    """vahva on the slapd, read as OpenLDAP is."""
    configure(openldap_table(slapd))
    return slapd


@pytest.fixture
def ad_directory(configure: Any, slapd: SlapdServer) -> SlapdServer:
    """vahva on the slapd, read as Active Directory is."""
    configure(ad_table(slapd))
    return slapd
