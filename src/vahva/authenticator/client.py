"""A device of the vahva app on the command line: the key in a file, the API over HTTP.

``vahva authenticator`` (the management command) is a thin shell around :class:`DeviceClient`.
The state directory holds ``key.pem`` (the P-256 private key, PKCS #8, mode 0600) and
``device.json`` (server, device id, name); the directory itself is mode 0700.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from . import protocol

if TYPE_CHECKING:
    import httpx

DEFAULT_STATE = Path("~/.config/vahva-authenticator")
ENROLL_PATH = "/app/enroll"
API = "/api/device/v1"


class ClientError(Exception):
    """Something the person must fix: a bad link, no enrolment yet, a refusal by the server."""


@dataclass
class Enrolment:
    server: str
    device: str
    name: str


def parse_link(link: str) -> tuple[str, str]:
    """``(server base URL, one-time code)`` from an ``.../app/enroll#<code>`` link."""
    parts = urlsplit(link.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ClientError("The link must start with https:// (or http:// for a local server).")
    if not parts.path.endswith(ENROLL_PATH) or not parts.fragment:
        raise ClientError("That is not an enrolment link: expected …/app/enroll#<code>.")
    prefix = parts.path[: -len(ENROLL_PATH)]
    return f"{parts.scheme}://{parts.netloc}{prefix}", parts.fragment


def sign(key: ec.EllipticCurvePrivateKey, message: bytes) -> str:
    """An ECDSA P-256/SHA-256 signature as WebCrypto makes it: base64url of r || s."""
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    return protocol.b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def signed_headers(
    key: ec.EllipticCurvePrivateKey,
    *,
    device: str,
    method: str,
    path: str,
    body: bytes,
    timestamp: int,
) -> dict[str, str]:
    nonce = secrets.token_urlsafe(18)
    message = protocol.signed_message(
        device=device, method=method, path=path, timestamp=timestamp, nonce=nonce, body=body
    )
    headers = {
        protocol.HEADER_TIMESTAMP: str(timestamp),
        protocol.HEADER_NONCE: nonce,
        protocol.HEADER_SIGNATURE: sign(key, message),
    }
    if device:
        headers[protocol.HEADER_DEVICE] = device
    return headers


class DeviceClient:
    """One device: its state directory, its key, and the requests it signs."""

    def __init__(
        self,
        state_dir: Path,
        *,
        now: Callable[[], float],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.state_dir = state_dir.expanduser()
        self._now = now
        self._transport = transport

    # --- state on disk ---------------------------------------------------------------------

    @property
    def key_path(self) -> Path:
        return self.state_dir / "key.pem"

    @property
    def state_path(self) -> Path:
        return self.state_dir / "device.json"

    def _write_private(self, path: Path, data: bytes) -> None:
        # Owner-only from the first byte: the key never exists with wider permissions.
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    def _key(self) -> ec.EllipticCurvePrivateKey:
        try:
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        except FileNotFoundError:
            raise ClientError(
                f"No device in {self.state_dir}. Run `vahva authenticator enroll <link>` first."
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ClientError(f"{self.key_path} is not an ECDSA key.")
        return key

    def enrolment(self) -> Enrolment:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            return Enrolment(server=data["server"], device=data["device"], name=data["name"])
        except FileNotFoundError:
            raise ClientError(
                f"No device in {self.state_dir}. Run `vahva authenticator enroll <link>` first."
            ) from None
        except (ValueError, KeyError, TypeError):
            raise ClientError(f"{self.state_path} is damaged; enrol again.") from None

    # --- HTTP ------------------------------------------------------------------------------

    def _http(self, base: str) -> httpx.Client:
        try:
            import httpx
        except ImportError:  # a server install without the client's HTTP library
            raise ClientError("The command-line client needs httpx: pip install httpx") from None

        return httpx.Client(base_url=base, timeout=15.0, transport=self._transport)

    def _request(
        self,
        base: str,
        method: str,
        path: str,
        *,
        key: ec.EllipticCurvePrivateKey,
        device: str,
        payload: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = b"" if payload is None else json.dumps(payload).encode()
        timestamp = int(self._now())
        if payload is not None and "timestamp" in payload:
            timestamp = int(payload["timestamp"])
        full_path = urlsplit(base).path.rstrip("/") + path
        headers = signed_headers(
            key, device=device, method=method, path=full_path, body=body, timestamp=timestamp
        )
        if payload is not None:
            headers["Content-Type"] = "application/json"
        http = self._http(base)
        import httpx  # importable: _http has just used it

        try:
            with http:
                response = http.request(method, path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ClientError(f"Cannot reach {base}: {exc}") from None
        try:
            data = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if response.status_code >= 400:
            message = data.get("message") or response.reason_phrase
            raise ClientError(f"{message} ({data.get('error', response.status_code)})")
        return data

    # --- what a device does ----------------------------------------------------------------

    def enroll(self, link: str, *, name: str) -> dict[str, Any]:
        """Create a key, register it with the link's one-time code, save the state."""
        server, code = parse_link(link)
        if self.state_path.exists():
            current = self.enrolment()
            raise ClientError(
                f"{self.state_dir} already holds device {current.device} on {current.server}. "
                "Use another --state directory, or remove that device first."
            )
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        payload = {"code": code, "public_key": protocol.b64url(public), "name": name}
        data = self._request(server, "POST", f"{API}/enroll", key=key, device="", payload=payload)
        self._write_private(
            self.key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        state = Enrolment(server=server, device=str(data["device"]), name=str(data["name"]))
        self._write_private(self.state_path, json.dumps(asdict(state), indent=2).encode())
        return data

    def pending(self) -> list[dict[str, Any]]:
        state = self.enrolment()
        data = self._request(
            state.server, "GET", f"{API}/pending", key=self._key(), device=state.device
        )
        challenges = data.get("challenges", [])
        return [c for c in challenges if isinstance(c, dict)]

    def _choose(self, challenge: str | None) -> dict[str, Any]:
        waiting = self.pending()
        chosen = [c for c in waiting if c.get("id") == challenge] if challenge else waiting
        if not chosen:
            raise ClientError("No sign-in request is waiting for this device.")
        if len(chosen) > 1:
            raise ClientError(
                "Several requests are waiting; choose one with --challenge "
                + ", ".join(str(c.get("id")) for c in chosen)
            )
        return chosen[0]

    def answer(
        self, decision: str, *, number: int | None = None, challenge: str | None = None
    ) -> dict[str, Any]:
        """Approve (with the number shown on the computer, unless the request is approve-only:
        ``match`` "none"), deny or report a request."""
        state = self.enrolment()
        key = self._key()
        chosen = self._choose(challenge)
        if chosen.get("match") == "none":
            number = None  # nothing to type: the VPN could not show a number
        elif decision == "approve" and number is None:
            raise ClientError(
                "This request needs the number shown where you are signing in: "
                "approve --number <number>."
            )
        payload = {
            "challenge": chosen["id"],
            "nonce": chosen["nonce"],
            "decision": decision,
            "number": number,
            "timestamp": int(self._now()),
        }
        return self._request(
            state.server, "POST", f"{API}/answer", key=key, device=state.device, payload=payload
        )

    def remove(self) -> dict[str, Any]:
        """Remove this device from the account, then forget its key."""
        state = self.enrolment()
        data = self._request(
            state.server, "DELETE", f"{API}/device", key=self._key(), device=state.device
        )
        self.key_path.unlink(missing_ok=True)
        self.state_path.unlink(missing_ok=True)
        return data
