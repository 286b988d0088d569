"""SAML web browser SSO round trips per second, beside OIDC code round trips, same run.

Set-up: a throwaway vahva (as in bench/oidc.py), an OIDC service ("Mail", MFA rule "always",
from ``bench/oidc.py``), and two SAML services added with ``vahva.saml.providers.add`` from
metadata made by pysaml2 (MFA rule "always"): *Learn*, whose metadata has a signing key only,
and *Learn, encrypted*, whose key may also encrypt, so its assertions are encrypted to it.
Each browser is a person with TOTP who signs in once through the real pages (password, then
the code, CSRF enforced) on the way to an OIDC code; that session then serves both protocols.

What is counted:

- an **SSO round trip**: the browser's ``GET /saml/sso?SAMLRequest=…`` (HTTP-Redirect
  binding, a new request id each time, as a service sends) answered 200 with the auto-posting
  form that carries the signed Response (Response and Assertion signed, RSA-SHA256, by the
  xmlsec1 program; the encrypted service's Assertion encrypted too). The service's own check
  of the Response is not counted, as the OIDC row does not count the service's ID-token check;
  the first Response of each service is verified with pysaml2 as a service would.
- an **OIDC code round trip**: as in ``bench/oidc.py``, ``GET /o/authorize/`` (302 with a
  code) and the service's ``POST /o/token/``.

Phases, each bounded by ``--seconds``: in-process (``django.test.Client``), then over HTTP
against ``vahva serve`` pinned to one core with 1 and ``--clients`` browsers. Last, one
xmlsec1 signature of a small document is timed alone: a Response costs two of them.

    .venv/bin/python bench/saml.py [--seconds N] [--clients N] [--no-http]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import math
import os
import secrets
import sys
import tempfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from _common import (
    BenchError,
    Figures,
    Person,
    begin_run,
    expect,
    make_people,
    measure,
    percentile,
    pin,
    serving,
    throwaway_vahva,
    timed_alone,
)

from oidc import Service, add_service, exchange, round_trip, sign_in_for_code

POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"


@dataclass(frozen=True)
class SamlService:
    name: str
    entity_id: str
    acs: str
    config: Any  # the service's pysaml2 SPConfig, to read the first Response


def add_saml_service(name: str, slug: str, *, encrypted: bool, idp_metadata: str) -> SamlService:
    """A service as pysaml2 describes itself, added as an admin would (MFA rule "always")."""
    from saml2.config import SPConfig
    from saml2.metadata import entity_descriptor

    from vahva.saml import keys, providers

    pair = keys.ensure(Path(tempfile.mkdtemp(prefix=f"bench-{slug}-")), common_name=slug)
    entity_id, acs = f"https://{slug}.bench.example/sp", f"https://{slug}.bench.example/acs"
    values: dict[str, Any] = {
        "entityid": entity_id,
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "key_file": str(pair.key_file),
        "cert_file": str(pair.cert_file),
        "metadata": {"inline": [idp_metadata]},
        "allow_unknown_attributes": True,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(acs, POST)]},
                "want_response_signed": True,
                "want_assertions_signed": True,
                "name_id_format": [PERSISTENT],
            }
        },
    }
    if encrypted:
        values["encryption_keypairs"] = [
            {"key_file": str(pair.key_file), "cert_file": str(pair.cert_file)}
        ]
    config = SPConfig()
    config.load(values)
    metadata = str(entity_descriptor(config))
    if not encrypted:
        metadata = metadata.replace("<md:KeyDescriptor>", '<md:KeyDescriptor use="signing">')
    providers.add(metadata=metadata.encode(), name=name, mfa_rule="always")
    return SamlService(name, entity_id, acs, config)


def sso_path(service: SamlService, sso_url: str) -> tuple[str, str]:
    """(request id, /saml/sso?SAMLRequest=…): a fresh AuthnRequest, deflated and encoded as
    the HTTP-Redirect binding says. Made by hand: a few µs, not the service's pysaml2."""
    request_id = "_" + secrets.token_hex(16)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID="{request_id}" Version="2.0" IssueInstant="{now}" Destination="{sso_url}" '
        f'AssertionConsumerServiceURL="{service.acs}" ProtocolBinding="{POST}">'
        f"<saml:Issuer>{service.entity_id}</saml:Issuer>"
        f'<samlp:NameIDPolicy Format="{PERSISTENT}" AllowCreate="true"/></samlp:AuthnRequest>'
    )
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    encoded = base64.b64encode(deflate.compress(xml.encode()) + deflate.flush()).decode()
    return request_id, "/saml/sso?" + urlencode({"SAMLRequest": encoded, "RelayState": "b"})


def saml_response_of(answer: Any) -> str:
    expect(answer, 200)
    page = answer.content.decode()
    marker = 'name="SAMLResponse" value="'
    if marker not in page:
        raise BenchError(f"no SAMLResponse in the answer: {page[:300]}")
    return page.split(marker, 1)[1].split('"', 1)[0]


def sso(browser: Any, service: SamlService, sso_url: str) -> Callable[[], None]:
    def once() -> None:
        saml_response_of(browser.get(sso_path(service, sso_url)[1]))

    return once


def check_first_response(browser: Any, service: SamlService, sso_url: str) -> None:
    """One Response read by pysaml2 as the service would: signed, for this person, with MFA."""
    from saml2.client import Saml2Client

    request_id, path = sso_path(service, sso_url)
    response = Saml2Client(config=service.config).parse_authn_request_response(
        saml_response_of(browser.get(path)), POST, outstanding={request_id: "/"}
    )
    context = response.authn_info()[0][0]
    if context != "https://refeds.org/profile/mfa":
        raise BenchError(f"{service.name}: the Response says {context}, not REFEDS MFA")


def prepare(
    browsers: Sequence[Any],
    backs: Sequence[Any],
    people: Sequence[Person],
    mail: Service,
    saml: Sequence[SamlService],
    sso_url: str,
) -> None:
    """Sign each browser in (through the OIDC flow's pages), check one Response per service."""
    for browser, back, person in zip(browsers, backs, people, strict=True):
        exchange(back, mail, sign_in_for_code(browser, mail, person))
    for service in saml:
        check_first_response(browsers[0], service, sso_url)


def children_cpu(pid: int | None) -> float:
    """CPU seconds of the exited children (xmlsec1) of ``pid``, or of this process."""
    if pid is None:
        times = os.times()
        return times.children_user + times.children_system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # cutime and cstime, fields 16 and 17 of stat(5): _common counts the process's own only.
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def timed(
    label: str, ops: Sequence[Callable[[], None]], *, seconds: float, server_pid: int | None = None
) -> Figures:
    """``_common.measure``, with the CPU of the xmlsec1 processes the server started added."""
    before = children_cpu(server_pid)
    figures = measure(label, ops, seconds=seconds, server_pid=server_pid)
    if figures.cpu_seconds is not None:
        # Warm-up calls' children are in this figure too: a few calls of thousands.
        figures.cpu_seconds += children_cpu(server_pid) - before
    return figures


def plural(count: int) -> str:
    return f"{count} client{'s' if count > 1 else ''}"


def in_process(
    people: list[Person], mail: Service, saml: list[SamlService], sso_url: str, seconds: float
) -> list[Figures]:
    from django.test import Client

    browser, back = Client(enforce_csrf_checks=True), Client()
    prepare([browser], [back], people[:1], mail, saml, sso_url)
    rows = [
        timed(f"SSO, {service.name}, in-process", [sso(browser, service, sso_url)], seconds=seconds)
        for service in saml
    ]
    rows.append(timed("OIDC code, in-process", [round_trip(browser, back, mail)], seconds=seconds))
    return rows


def over_http(
    env: dict[str, str],
    people: list[Person],
    mail: Service,
    saml: list[SamlService],
    sso_url: str,
    *,
    clients: int,
    seconds: float,
    cpus: list[int | None],
) -> list[Figures]:
    """``vahva serve`` on ``cpus[0]``, the load on ``cpus[1]``; stopped by its pid."""
    server_cpu, client_cpu = cpus
    rows: list[Figures] = []
    opened: list[httpx.Client] = []
    with serving(env, server_cpu, then_pin=client_cpu) as server:
        try:
            opened = [
                httpx.Client(base_url=server.base_url, timeout=30) for _ in range(2 * clients)
            ]
            browsers, backs = opened[:clients], opened[clients:]
            prepare(browsers, backs, people[:clients], mail, saml, sso_url)
            for count in dict.fromkeys((1, clients)):
                for service in saml:
                    rows.append(
                        timed(
                            f"SSO, {service.name}, http, {plural(count)}",
                            [sso(browser, service, sso_url) for browser in browsers[:count]],
                            seconds=seconds,
                            server_pid=server.pid,
                        )
                    )
                rows.append(
                    timed(
                        f"OIDC code, http, {plural(count)}",
                        [
                            round_trip(b, s, mail)
                            for b, s in zip(browsers[:count], backs, strict=False)
                        ],
                        seconds=seconds,
                        server_pid=server.pid,
                    )
                )
        finally:
            for client in opened:
                client.close()
    print(f"http: vahva serve on CPU {server_cpu}, load generator on CPU {client_cpu}")
    return rows


def xmlsec_signature_ms(seconds: float) -> float:
    """CPU ms of one xmlsec1 signature of the IdP metadata, child process included."""
    from vahva.saml import idp, keys, metadata

    pair = keys.ensure(idp.key_dir())
    template = metadata.render(
        entity_id=idp.entity_id(),
        sso_url=idp.sso_url(),
        slo_url=idp.slo_url(),
        certs=keys.published_certs(idp.key_dir()),
        scope="bench.example",
        name="Bench",
        document_id="_bench",
        valid_until=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
    )
    xmlsec = idp.xmlsec_binary()
    before = os.times()
    calls = 0

    def sign() -> None:
        nonlocal calls
        metadata.sign(template, document_id="_bench", key_file=str(pair.key_file), xmlsec=xmlsec)
        calls += 1

    timed_alone(seconds, sign)
    after = os.times()
    used = sum(after[:4]) - sum(before[:4])  # own and children's user + system time
    return 1000 * used / max(calls, 1)


def report(rows: list[Figures], signature_ms: float) -> None:
    print(
        "\nops/s = round trips per wall-clock second on one server core; cpu ms/op = the serving"
        " side's CPU per op\n(the server process for http, with its xmlsec1 children once they"
        " have exited); x OIDC = ops/s over the\nOIDC code round trips of the same mode and"
        " clients, same run.\n"
    )
    header = (
        f"{'phase':<40} {'ops':>6} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/op':>10}"
        f" {'x OIDC':>7}"
    )
    print(header)
    print("-" * len(header))
    oidc = {
        row.phase.removeprefix("OIDC code, "): row for row in rows if row.phase.startswith("OIDC")
    }
    for row in rows:
        mode = row.phase.rpartition(", in-process")[1] or row.phase[row.phase.find(", http") :]
        twin = oidc.get(mode.removeprefix(", "))
        ratio = (
            f"{row.rate / twin.rate:7.2f}"
            if twin and twin.rate and twin is not row
            else f"{'-':>7}"
        )
        cpu = row.cpu_ms if row.cpu_ms is not None else math.nan
        print(
            f"{row.phase:<40} {row.count:>6} {row.rate:8.1f}"
            f" {1000 * percentile(row.latencies, 50):8.1f}"
            f" {1000 * percentile(row.latencies, 99):8.1f} {cpu:10.2f} {ratio}"
        )
    for row in rows:
        if row.note:
            print(f"  {row.phase}: {row.note}")
    print(f"\none xmlsec1 signature (a process start), timed alone: {signature_ms:.1f} CPU ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per phase (default 8)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP phases")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.clients < 1:
        parser.error("--seconds and --clients must be positive")
    server_cpu, client_cpu = begin_run()
    with throwaway_vahva() as env:
        from django.db import connections

        from vahva import clock as vahva_clock
        from vahva.saml import idp

        pin(server_cpu)
        print(f"{args.seconds:g} s per phase, CPU {server_cpu}")
        idp_metadata = idp.signed_metadata_xml()
        sso_url = idp.sso_url()
        mail = add_service("Mail")
        saml = [
            add_saml_service("Learn", "learn", encrypted=False, idp_metadata=idp_metadata),
            add_saml_service(
                "Learn, encrypted", "learn-enc", encrypted=True, idp_metadata=idp_metadata
            ),
        ]
        people = make_people(
            1 + args.clients, prefix="saml", registered_at=vahva_clock.now() - dt.timedelta(days=1)
        )
        rows = in_process(people[:1], mail, saml, sso_url, args.seconds)
        if not args.no_http:
            connections.close_all()  # the server gets the SQLite file to itself
            rows += over_http(
                env,
                people[1:],
                mail,
                saml,
                sso_url,
                clients=args.clients,
                seconds=args.seconds,
                cpus=[server_cpu, client_cpu],
            )
        signature_ms = xmlsec_signature_ms(min(args.seconds, 2.0))
    pin(None)
    report(rows, signature_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
