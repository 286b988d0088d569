"""A throwaway Shibboleth SP 3 (Debian: apache2 libapache2-mod-shib) on 127.0.0.1.

shibd (-F) and apache2 (-DFOREGROUND) with every configuration file in a temporary
directory, started by the test and stopped by their pids. PEER-RECIPES.md §2b, plus:
``/mfa/`` asks the IdP for REFEDS MFA (``authnContextClassRef``), and the session handler
shows attribute values.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import httpx

from .conftest import free_port

SHIBD = "/usr/sbin/shibd"
APACHE = "/usr/sbin/apache2"

SHIBBOLETH2_XML = """\
<SPConfig xmlns="urn:mace:shibboleth:3.0:native:sp:config"
          xmlns:conf="urn:mace:shibboleth:3.0:native:sp:config" clockSkew="180">
  <OutOfProcess logger="{d}/console.logger"/>
  <InProcess logger="{d}/console.logger"/>
  <TCPListener address="127.0.0.1" port="{shibd_port}" acl="127.0.0.1"/>
  <ApplicationDefaults entityID="{sp_entity}" REMOTE_USER="eppn subject-id">
    <Sessions lifetime="28800" timeout="3600" relayState="ss:mem" checkAddress="false"
              handlerSSL="false" cookieProps="http" redirectLimit="exact">
      <SSO entityID="{idp_entity}">SAML2</SSO>
      <Logout>SAML2 Local</Logout>
      <Handler type="MetadataGenerator" Location="/Metadata" signing="false"/>
      <Handler type="Status" Location="/Status" acl="127.0.0.1 ::1"/>
      <Handler type="Session" Location="/Session" showAttributeValues="true"/>
    </Sessions>
    <Errors supportContact="root@localhost" helpLocation="/about.html"
            styleSheet="/shibboleth-sp/main.css"/>
    <MetadataProvider type="XML" validate="true" path="{d}/idp-metadata.xml"/>
    <AttributeExtractor type="XML" validate="true" reloadChanges="false"
                        path="{d}/attribute-map.xml"/>
    <CredentialResolver type="File" key="{d}/sp-key.pem" certificate="{d}/sp-cert.pem"/>
  </ApplicationDefaults>
  <SecurityPolicyProvider type="XML" validate="true" path="/etc/shibboleth/security-policy.xml"/>
  <ProtocolProvider type="XML" validate="true" reloadChanges="false"
                    path="/etc/shibboleth/protocols.xml"/>
</SPConfig>
"""

ATTRIBUTE_MAP = """\
<Attributes xmlns="urn:mace:shibboleth:2.0:attribute-map">
  <Attribute name="urn:oid:1.3.6.1.4.1.5923.1.1.1.6" id="eppn"/>
  <Attribute name="urn:oid:0.9.2342.19200300.100.1.3" id="mail"/>
  <Attribute name="urn:oid:2.16.840.1.113730.3.1.241" id="displayName"/>
  <Attribute name="urn:oid:1.3.6.1.4.1.5923.1.1.1.1" id="affiliation"/>
  <Attribute name="urn:oid:1.3.6.1.4.1.5923.1.1.1.9" id="scopedAffiliation"/>
  <Attribute name="urn:oid:1.3.6.1.4.1.25178.1.2.9" id="schacHomeOrganization"/>
  <Attribute name="urn:oasis:names:tc:SAML:attribute:pairwise-id" id="pairwise-id"/>
  <Attribute name="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" id="persistent-id">
    <AttributeDecoder xsi:type="NameIDAttributeDecoder"
        formatter="$NameQualifier!$SPNameQualifier!$Name" defaultQualifiers="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>
  </Attribute>
</Attributes>
"""

CONSOLE_LOGGER = """\
log4j.rootCategory=WARN, console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{%Y-%m-%d %H:%M:%S} %p %c %x: %m%n
"""

HTTPD_CONF = """\
ServerRoot {d}
ServerName 127.0.0.1:{http_port}
Listen 127.0.0.1:{http_port}
PidFile {d}/httpd.pid
DefaultRuntimeDir {d}
ErrorLog {d}/apache-error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule mod_shib /usr/lib/apache2/modules/mod_shib.so
DirectoryIndex index.html
UseCanonicalName On
ShibConfig {d}/shibboleth2.xml
DocumentRoot {d}/htdocs
<Location /Shibboleth.sso>
  SetHandler shib
</Location>
<Location /secure>
  AuthType shibboleth
  ShibRequestSetting requireSession 1
  Require shib-session
</Location>
<Location /mfa>
  AuthType shibboleth
  ShibRequestSetting requireSession 1
  ShibRequestSetting authnContextClassRef https://refeds.org/profile/mfa
  Require shib-session
</Location>
"""


def _wait_port(port: int, proc: subprocess.Popen[bytes], deadline: float, log: Path) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited rc={proc.returncode}:\n" + log.read_text()[-3000:])
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)  # polling a child process's port, with a deadline
    raise TimeoutError(log.read_text()[-3000:])


def available() -> bool:
    return all(Path(tool).exists() for tool in (SHIBD, APACHE, "/usr/bin/xmlsec1"))


class ShibSP:
    """``with ShibSP(idp_entity_id, idp_metadata_xml) as sp:`` … ``sp.base``."""

    def __init__(self, idp_entity_id: str, idp_metadata_xml: str) -> None:
        # Not pytest's tmp_path: it is 0700, and apache's children (www-data) read this.
        self.dir = Path(tempfile.mkdtemp(prefix="shibsp-"))
        self.http_port, self.shibd_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.entity_id = f"{self.base}/shibboleth"
        self.idp_entity_id, self.idp_metadata_xml = idp_entity_id, idp_metadata_xml
        self.procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    def __enter__(self) -> ShibSP:
        try:
            return self._start(timeout=30)
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _spawn(self, args: list[str | Path], log: Path) -> subprocess.Popen[bytes]:
        handle = open(log, "wb")  # noqa: SIM115 (closed in stop())
        self._logs.append(handle)
        proc = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def _start(self, *, timeout: float) -> ShibSP:
        d = self.dir
        os.chmod(d, 0o755)  # noqa: S103 apache's children run as www-data and must traverse it
        for page in ("secure", "mfa"):
            (d / "htdocs" / page).mkdir(parents=True, exist_ok=True)
            (d / "htdocs" / page / "index.html").write_text(f"protected {page}\n")
        (d / "idp-metadata.xml").write_text(self.idp_metadata_xml)
        (d / "console.logger").write_text(CONSOLE_LOGGER)
        (d / "attribute-map.xml").write_text(ATTRIBUTE_MAP)
        (d / "shibboleth2.xml").write_text(
            SHIBBOLETH2_XML.format(
                d=d,
                shibd_port=self.shibd_port,
                sp_entity=self.entity_id,
                idp_entity=self.idp_entity_id,
            )
        )
        (d / "httpd.conf").write_text(HTTPD_CONF.format(d=d, http_port=self.http_port))
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=sp.test", "-keyout", d / "sp-key.pem", "-out", d / "sp-cert.pem"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        os.chmod(d / "sp-key.pem", 0o644)  # a throwaway key that mod_shib (www-data) loads too
        deadline = time.monotonic() + timeout
        shibd = self._spawn(
            [SHIBD, "-F", "-f", "-c", d / "shibboleth2.xml", "-p", d / "shibd.pid"],
            d / "shibd.log",
        )
        _wait_port(self.shibd_port, shibd, deadline, d / "shibd.log")
        apache = self._spawn([APACHE, "-DFOREGROUND", "-f", d / "httpd.conf"], d / "apache.log")
        _wait_port(self.http_port, apache, deadline, d / "apache.log")
        # An open port is not readiness: if mod_shib fails in child_init, requests hang.
        while True:
            try:
                httpx.get(self.base + "/Shibboleth.sso/Metadata", timeout=2).raise_for_status()
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise TimeoutError((d / "apache-error.log").read_text()[-3000:]) from None
                time.sleep(0.2)  # polling readiness, with a deadline

    def metadata(self) -> str:
        return httpx.get(self.base + "/Shibboleth.sso/Metadata", timeout=5).text

    def log_tail(self) -> str:
        parts = []
        for name in ("shibd.log", "apache-error.log"):
            path = self.dir / name
            if path.exists():
                parts.append(f"--- {name}\n" + path.read_text()[-3000:])
        return "\n".join(parts)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()  # apache's parent stops its www-data children on SIGTERM
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs = []
        for handle in self._logs:
            handle.close()
        self._logs = []
        shutil.rmtree(self.dir, ignore_errors=True)
