"""`vahva saml sp add|list|remove`, `vahva saml rotate-key`: connect SAML services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vahva.audit.log import record
from vahva.conf import settings
from vahva.saml import attributes, idp, keys, outbound, providers
from vahva.saml.models import Profile, ServiceProvider
from vahva.signin.requirements import ServiceRule

RULES = [rule.value for rule in ServiceRule]


class Command(BaseCommand):
    help = "Connect services to vahva with SAML 2.0."

    def add_arguments(self, parser: CommandParser) -> None:
        top = parser.add_subparsers(dest="area", required=True)
        sp = top.add_parser("sp", help="service providers").add_subparsers(
            dest="action", required=True
        )
        add = sp.add_parser("add", help="add a service from its metadata file")
        add.add_argument("--metadata", required=True, type=Path, help="the SP's metadata XML")
        add.add_argument("--name", default="", help="shown to people (default: from metadata)")
        add.add_argument("--mfa", choices=RULES, default=ServiceRule.OUTSIDE_TRUSTED.value)
        add.add_argument(
            "--release",
            default=",".join(attributes.DEFAULT_RELEASE),
            help=f"attributes it may receive, comma-separated (of: {', '.join(attributes.ALL)})",
        )
        add.add_argument(
            "--profile", choices=[profile.value for profile in Profile], default="standard"
        )
        add.add_argument(
            "--require-signed-requests",
            action="store_true",
            help="refuse unsigned AuthnRequests even if the metadata does not say it signs",
        )
        sp.add_parser("list", help="list the services")
        remove = sp.add_parser("remove", help="remove a service")
        remove.add_argument("entity_id")
        immutable = top.add_parser(
            "immutable-id", help="a person's ImmutableID for Microsoft 365 (the NameID sent)"
        )
        immutable.add_argument("email")
        rotate = top.add_parser("rotate-key", help="a new signing key; the old one stays published")
        rotate.add_argument(
            "--keep-days",
            type=int,
            default=None,
            help="days retired certificates stay in the metadata (default: SAML_KEY_KEEP_DAYS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["area"] == "rotate-key":
            self._rotate(options)
            return
        if options["area"] == "immutable-id":
            self._immutable_id(options)
            return
        try:
            getattr(self, f"_{options['action']}")(options)
        except providers.InvalidService as exc:
            raise CommandError(str(exc)) from exc
        except ServiceProvider.DoesNotExist as exc:
            raise CommandError(f"no service with entity id {options['entity_id']!r}") from exc

    def _add(self, options: dict[str, Any]) -> None:
        try:
            data = options["metadata"].read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {options['metadata']}: {exc.strerror}") from exc
        sp = providers.add(
            metadata=data,
            name=options["name"],
            mfa_rule=options["mfa"],
            release=[name.strip() for name in options["release"].split(",") if name.strip()],
            profile=options["profile"],
            require_signed_requests=options["require_signed_requests"],
        )
        self.stdout.write(f"Added {sp.name}: {sp.entity_id}")
        self.stdout.write(f"Give it vahva's metadata: {idp.public_url()}/saml/metadata")

    def _list(self, options: dict[str, Any]) -> None:
        for sp in ServiceProvider.objects.order_by("name"):
            state = "" if sp.enabled else "  (disabled)"
            self.stdout.write(
                f"{sp.entity_id}  {sp.name}  mfa={sp.mfa_rule}  profile={sp.profile}  "
                f"release={','.join(sp.release or [])}{state}"
            )

    def _remove(self, options: dict[str, Any]) -> None:
        self.stdout.write(f"Removed {providers.remove(options['entity_id'])}.")

    def _immutable_id(self, options: dict[str, Any]) -> None:
        from vahva.accounts.models import User

        user = User.objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError(f"no person with the e-mail address {options['email']!r}")
        self.stdout.write(outbound.immutable_id(user.public_id))

    def _rotate(self, options: dict[str, Any]) -> None:
        days = options["keep_days"]
        keep = int(settings.SAML_KEY_KEEP_DAYS if days is None else days) * 86400
        rotation = keys.rotate(idp.key_dir(), keep_seconds=keep, common_name=idp.entity_id())
        record("saml.key_rotated", reason=f"retired key kept as {rotation.retired.name}")
        self.stdout.write("New SAML signing key; the old certificate stays in the metadata.")
        for dropped in rotation.dropped:
            self.stdout.write(f"Dropped {dropped.name}")
