"""argon2id with the parameters from ``VAHVA`` settings.

Django's Argon2 hasher already upgrades a stored hash on the next successful sign-in when
its parameters differ from the hasher's (``must_update`` compares against ``params()``);
reading them from settings makes that upgrade follow the deployment's configuration.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import Argon2PasswordHasher

from vahva.conf import settings


class VahvaArgon2Hasher(Argon2PasswordHasher):
    algorithm = "argon2"

    def params(self) -> Any:
        self.time_cost = int(settings.ARGON2_TIME_COST)
        self.memory_cost = int(settings.ARGON2_MEMORY_COST)
        self.parallelism = int(settings.ARGON2_PARALLELISM)
        return super().params()
