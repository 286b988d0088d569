"""What each scope lets a service see, as the consent page says it (translatable)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

SCOPES = {
    "openid": _("Know who you are"),
    "profile": _("See your name"),
    "email": _("See your e-mail address"),
}
