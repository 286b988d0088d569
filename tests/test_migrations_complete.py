"""Every model change has its migration: a deployment's `vahva migrate` builds the same tables
the code expects (an index or field without a migration would exist only in the tests)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration() -> None:
    out = io.StringIO()
    try:
        call_command("makemigrations", check=True, dry_run=True, stdout=out, verbosity=1)
    except SystemExit as missing:  # --check exits 1 when a migration would be written
        pytest.fail(f"models changed without a migration (exit {missing.code}):\n{out.getvalue()}")
