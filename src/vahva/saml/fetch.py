"""Downloading metadata: a federation's aggregate or one service's metadata address.

Bounded on every side: http(s) only, a size cap counted while reading (a server that sends
gigabytes, or lies in Content-Length, is cut off), one deadline for the whole download (a
server that trickles a byte a second cannot hold a refresh forever), no redirects to other
schemes. The bytes are not trusted here: the caller verifies them.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx

#: No compression: a small gzip body could inflate past the cap in a single chunk.
HEADERS = {"Accept": "application/samlmetadata+xml, application/xml", "Accept-Encoding": "identity"}


class FetchFailed(ValueError):
    """The document could not be downloaded within the limits; the message says why."""


def check_url(url: str) -> str:
    parts = urlsplit(url)
    # file:, ftp: and the like would read local files or other protocols.
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchFailed(f"not an http(s) address: {url!r}")
    return url


def download(url: str, *, max_bytes: int, timeout: float) -> bytes:
    """The body of ``url`` (status 200), at most ``max_bytes``, within ``timeout`` seconds."""
    check_url(url)
    deadline = time.monotonic() + timeout
    body = bytearray()
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("GET", url, headers=HEADERS) as reply,
        ):
            if reply.status_code != 200:
                raise FetchFailed(f"{url} answered HTTP {reply.status_code}")
            if reply.headers.get("Content-Encoding", "identity") != "identity":
                raise FetchFailed(f"{url} sent a compressed body; vahva asks for none")
            declared = reply.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchFailed(f"{url} is larger than the limit of {max_bytes} bytes")
            for chunk in reply.iter_raw():
                body += chunk
                # A body over the cap, whatever Content-Length said (memory exhaustion).
                if len(body) > max_bytes:
                    raise FetchFailed(f"{url} is larger than the limit of {max_bytes} bytes")
                # A server trickling bytes keeps each read under the timeout, not the whole.
                if time.monotonic() > deadline:
                    raise FetchFailed(f"{url} took longer than {timeout:g} s")
    except httpx.TimeoutException:
        raise FetchFailed(f"{url} took longer than {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"cannot download {url}: {exc}") from None
    return bytes(body)
