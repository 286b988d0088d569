"""What vahva's SCIM service is: RFC 7643's User (with the enterprise extension) and Group,
and the capabilities ``/ServiceProviderConfig`` announces. The protocol itself (validation,
PUT and PATCH semantics, filters, ETags, error bodies) is scim2-server's and scim2-models'."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    External,
    Filter,
    Group,
    Patch,
    Reference,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)
from scim2_server.responses import ScimResponse
from scim2_server.service import ScimService

from vahva.conf import settings

USER_TYPE = ResourceType.from_resource(User[EnterpriseUser])
GROUP_TYPE = ResourceType.from_resource(Group)

BEARER = AuthenticationScheme(
    type=AuthenticationScheme.Type.oauthbearertoken,
    name="Bearer token",
    description="A token from `vahva scim token add NAME`, sent as Authorization: Bearer",
    spec_uri=Reference[External]("https://datatracker.ietf.org/doc/html/rfc6750"),
    primary=True,
)


def service_provider_config(*, max_results: int) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        patch=Patch(supported=True),
        # One change per request, each in its own transaction: nothing half-applied.
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=max_results),
        # A provisioned person has no local password: the directory keeps it.
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=True),
        authentication_schemes=[BEARER],
    )


class VahvaService(ScimService):
    """scim2-server's protocol, with one choice of vahva's."""

    def patch_response(
        self,
        base_url: str,
        resource: Resource[Any],
        response_parameters: ResponseParameters[Any],
    ) -> ScimResponse:
        # RFC 7644 §3.5.2 allows 200 with the resource or 204; identity systems (Okta among
        # them) read the resource back from the answer, so vahva always sends it.
        published = self.publish(base_url, resource)
        return self.resource_response(
            published, Context.RESOURCE_REPLACEMENT_RESPONSE, response_parameters
        )


@lru_cache(maxsize=4)
def _service(max_results: int) -> ScimService:
    provider = ScimProvider(
        models=[User, EnterpriseUser, Group],
        resource_types=[USER_TYPE, GROUP_TYPE],
        config=service_provider_config(max_results=max_results),
    )
    return VahvaService(provider)


def service() -> ScimService:
    """The service for the current settings (built once per value of the settings)."""
    return _service(int(settings.SCIM_MAX_RESULTS))


def model_of(resource_type: ResourceType) -> Any:
    return service().get_model(resource_type)
