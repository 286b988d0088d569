"""The audit actions of provisioning; every row names the client (identity system)."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    TOKEN_ADDED = "scim.token_added"  # noqa: S105 (an action name)
    TOKEN_REVOKED = "scim.token_revoked"  # noqa: S105
    USER_CREATED = "scim.user_created"
    USER_UPDATED = "scim.user_updated"
    USER_DEACTIVATED = "scim.user_deactivated"
    USER_REACTIVATED = "scim.user_reactivated"
    USER_DELETED = "scim.user_deleted"
    GROUP_CREATED = "scim.group_created"
    GROUP_UPDATED = "scim.group_updated"
    GROUP_DELETED = "scim.group_deleted"
    ROLE_GRANTED = "scim.role_granted"
    ROLE_REVOKED = "scim.role_revoked"
