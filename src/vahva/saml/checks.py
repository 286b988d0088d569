"""Start-up checks of the SAML IdP's configuration."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Warning, register

from . import idp


@register()
def xmlsec_installed(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        idp.xmlsec_binary()
    except idp.NotConfigured:
        return [
            Warning(
                "SAML sign-in is off: the xmlsec1 program is not installed.",
                hint="apt-get install xmlsec1 (pysaml2 signs and verifies with it).",
                id="vahva.saml.W001",
            )
        ]
    return []
