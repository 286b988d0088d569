"""Federation aggregates for tests: built from test services' metadata, signed with xmlsec1
by a test federation key, and served from a small HTTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.etree import ElementTree as ET

from vahva.saml import keys

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NODE = f"{MD}:EntitiesDescriptor"
RS = "http://refeds.org/category/research-and-scholarship"

SIGNATURE = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<ds:Reference URI="#{ref}"><ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
    "<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>"
    "<ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"
)


def entity(metadata: str, *, categories: Iterable[str] = (), entity_id: str = "") -> str:
    """One EntityDescriptor for an aggregate, with entity categories asserted in it."""
    root = ET.fromstring(metadata)  # noqa: S314 (the test's own services' metadata)
    for attribute in ("ID", "validUntil", "cacheDuration"):
        root.attrib.pop(attribute, None)
    if entity_id:
        root.set("entityID", entity_id)
    categories = list(categories)
    if categories:
        extensions = root.find(f"{{{MD}}}Extensions")
        if extensions is None:
            extensions = ET.Element(f"{{{MD}}}Extensions")
            root.insert(0, extensions)
        attrs = ET.SubElement(
            extensions, "{urn:oasis:names:tc:SAML:metadata:attribute}EntityAttributes"
        )
        saml = "urn:oasis:names:tc:SAML:2.0:assertion"
        attribute = ET.SubElement(
            attrs,
            f"{{{saml}}}Attribute",
            Name="http://macedir.org/entity-category",
            NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
        )
        for category in categories:
            ET.SubElement(attribute, f"{{{saml}}}AttributeValue").text = category
    return ET.tostring(root, encoding="unicode")


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_days(days: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


def unsigned(
    entities: Iterable[str],
    *,
    valid_until: dt.datetime | None = None,
    with_valid_until: bool = True,
    agg_id: str = "_fed1",
    template: bool = True,
    reference: str | None = None,
) -> str:
    """An aggregate with a signature template (signed by :func:`sign`) or none."""
    until = f' validUntil="{stamp(valid_until or in_days(7))}"' if with_valid_until else ""
    signature = SIGNATURE.replace("{ref}", reference or agg_id) if template else ""
    return (
        f'<md:EntitiesDescriptor xmlns:md="{MD}" ID="{agg_id}"{until} '
        f'Name="https://federation.example">{signature}{"".join(entities)}</md:EntitiesDescriptor>'
    )


def sign(xml: str, pair: keys.KeyPair, *, node: str = NODE, node_id: str | None = None) -> bytes:
    """``xml`` with its signature template filled in by xmlsec1 with ``pair``."""
    with tempfile.TemporaryDirectory() as work:
        source, target = Path(work, "in.xml"), Path(work, "out.xml")
        source.write_text(xml, encoding="utf-8")
        command = [
            "xmlsec1",
            "--sign",
            "--privkey-pem",
            f"{pair.key_file},{pair.cert_file}",
            "--id-attr:ID",
            node,
            "--output",
            str(target),
        ]
        if node_id:
            command += ["--node-id", node_id]
        subprocess.run([*command, str(source)], check=True, capture_output=True)
        return target.read_bytes()


def signed(entities: Iterable[str], pair: keys.KeyPair, **kwargs: object) -> bytes:
    return sign(unsigned(entities, **kwargs), pair)  # type: ignore[arg-type]


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    hang: bool = False
    #: False: no Content-Length, the body ends when the connection closes.
    declare_length: bool = True


@dataclass
class MetadataServer:
    """A loopback HTTP server whose pages a test sets: ``server.pages['/fed.xml'] = Page(…)``."""

    port: int = 0
    pages: dict[str, Page] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def serve() -> Iterator[MetadataServer]:
    state = MetadataServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = state.pages.get(self.path)
            if page is None:
                self.send_error(404)
                return
            if page.hang:
                # A server that never answers: the client's deadline must end the wait.
                state.release.wait(30)
                return
            self.send_response(page.status)
            self.send_header("Content-Type", "application/samlmetadata+xml")
            if page.declare_length:
                self.send_header("Content-Length", str(len(page.body)))
            self.end_headers()
            self.wfile.write(page.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
