"""Settings for the test suite: fixed keys and a throwaway database; hashing stays real."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("VAHVA_SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("VAHVA_DATA_DIR", os.path.join(tempfile.gettempdir(), "vahva-test"))
# Under pytest-xdist each worker (gw0, gw1, ...) keeps a data folder of its own: the OIDC and
# SAML keys are made there on first use, and two processes making them at once could pair
# one's key with the other's certificate. (The workers inherit the folder above from the
# controller; a subprocess a worker starts inherits the worker's, already suffixed.)
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER and os.path.basename(os.environ["VAHVA_DATA_DIR"]) != _WORKER:
    os.environ["VAHVA_DATA_DIR"] = os.path.join(os.environ["VAHVA_DATA_DIR"], _WORKER)
os.environ.setdefault("VAHVA_CONFIG", "")
# The live server used by browser tests speaks plain http: Secure and __Host- cookies off.
os.environ.setdefault("VAHVA_SECURE_COOKIES", "false")

from vahva.settings.main import *  # noqa: E402, F403
from vahva.settings.main import VAHVA  # noqa: E402

DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
VAHVA = {
    **VAHVA,
    "ORGANISATION_NAME": "Demo University",
    "HELPDESK_EMAIL": "helpdesk@demo.example",
    "ENCRYPTION_KEYS": {"k1": "mFnCOWzvJe6uGQ0cV3nI8wz1j3-C5bS3xNcxu5u4r-E="},
    "ENCRYPTION_KEY_ID": "k1",
    # Texts and calls land on the dev phone (/dev/phone), which tests read.
    "DEV_PHONE": True,
}
REDIS_URL = ""  # the suite runs on the in-process bus; the Redis tests set their own
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # The browser tests' live server answers from several threads at once, and an in-memory
    # test database is one shared connection there ("database table is locked"). A file of
    # this run's own (WAL, as in production) is not; the pid keeps parallel runs apart (and
    # pytest-django adds each xdist worker's name to it).
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"vahva-test-{os.getpid()}.sqlite3")
    }
