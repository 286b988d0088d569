"""argon2id with the parameters from ``VAHVA`` settings.

Django's Argon2 hasher already upgrades a stored hash on the next successful sign-in when
its parameters differ from the hasher's (``must_update``); reading them from settings makes
that upgrade follow the deployment's configuration.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher

from vahva.conf import settings


class VahvaArgon2Hasher(Argon2PasswordHasher):
    algorithm = "argon2"

    @property  # type: ignore[override]
    def time_cost(self) -> int:
        return int(settings.ARGON2_TIME_COST)

    @property  # type: ignore[override]
    def memory_cost(self) -> int:
        return int(settings.ARGON2_MEMORY_COST)

    @property  # type: ignore[override]
    def parallelism(self) -> int:
        return int(settings.ARGON2_PARALLELISM)
