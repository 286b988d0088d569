"""The helpdesk room keeps no data of its own (its actions land in the audit log); this model
only carries the permission that opens its pages."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Helpdesk(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("access", _("Can use the helpdesk tools"))]
        verbose_name = _("helpdesk")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
