"""`vahva client add|list|set|secret|remove`: connect services (OpenID Connect clients)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from oauth2_provider.models import get_application_model

from vahva.audit.log import record
from vahva.oidc import clients
from vahva.oidc.models import Service
from vahva.signin.requirements import ServiceRule

SERVICE_RULES = [rule.value for rule in ServiceRule]

Application = get_application_model()


class Command(BaseCommand):
    help = "Connect services to vahva with OpenID Connect."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a service; prints its client id and secret once")
        add.add_argument("--name", required=True)
        add.add_argument("--redirect-uri", action="append", required=True, dest="redirect_uris")
        add.add_argument(
            "--post-logout-redirect-uri", action="append", default=[], dest="logout_uris"
        )
        add.add_argument("--public", action="store_true", help="a mobile or desktop app (PKCE)")
        add.add_argument("--mfa", choices=SERVICE_RULES, default="outside_trusted")
        add.add_argument("--third-party", action="store_true", help="ask people for consent")
        add.add_argument("--client-id")
        sub.add_parser("list", help="list the services")
        change = sub.add_parser("set", help="change a service's MFA rule")
        change.add_argument("client_id")
        change.add_argument("--mfa", choices=SERVICE_RULES, required=True)
        secret = sub.add_parser("secret", help="replace a service's secret; prints it once")
        secret.add_argument("client_id")
        remove = sub.add_parser("remove", help="remove a service and its tokens")
        remove.add_argument("client_id")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            getattr(self, f"_{action}")(options)
        except clients.InvalidClient as exc:
            raise CommandError(str(exc)) from exc
        except Application.DoesNotExist as exc:
            raise CommandError(f"no service with client id {options['client_id']!r}") from exc

    def _add(self, options: dict[str, Any]) -> None:
        new = clients.add(
            name=options["name"],
            redirect_uris=options["redirect_uris"],
            post_logout_redirect_uris=options["logout_uris"],
            public=options["public"],
            mfa_rule=options["mfa"],
            third_party=options["third_party"],
            client_id=options["client_id"],
        )
        self.stdout.write(f"client_id:     {new.client_id}")
        if new.client_secret:
            self.stdout.write(f"client_secret: {new.client_secret}")
            self.stdout.write("The secret is shown only now; vahva keeps only a hash of it.")
        else:
            self.stdout.write("A public client: no secret; it must use PKCE (S256).")

    def _list(self, options: dict[str, Any]) -> None:
        for app in Application.objects.order_by("name"):
            rule = Service.objects.filter(application=app).values_list("mfa_rule", flat=True)
            self.stdout.write(
                f"{app.client_id}  {app.name}  {app.client_type}  "
                f"mfa={rule.first() or 'outside_trusted'}  {app.redirect_uris}"
            )

    def _set(self, options: dict[str, Any]) -> None:
        app = Application.objects.get(client_id=options["client_id"])
        Service.objects.update_or_create(application=app, defaults={"mfa_rule": options["mfa"]})
        record("oidc.client_changed", reason=f"service {app.name}: mfa={options['mfa']}")
        self.stdout.write(f"{app.name}: second factor {options['mfa']}")

    def _secret(self, options: dict[str, Any]) -> None:
        self.stdout.write(f"client_secret: {clients.new_secret(options['client_id'])}")

    def _remove(self, options: dict[str, Any]) -> None:
        app = Application.objects.get(client_id=options["client_id"])
        name = app.name
        app.delete()
        record("oidc.client_removed", reason=f"service {name}", client_id=options["client_id"])
        self.stdout.write(f"Removed {name}.")
