"""A directory person's new password, written to the directory (vahva keeps no copy).

- OpenLDAP, 389-ds, FreeIPA: the LDAP Password Modify extended operation (RFC 3062), bound
  as the person with the old password (a change) or as the service account (a reset after
  vahva checked a link by e-mail and a second factor);
- Active Directory: ``unicodePwd`` (the password in double quotes, UTF-16-LE): a change is
  delete-old + add-new in one modify, as the person; a reset is a replace, as the service
  account (MS-ADTS 3.1.1.3.1.5). AD accepts either only over TLS.
The directory's own password policy (length, history) may still refuse the new password.
"""

from __future__ import annotations

from typing import Any

import ldap
from django.utils.translation import gettext_lazy as _

from vahva.errors import VahvaError

from .config import DirectoryConfig, PasswordModify
from .connection import UNREACHABLE, DirectoryUnavailable, connect


class DirectoryRefused(VahvaError):
    default_message = _(
        "The directory did not accept the new password. It may be too short, too simple or "
        "used before: try another."
    )


def _ad_value(password: str) -> bytes:
    return f'"{password}"'.encode("utf-16-le")


def set_password(config: DirectoryConfig, *, dn: str, new: str, old: str | None) -> None:
    """Write ``new`` for ``dn``: a change with ``old`` (bound as the person), else a reset
    (bound as the service account). Raise DirectoryRefused or DirectoryUnavailable."""
    conn: Any = None
    try:
        conn = connect(config, bind=False)
        if old is not None:
            conn.simple_bind_s(dn, old)
        else:
            conn.simple_bind_s(config.bind_dn, config.bind_password)
        if config.password_modify is PasswordModify.AD:
            if old is not None:
                changes = [
                    (ldap.MOD_DELETE, "unicodePwd", [_ad_value(old)]),
                    (ldap.MOD_ADD, "unicodePwd", [_ad_value(new)]),
                ]
            else:
                changes = [(ldap.MOD_REPLACE, "unicodePwd", [_ad_value(new)])]
            conn.modify_s(dn, changes)
        else:
            conn.passwd_s(dn, old, new)
    except UNREACHABLE as exc:
        raise DirectoryUnavailable() from exc
    except ldap.LDAPError as exc:
        # Wrong old password, the directory's policy, no right to write: nothing changed.
        raise DirectoryRefused() from exc
    finally:
        if conn is not None:
            conn.unbind_s()
