"""Load the demo organisation's people (idempotent) and print how to sign in."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from vahva import clock
from vahva.accounts.models import User
from vahva.conf import settings
from vahva.methods import service as methods
from vahva.methods import totp

#: (e-mail, name, password, staff). Demo only: these passwords are printed on purpose.
PEOPLE = (
    ("alice@demo.example", "Alice Aalto", "alice-demo-pass", False),
    ("bob@demo.example", "Bob Berg", "bob-demo-pass", False),
    ("admin@demo.example", "Ada Admin", "admin-demo-pass", True),
)
#: Bob already has an authenticator app, so the second step can be tried at once.
BOB_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105 (demo data, printed on purpose)


class Command(BaseCommand):
    help = "Create the demo people and print how to sign in."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        for email, name, password, staff in PEOPLE:
            user, created = User.objects.get_or_create(
                email=email, defaults={"full_name": name, "is_staff": staff, "is_superuser": staff}
            )
            if created:
                user.set_password(password)
                user.save()
        bob = User.objects.get(email="bob@demo.example")
        if not methods.has_methods(bob):
            methods.save_new(bob, "totp", now=clock.now(), secret=BOB_SECRET, name="Demo")
        if options["quiet"]:
            return
        url = str(settings.PUBLIC_URL).rstrip("/")
        out = self.stdout.write
        out("")
        out(f"  {settings.ORGANISATION_NAME}: open {url}/ in your browser.")
        out("")
        out("  Demo people (e-mail / password):")
        for email, _name, password, staff in PEOPLE:
            role = "  (admin: " + url + "/admin/)" if staff else ""
            out(f"    {email:<22} {password}{role}")
        out("")
        out("  alice has no sign-in method yet: signing in takes her to the setup wizard.")
        out(f"  bob has an authenticator app with the key {totp.group_secret(BOB_SECRET)};")
        out(f"  his current code: oathtool --totp -b {BOB_SECRET}")
        out("")
