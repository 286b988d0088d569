"""A real OpenLDAP slapd on loopback for the directory tests (Debian: slapd ldap-utils).

slapd runs in the foreground as our child (``-d 0``: Popen owns the real pid), its
configuration and database in a temporary directory, listening on 127.0.0.1 only (ldap://
and, with a certificate, ldaps://). The data is loaded with ldapadd after the start, so that
the memberof overlay fills in memberOf. The entries carry both OpenLDAP's attributes and
Active Directory's (sAMAccountName, userPrincipalName, objectGUID, userAccountControl; a
small schema with their real OIDs and EQUALITY rules), so one server plays both shapes.
``freeze()`` SIGSTOPs it: a hung directory (TCP connects still succeed, nothing answers).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import ldap
from ldap import modlist

from tests.redis_server import free_port

BASE = "dc=example,dc=com"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PW = "adminpw-directory"
HELPDESK_GROUP = f"cn=helpdesk,{GROUPS}"
ADMINS_GROUP = f"cn=vahva-admins,{GROUPS}"
#: uid → (password, userAccountControl): 512 is a normal account, 514 a disabled one.
USERS: dict[str, tuple[str, int]] = {
    "alice": ("alice-directory-pw", 512),
    "bob": ("bob-directory-pw", 512),
    "carol": ("carol-directory-pw", 512),
    "dave": ("dave-directory-pw", 514),
    "erin": ("erin-directory-pw", 512),
}
MEMBERS = {HELPDESK_GROUP: ["alice"], ADMINS_GROUP: ["erin"]}

AD_LITE_SCHEMA = """\
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2 NAME 'objectGUID'
  EQUALITY octetStringMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
  EQUALITY integerMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.90 NAME 'unicodePwd'
  EQUALITY octetStringMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
objectclass ( 1.1.2.1.1 NAME 'adLiteObject' SUP top AUXILIARY
  MAY ( sAMAccountName $ userPrincipalName $ objectGUID $ userAccountControl $ unicodePwd ) )
"""

SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include {d}/ad-lite.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
{tls}
database mdb
maxsize 1073741824
suffix "{base}"
rootdn "{admin}"
rootpw {rootpw}
directory {d}/db
sizelimit unlimited
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
access to attrs=userPassword,unicodePwd by self write by anonymous auth by * none
access to * by * read
"""


def ssha(password: str) -> str:
    """{SSHA}: base64(sha1(password + salt) + salt), as ``slappasswd`` writes it."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 (slapd's format)
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def unicode_pwd(password: str) -> bytes:
    return f'"{password}"'.encode("utf-16-le")


def guid(number: int) -> bytes:
    """An objectGUID as AD stores it (little-endian UUID bytes)."""
    return uuid.UUID(int=number).bytes_le


def person_entry(uid: str, password: str, *, number: int, control: int = 512) -> dict[str, Any]:
    return {
        "objectClass": [b"inetOrgPerson", b"adLiteObject"],
        "uid": [uid.encode()],
        "cn": [f"{uid.title()} Example".encode()],
        "sn": [b"Example"],
        "givenName": [uid.title().encode()],
        "mail": [f"{uid}@example.com".encode()],
        "mobile": [f"+35840{number:07d}".encode()],
        "sAMAccountName": [uid.encode()],
        "userPrincipalName": [f"{uid}@corp.example.com".encode()],
        "objectGUID": [guid(number)],
        "userAccountControl": [str(control).encode()],
        "userPassword": [ssha(password).encode()],
        # AD's password attribute: the password in double quotes, UTF-16-LE.
        "unicodePwd": [unicode_pwd(password)],
    }


class SlapdServer:
    def __init__(self, tmpdir: Path, tls: tuple[Path, Path, Path] | None = None) -> None:
        self.dir = Path(tmpdir)
        self.port = free_port()
        self.uri = f"ldap://127.0.0.1:{self.port}"
        self.ldaps_port = free_port() if tls else 0
        self.ldaps_uri = f"ldaps://127.0.0.1:{self.ldaps_port}" if tls else ""
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def user_dn(uid: str) -> str:
        return f"uid={uid},{PEOPLE}"

    def start(self, timeout: float = 15) -> SlapdServer:
        d = self.dir
        (d / "db").mkdir(parents=True, exist_ok=True)
        (d / "ad-lite.schema").write_text(AD_LITE_SCHEMA)
        tls = ""
        if self.tls:
            cert, key, ca = self.tls
            tls = (
                f"TLSCACertificateFile {ca}\nTLSCertificateFile {cert}\nTLSCertificateKeyFile {key}"
            )
        (d / "slapd.conf").write_text(
            SLAPD_CONF.format(d=d, base=BASE, admin=ADMIN_DN, rootpw=ssha(ADMIN_PW), tls=tls)
        )
        urls = self.uri + "/" + (f" {self.ldaps_uri}/" if self.tls else "")
        log = open(d / "slapd.log", "wb")  # noqa: SIM115 (kept open for the child's life)
        self.proc = subprocess.Popen(
            ["/usr/sbin/slapd", "-d", "0", "-h", urls, "-f", str(d / "slapd.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.admin().unbind_s()
                break
            except ldap.SERVER_DOWN:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("slapd did not start:\n" + (d / "slapd.log").read_text())
            # A poll with a deadline, not a sleep: it ends at once if slapd dies.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(0.05)
        self.load()
        return self

    def admin(self) -> Any:
        conn = ldap.initialize(self.uri)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 2)
        conn.set_option(ldap.OPT_TIMEOUT, 5)
        conn.simple_bind_s(ADMIN_DN, ADMIN_PW)
        return conn

    def load(self) -> None:
        conn = self.admin()
        add = conn.add_s
        add(
            BASE,
            modlist.addModlist(
                {
                    "objectClass": [b"dcObject", b"organization"],
                    "dc": [b"example"],
                    "o": [b"Example"],
                }
            ),
        )
        for ou in ("people", "groups"):
            add(
                f"ou={ou},{BASE}",
                modlist.addModlist({"objectClass": [b"organizationalUnit"], "ou": [ou.encode()]}),
            )
        for number, (uid, (password, control)) in enumerate(USERS.items(), start=1):
            add(
                self.user_dn(uid),
                modlist.addModlist(person_entry(uid, password, number=number, control=control)),
            )
        for group, uids in MEMBERS.items():
            add(
                group,
                modlist.addModlist(
                    {
                        "objectClass": [b"groupOfNames"],
                        "cn": [group.split(",")[0][3:].encode()],
                        "member": [self.user_dn(uid).encode() for uid in uids],
                    }
                ),
            )
        conn.unbind_s()

    def modify(self, dn: str, **values: list[bytes]) -> None:
        conn = self.admin()
        conn.modify_s(dn, [(ldap.MOD_REPLACE, name, value) for name, value in values.items()])
        conn.unbind_s()

    def add_person(self, uid: str, password: str, *, number: int, control: int = 512) -> None:
        conn = self.admin()
        conn.add_s(
            self.user_dn(uid),
            modlist.addModlist(person_entry(uid, password, number=number, control=control)),
        )
        conn.unbind_s()

    def delete(self, dn: str) -> None:
        conn = self.admin()
        conn.delete_s(dn)
        conn.unbind_s()

    def freeze(self) -> None:
        """A hung directory: the kernel still accepts connections, slapd answers nothing."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.thaw()  # a stopped process acts on SIGTERM only once continued
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> SlapdServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
