"""Load the demo organisation's people (idempotent) and print how to sign in."""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.models import get_application_model

from vahva import clock
from vahva.accounts.models import User
from vahva.conf import settings
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import Method
from vahva.oidc import clients
from vahva.saml import providers
from vahva.saml.models import ServiceProvider

#: The demo "Mail" service that `make run` starts beside vahva.
MAIL_CLIENT_ID = "mail-demo"
MAIL_URL = "http://localhost:8001"
#: The demo "Demo Learn" course platform, a SAML 2.0 service (demo/learn).
LEARN_URL = "http://localhost:8002"
LEARN_METADATA = f"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    entityID="{LEARN_URL}/saml/metadata">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"
      AuthnRequestsSigned="false" WantAssertionsSigned="true">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        Location="{LEARN_URL}/saml/acs" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"""

#: (e-mail, name, password, role). Demo only: these passwords are printed on purpose.
PEOPLE = (
    ("alice@demo.example", "Alice Aalto", "alice-demo-pass", ""),
    ("bob@demo.example", "Bob Berg", "bob-demo-pass", ""),
    ("helen@demo.example", "Helen Helpdesk", "helen-demo-pass", "helpdesk"),
    ("admin@demo.example", "Ada Admin", "admin-demo-pass", "admin"),
)
HELPDESK_GROUP = "Helpdesk"
#: Bob already has an authenticator app, so the second step can be tried at once; so do helen
#: and admin, because staff always sign in with a second factor (no password-only way in).
BOB_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105 (demo data, printed on purpose)
AUTHENTICATOR_KEYS = {
    "bob@demo.example": BOB_SECRET,
    "helen@demo.example": "KRUGKIDROVUWG2ZAMJZG653OEBTG66BA",  # demo data, printed on purpose
    "admin@demo.example": "MFSG22LOEBQWI3LJNZUXG5DSMF2G64TB",  # demo data, printed on purpose
}


def _authenticator_app() -> Method:
    """The installed method that makes the demo's registrations (an authenticator app): found
    by what it offers, not by its name."""
    found = next((m for m in registry.all_methods() if m.demo_hint(BOB_SECRET)), None)
    if found is None:
        raise CommandError("No installed sign-in method makes demo registrations.")
    return found


class Command(BaseCommand):
    help = "Create the demo people and print how to sign in."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        helpdesk = self._helpdesk_group()
        for email, name, password, role in PEOPLE:
            user, created = User.objects.get_or_create(
                email=email,
                defaults={
                    "full_name": name,
                    "is_staff": bool(role),
                    "is_superuser": role == "admin",
                },
            )
            if created:
                user.set_password(password)
                user.save()
                if role == "helpdesk":
                    user.groups.add(helpdesk)
        app = _authenticator_app()
        for email, secret in AUTHENTICATOR_KEYS.items():
            person = User.objects.get(email=email)
            if not methods.has_methods(person):
                # Registered a day ago: past the activation delay, so the second step is asked.
                app.save_demo(
                    person, secret=secret, now=clock.now() - dt.timedelta(days=1), name="Demo"
                )
        url = str(settings.PUBLIC_URL).rstrip("/")
        mail_file = self._mail_service(url)
        self._learn_service(url)
        if options["quiet"]:
            return
        out = self.stdout.write
        out("")
        out(f"  {settings.ORGANISATION_NAME}: open {url}/ in your browser.")
        out("")
        out("  Demo people (e-mail / password):")
        for email, _name, password, role in PEOPLE:
            where = {
                "admin": f"  (admin: {url}/admin/)",
                "helpdesk": f"  (helpdesk: {url}/helpdesk/)",
            }
            out(f"    {email:<22} {password}{where.get(role, '')}")
        out("")
        out("  alice has no sign-in method yet: signing in takes her to the setup wizard.")
        out('  Its first step is the vahva app: open the link under "Can\'t scan the code?"')
        out(f"  in a new browser window (it stands in for the phone; the app lives at {url}/app/).")
        out(f"  Texts and calls of the phone step land on the dev phone: {url}/dev/phone")
        delay = int(settings.ACTIVATION_DELAY)
        if delay:
            amount = f"{delay // 3600} hours" if delay % 3600 == 0 else f"{delay // 60} minutes"
            out(f"  As in the guide, MFA is asked from {amount} after registering, and never from")
            out("  the Campus and VPN networks (trusted_networks in the configuration file).")
        out("  bob, helen and admin have an authenticator app (staff always use a second factor):")
        for email, secret in AUTHENTICATOR_KEYS.items():
            name = email.split("@")[0]
            out(f"    {name:<6} {app.demo_hint(secret)}")
        out("")
        out(f"  The demo Mail service signs in through vahva: {MAIL_URL}/")
        out(f"  (its client id and secret are in {mail_file}).")
        out(f"  The demo Learn service signs in through vahva with SAML: {LEARN_URL}/")
        out("")

    def _helpdesk_group(self) -> Group:
        group, _created = Group.objects.get_or_create(name=HELPDESK_GROUP)
        group.permissions.add(
            Permission.objects.get(content_type__app_label="helpdesk", codename="access")
        )
        return group

    def _learn_service(self, url: str) -> None:
        """Connect the demo Learn service (SAML) and write where it finds vahva."""
        if not ServiceProvider.objects.filter(entity_id=f"{LEARN_URL}/saml/metadata").exists():
            providers.add(metadata=LEARN_METADATA.encode(), name="Demo Learn")
        config = {
            "idp_metadata_url": f"{url}/saml/metadata",
            "base_url": LEARN_URL,
            "organisation_name": str(settings.ORGANISATION_NAME),
        }
        path = django_settings.DATA_DIR / "demo-learn.json"
        path.write_text(json.dumps(config, indent=2), encoding="utf-8")

    def _mail_service(self, url: str) -> str:
        """Connect the demo Mail service; write its credentials for it to read."""
        path = django_settings.DATA_DIR / "demo-mail.json"
        Application = get_application_model()
        if not Application.objects.filter(client_id=MAIL_CLIENT_ID).exists():
            new = clients.add(
                name="Mail",
                client_id=MAIL_CLIENT_ID,
                redirect_uris=[f"{MAIL_URL}/callback"],
                post_logout_redirect_uris=[f"{MAIL_URL}/"],
            )
            secret = new.client_secret
        elif path.exists():
            return str(path)
        else:
            # The secret is stored hashed; without the file a new one is the only way.
            secret = clients.new_secret(MAIL_CLIENT_ID)
        credentials = {
            "issuer": f"{url}/o",
            "client_id": MAIL_CLIENT_ID,
            "client_secret": secret,
            "base_url": MAIL_URL,
            # Names the "Sign in with ..." button.
            "organisation_name": str(settings.ORGANISATION_NAME),
        }
        path.unlink(missing_ok=True)
        # Owner-only: the file holds the service's client secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(credentials, handle, indent=2)
        return str(path)
