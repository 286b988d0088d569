"""`vahva saml sp add|list|remove`, `vahva saml federation add|list|remove`, `vahva saml
refresh`, `vahva saml rotate-key`: connect SAML services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vahva.audit.log import record
from vahva.conf import settings
from vahva.saml import attributes, federation, idp, keys, outbound, providers
from vahva.saml.models import Federation, Profile, ServiceProvider
from vahva.signin.requirements import ServiceRule

RULES = [rule.value for rule in ServiceRule]


class Command(BaseCommand):
    help = "Connect services to vahva with SAML 2.0."

    def add_arguments(self, parser: CommandParser) -> None:
        top = parser.add_subparsers(dest="area", required=True)
        sp = top.add_parser("sp", help="service providers").add_subparsers(
            dest="action", required=True
        )
        add = sp.add_parser("add", help="add a service from its metadata file or address")
        add.add_argument(
            "--metadata", required=True, help="the SP's metadata XML: a file, or an http(s) URL"
        )
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
        feds = top.add_parser("federation", help="federation aggregates").add_subparsers(
            dest="action", required=True
        )
        fed_add = feds.add_parser("add", help="add a federation's signed metadata aggregate")
        fed_add.add_argument("name")
        fed_add.add_argument("--url", required=True, help="the aggregate's address")
        fed_add.add_argument(
            "--cert", required=True, type=Path, help="the federation's signing certificate (PEM)"
        )
        fed_add.add_argument(
            "--release",
            default="",
            help="attributes its services may receive beyond entity categories (default: none)",
        )
        fed_add.add_argument("--mfa", choices=RULES, default=ServiceRule.OUTSIDE_TRUSTED.value)
        feds.add_parser("list", help="list the federations")
        fed_remove = feds.add_parser("remove", help="remove a federation and its services")
        fed_remove.add_argument("name")
        refresh = top.add_parser("refresh", help="fetch and verify every federation's aggregate")
        refresh.add_argument("names", nargs="*", help="only these federations")
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
        if options["area"] == "refresh":
            self._refresh(options)
            return
        prefix = "_federation" if options["area"] == "federation" else ""
        try:
            getattr(self, f"{prefix}_{options['action']}")(options)
        except providers.InvalidService as exc:
            raise CommandError(str(exc)) from exc
        except ServiceProvider.DoesNotExist as exc:
            raise CommandError(f"no service with entity id {options['entity_id']!r}") from exc
        except Federation.DoesNotExist as exc:
            raise CommandError(f"no federation named {options['name']!r}") from exc

    def _add(self, options: dict[str, Any]) -> None:
        source = str(options["metadata"])
        if source.startswith(("http://", "https://")):
            data = providers.download_metadata(source)
        else:
            try:
                data = Path(source).read_bytes()
            except OSError as exc:
                raise CommandError(f"cannot read {source}: {exc.strerror}") from exc
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

    def _federation_add(self, options: dict[str, Any]) -> None:
        try:
            pem = options["cert"].read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read the certificate {options['cert']}: {exc}") from exc
        added = federation.add(
            name=options["name"],
            url=options["url"],
            cert_pem=pem,
            release=[name.strip() for name in options["release"].split(",") if name.strip()],
            mfa_rule=options["mfa"],
        )
        self.stdout.write(
            f"Added the federation {added.name}. Load its services: vahva saml refresh"
        )

    def _federation_list(self, options: dict[str, Any]) -> None:
        for fed in Federation.objects.order_by("name"):
            until = fed.valid_until.isoformat() if fed.valid_until else "never loaded"
            error = f"  last error: {fed.last_error}" if fed.last_error else ""
            self.stdout.write(
                f"{fed.name}  {fed.url}  services={fed.providers.count()}  "
                f"valid until {until}{error}"
            )

    def _federation_remove(self, options: dict[str, Any]) -> None:
        count = federation.remove(options["name"])
        self.stdout.write(f"Removed the federation {options['name']} and its {count} services.")

    def _refresh(self, options: dict[str, Any]) -> None:
        chosen = Federation.objects.order_by("name")
        if options["names"]:
            chosen = chosen.filter(name__in=options["names"])
            missing = set(options["names"]) - {fed.name for fed in chosen}
            if missing:
                raise CommandError(f"no federation named {', '.join(sorted(missing))}")
        failed = []
        for fed in chosen:
            try:
                done = federation.refresh(fed)
            except federation.RefreshFailed as exc:
                failed.append(fed.name)
                gone = f"; its copy expired, {exc.removed} services removed" if exc.removed else ""
                self.stderr.write(f"{fed.name}: refused, the previous services stay: {exc}{gone}")
                continue
            self.stdout.write(
                f"{fed.name}: {done.added} added, {done.updated} updated, {done.removed} removed, "
                f"valid until {done.valid_until.isoformat()}"
            )
        # A non-zero exit makes the systemd timer's failure visible (systemctl --failed).
        if failed:
            raise CommandError(f"refused: {', '.join(failed)}")

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
