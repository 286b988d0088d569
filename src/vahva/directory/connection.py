"""One way to open a connection to the directory: TLS, timeouts, failover, no referrals.

Failure modes (each ends in :class:`DirectoryUnavailable`, never a hang or a 500):
- a server that refuses or does not answer the TCP connect: ``OPT_NETWORK_TIMEOUT``, then
  libldap tries the next URL (the failover);
- a server that accepts the connection and then says nothing (hung, SIGSTOP'd: the kernel
  still completes the handshake): ``OPT_TIMEOUT`` bounds every synchronous operation;
- a certificate the CA did not sign: ``SERVER_DOWN`` at the handshake.
"""

from __future__ import annotations

from typing import Any

import ldap
from django.utils.translation import gettext_lazy as _

from vahva.errors import VahvaError

from .config import DirectoryConfig


class DirectoryUnavailable(VahvaError):
    """The directory did not answer (down, hung, TLS refused): sign-in cannot be decided."""

    status = 503
    default_message = _(
        "The sign-in service cannot reach the directory. Try again in a few minutes; if it "
        "keeps happening, contact the helpdesk."
    )


#: libldap errors that mean "no answer from the directory", not "no".
UNREACHABLE: tuple[type[Exception], ...] = (
    ldap.SERVER_DOWN,
    ldap.TIMEOUT,
    ldap.CONNECT_ERROR,
    ldap.UNAVAILABLE,
    ldap.BUSY,
)


def options(config: DirectoryConfig) -> dict[int, Any]:
    """The connection's options, in the order libldap needs them (NEWCTX last)."""
    opts: dict[int, Any] = {
        ldap.OPT_PROTOCOL_VERSION: ldap.VERSION3,
        ldap.OPT_NETWORK_TIMEOUT: config.timeout,
        # A hung server accepts the TCP connection: this is what bounds the bind.
        ldap.OPT_TIMEOUT: config.timeout,
        # Active Directory's referrals would send the bind to hosts nobody configured.
        ldap.OPT_REFERRALS: 0,
        # A forged certificate is refused, never "encrypted to whoever answers".
        ldap.OPT_X_TLS_REQUIRE_CERT: ldap.OPT_X_TLS_DEMAND,
    }
    if config.ca_file:
        opts[ldap.OPT_X_TLS_CACERTFILE] = config.ca_file
    opts[ldap.OPT_X_TLS_NEWCTX] = 0
    return opts


def connect(config: DirectoryConfig, *, bind: bool = True) -> Any:
    """An open connection (StartTLS done), bound as the service account unless ``bind`` is
    False; raise DirectoryUnavailable when no server answers."""
    try:
        conn = ldap.initialize(config.uri, bytes_mode=False)
        for option, value in options(config).items():
            conn.set_option(option, value)
        if config.start_tls:
            conn.start_tls_s()
        if bind:
            conn.simple_bind_s(config.bind_dn, config.bind_password)
    except UNREACHABLE as exc:
        raise DirectoryUnavailable() from exc
    return conn
