"""An admin adds a service in the admin site and sees its secret once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from oauth2_provider.models import Application

from tests.helpers import sign_in_with_code, text
from vahva.oidc.models import Service

pytestmark = pytest.mark.django_db


def test_admin_adds_a_service_with_its_mfa_rule(make_user: Any, client: Client, clock: Any) -> None:
    admin = make_user("admin@example.org", is_staff=True, is_superuser=True)
    sign_in_with_code(client, admin, clock)
    form = client.get("/admin/oauth2_provider/application/add/")
    assert form.status_code == 200
    page = text(form)
    assert "Second factor" in page or "second factor" in page
    secret = re.search(r'name="client_secret"[^>]*value="([^"]+)"', page)
    client_id = re.search(r'name="client_id"[^>]*value="([^"]+)"', page)
    assert secret is not None
    assert client_id is not None
    response = client.post(
        "/admin/oauth2_provider/application/add/",
        {
            "client_id": client_id.group(1),
            "client_secret": secret.group(1),
            "hash_client_secret": "on",
            "client_type": "confidential",
            "authorization_grant_type": "authorization-code",
            "redirect_uris": "https://learn.example.org/cb",
            "post_logout_redirect_uris": "",
            "allowed_origins": "",
            "name": "Learning",
            "skip_authorization": "on",
            "algorithm": "",
            "vahva_service-TOTAL_FORMS": "1",
            "vahva_service-INITIAL_FORMS": "0",
            "vahva_service-MIN_NUM_FORMS": "0",
            "vahva_service-MAX_NUM_FORMS": "1",
            "vahva_service-0-mfa_rule": "always",
        },
    )
    assert response.status_code == 302, text(response)[:3000]
    app = Application.objects.get(name="Learning")
    # Stored hashed: the add form was the only time the secret was shown.
    assert app.client_secret != secret.group(1)
    assert app.algorithm == Application.RS256_ALGORITHM
    assert Service.objects.get(application=app).mfa_rule == "always"
