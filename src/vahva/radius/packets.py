"""RADIUS packets in and out (RFC 2865, 2866, 2869 §5.14, 5997) on pyrad's codec, free of I/O.

:func:`parse` turns a datagram from a known client into a :class:`Request` or a
:class:`Drop` (the reason it gets no answer); :func:`reply` builds the answer's bytes. Every
Access-Request and Status-Server must carry a valid Message-Authenticator, and every answer
carries one: an attacker in the path who can forge MD5 prefixes cannot turn a Reject into
an Accept (BlastRADIUS, CVE-2024-3596).
"""

from __future__ import annotations

import io
import ipaddress
import struct
import uuid
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from pyrad import dictionary, packet

#: The attributes vahva reads or writes (pyrad's dictionary syntax; FreeRADIUS's own files
#: use syntax pyrad does not parse).
DICTIONARY = """\
ATTRIBUTE	User-Name		1	string
ATTRIBUTE	User-Password		2	string	encrypt=1
ATTRIBUTE	CHAP-Password		3	octets
ATTRIBUTE	NAS-IP-Address		4	ipaddr
ATTRIBUTE	NAS-Port		5	integer
ATTRIBUTE	Framed-IP-Address	8	ipaddr
ATTRIBUTE	Reply-Message		18	string
ATTRIBUTE	State			24	octets
ATTRIBUTE	Calling-Station-Id	31	string
ATTRIBUTE	NAS-Identifier		32	string
ATTRIBUTE	Proxy-State		33	octets
ATTRIBUTE	Message-Authenticator	80	octets
"""
RADIUS_DICTIONARY = dictionary.Dictionary(io.StringIO(DICTIONARY))

#: RFC 2865 §3: at most 4096 octets.
MAX_PACKET = 4096
USER_NAME, USER_PASSWORD, CHAP_PASSWORD = 1, 2, 3
FRAMED_IP, REPLY_MESSAGE, STATE, CALLING_STATION, MESSAGE_AUTHENTICATOR = 8, 18, 24, 31, 80
#: Reply-Message is text of at most 253 octets per attribute.
MAX_ATTRIBUTE = 253
#: The State vahva sends: a version tag, the sign-in attempt's id, the token that resumes it.
STATE_TAG = b"vahva1"


class Code(IntEnum):
    ACCESS_REQUEST = packet.AccessRequest
    ACCESS_ACCEPT = packet.AccessAccept
    ACCESS_REJECT = packet.AccessReject
    ACCOUNTING_REQUEST = packet.AccountingRequest
    ACCOUNTING_RESPONSE = packet.AccountingResponse
    ACCESS_CHALLENGE = packet.AccessChallenge
    STATUS_SERVER = packet.StatusServer


class DropReason(StrEnum):
    """Why a datagram gets no answer (each is counted and audited, rate-limited)."""

    UNKNOWN_CLIENT = "unknown client address"
    MALFORMED = "malformed packet"
    UNEXPECTED = "unexpected packet code"
    NO_MESSAGE_AUTHENTICATOR = "no Message-Authenticator"
    BAD_AUTHENTICATOR = "wrong authenticator (wrong shared secret or forged)"
    DUPLICATE = "duplicate of a request in progress"


@dataclass(frozen=True)
class Drop:
    reason: DropReason


@dataclass(frozen=True)
class Request:
    """A verified request from a known client."""

    packet: packet.Packet
    code: Code
    identifier: int
    authenticator: bytes
    user_name: str = ""
    #: The PAP password, None when the request has none (CHAP, EAP: not supported).
    password: str | None = None
    state: bytes | None = None
    #: The person's address, when the NAS sends one that is an IP address.
    person_ip: str | None = None
    #: The address the packet came from (the NAS, or a proxy).
    source: str = ""

    @property
    def counted_as(self) -> str:
        """Where throttles and the log count this request: the person, else the NAS."""
        return self.person_ip or self.source


def _first(pkt: packet.Packet, code: int) -> bytes | None:
    values = dict.get(pkt, code)
    return bytes(values[0]) if values else None


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", errors="replace") if value is not None else ""


def person_ip(pkt: packet.Packet) -> str | None:
    """Calling-Station-Id when it is an IP address (VPNs send the client's), else the
    Framed-IP-Address, else None (a MAC address or a phone number says nothing)."""
    calling = _first(pkt, CALLING_STATION)
    if calling is not None:
        try:
            return str(ipaddress.ip_address(_text(calling).strip()))
        except ValueError:
            pass
    framed = _first(pkt, FRAMED_IP)
    if framed is not None and len(framed) == 4:
        return str(ipaddress.IPv4Address(framed))
    return None


def parse(data: bytes, secret: bytes, *, source: str = "") -> Request | Drop:
    """Decode and authenticate a datagram from the client whose shared secret is ``secret``."""
    if len(data) < 20 or len(data) > MAX_PACKET:
        return Drop(DropReason.MALFORMED)
    try:
        code = Code(data[0])
    except ValueError:
        return Drop(DropReason.UNEXPECTED)
    kind: Any = packet.AcctPacket if code == Code.ACCOUNTING_REQUEST else packet.AuthPacket
    try:
        pkt = kind(packet=data, secret=secret, dict=RADIUS_DICTIONARY)
    except (packet.PacketError, struct.error, ValueError, KeyError, IndexError, TypeError):
        return Drop(DropReason.MALFORMED)
    if code == Code.ACCOUNTING_REQUEST:
        # RFC 2866 §3: the Request Authenticator is an MD5 over the packet and the secret.
        if not pkt.VerifyAcctRequest():
            return Drop(DropReason.BAD_AUTHENTICATOR)
        return Request(pkt, code, pkt.id, pkt.authenticator, source=source)
    if code not in (Code.ACCESS_REQUEST, Code.STATUS_SERVER):
        return Drop(DropReason.UNEXPECTED)
    authenticators = dict.get(pkt, MESSAGE_AUTHENTICATOR) or []
    if not authenticators:
        # BlastRADIUS: without a Message-Authenticator an Access-Request is not authenticated
        # at all (its Request Authenticator is random), so it is never answered.
        return Drop(DropReason.NO_MESSAGE_AUTHENTICATOR)
    if len(authenticators) != 1 or not pkt.verify_message_authenticator():
        return Drop(DropReason.BAD_AUTHENTICATOR)
    if code == Code.STATUS_SERVER:
        return Request(pkt, code, pkt.id, pkt.authenticator, source=source)
    hidden = _first(pkt, USER_PASSWORD)
    password = None
    if hidden is not None:
        try:
            password = pkt.PwDecrypt(hidden)
        except packet.PacketError:
            return Drop(DropReason.MALFORMED)
    return Request(
        pkt,
        code,
        pkt.id,
        pkt.authenticator,
        user_name=_text(_first(pkt, USER_NAME)).strip(),
        password=password,
        state=_first(pkt, STATE),
        person_ip=person_ip(pkt),
        source=source,
    )


def reply(request: Request, code: Code, *, message: str = "", state: bytes | None = None) -> bytes:
    """The answer to ``request``: its Response Authenticator, Proxy-State copied, and (to an
    Access-Request or Status-Server) a Message-Authenticator."""
    answer = request.packet.CreateReply()
    answer.code = int(code)
    if state is not None:
        answer[STATE] = [state]
    encoded = message.encode("utf-8")
    chunks = []
    while encoded:
        # Long texts go in several Reply-Messages (the client shows them one after another).
        chunk = encoded[:MAX_ATTRIBUTE]
        while chunk and len(chunk) < len(encoded):
            try:
                chunk.decode("utf-8")
                break
            except UnicodeDecodeError:
                chunk = chunk[:-1]  # not in the middle of a character
        chunks.append(chunk)
        encoded = encoded[len(chunk) :]
    if chunks:
        answer[REPLY_MESSAGE] = chunks
    raw: bytes = answer.ReplyPacket()
    return raw


def make_state(attempt: uuid.UUID, token: str) -> bytes:
    return STATE_TAG + attempt.bytes + token.encode("ascii")


def read_state(state: bytes) -> tuple[uuid.UUID, str] | None:
    """The attempt and token in a State vahva sent; None for any other value."""
    if not state.startswith(STATE_TAG) or len(state) < len(STATE_TAG) + 17:
        return None
    body = state[len(STATE_TAG) :]
    try:
        token = body[16:].decode("ascii")
    except UnicodeDecodeError:
        return None
    return uuid.UUID(bytes=body[:16]), token
