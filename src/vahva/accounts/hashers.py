"""argon2id with the parameters from ``VAHVA`` settings.

Django's Argon2 hasher already upgrades a stored hash on the next successful sign-in when
its parameters differ from the hasher's (``must_update`` compares against ``params()``);
reading them from settings makes that upgrade follow the deployment's configuration. Where
``ARGON2_EXCLUSIVE`` says so, the hash is computed holding the GIL
(:mod:`vahva.accounts.exclusive_argon2`), with the same result.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth.hashers import Argon2PasswordHasher, BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare

from vahva.accounts import exclusive_argon2
from vahva.conf import settings


@functools.cache
def _exclusive(setting: str, workers: int) -> bool:
    # Once per process and setting: the cores a process may use do not change while it runs.
    return exclusive_argon2.wanted(setting, workers)


def exclusive() -> bool:
    """Whether this process hashes holding the GIL (``ARGON2_EXCLUSIVE``)."""
    return _exclusive(str(settings.ARGON2_EXCLUSIVE), int(django_settings.SERVE_WORKERS))


class VahvaArgon2Hasher(Argon2PasswordHasher):
    algorithm = "argon2"

    def params(self) -> Any:
        self.time_cost = int(settings.ARGON2_TIME_COST)
        self.memory_cost = int(settings.ARGON2_MEMORY_COST)
        self.parallelism = int(settings.ARGON2_PARALLELISM)
        return super().params()

    def encode(self, password: str, salt: str) -> str:
        if not exclusive():
            return str(super().encode(password, salt))
        params = self.params()
        data = exclusive_argon2.hash_secret(
            password.encode(),
            salt.encode(),
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
            hash_len=params.hash_len,
            type=params.type,
        )
        return self.algorithm + data.decode("ascii")

    def verify(self, password: str, encoded: str) -> bool:
        if not exclusive():
            return bool(super().verify(password, encoded))
        algorithm, rest = encoded.split("$", 1)
        assert algorithm == self.algorithm
        return exclusive_argon2.verify(("$" + rest).encode("ascii"), password.encode())


class RandomSecretHasher(BasePasswordHasher):
    """One salted SHA-256, for secrets vahva generates with 256 random bits (client secrets).

    A slow hash protects passwords people choose, which can be guessed; nobody can guess a
    256-bit random secret, so a fast hash is as safe for it, and a service's token request
    does not pay argon2's ~16 ms. Never used for people's passwords: ``make_password`` uses
    the first hasher in PASSWORD_HASHERS (argon2id).
    """

    algorithm = "vahva_secret_sha256"

    def encode(self, password: str, salt: str) -> str:
        if password is None or not salt or "$" in salt:
            raise ValueError("a password and a salt without '$' are required")
        digest = hashlib.sha256(f"{salt}${password}".encode()).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict[str, Any]:
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        decoded = self.decode(encoded)
        # Constant-time: the comparison leaks nothing about the stored digest.
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded: str) -> dict[Any, Any]:
        decoded = self.decode(encoded)
        return {"algorithm": decoded["algorithm"], "salt": mask_hash(decoded["salt"], show=2)}

    def harden_runtime(self, password: str, encoded: str) -> None:
        return None
