"""Which redirect-URI schemes a service may register (imported by settings: no Django)."""

from __future__ import annotations

import re

# RFC 8252 §7.1: a native app's private-use scheme is a reversed domain name it controls
# ("org.example.mail:/callback"). Requiring the dot keeps out "javascript:", "data:" and
# the like, which would turn a redirect into script execution.
_PRIVATE_USE = re.compile(r"^[a-z][a-z0-9+\-]*(\.[a-z0-9+\-]+)+$")


class RedirectSchemes(list[str]):
    """http and https, plus any reverse-domain private-use scheme (RFC 8252 §7.1)."""

    def __init__(self) -> None:
        super().__init__(["http", "https"])

    def __contains__(self, scheme: object) -> bool:
        if not isinstance(scheme, str):
            return False
        return scheme in ("http", "https") or bool(_PRIVATE_USE.match(scheme.lower()))
