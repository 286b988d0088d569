"""Adding people one by one or from a CSV export of the organisation's directory."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from .models import User, normalise_email


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def clean_email(raw: str) -> str:
    """Normalise and validate an address; raise ValidationError with a readable message."""
    email = normalise_email(raw)
    validate_email(email)
    return email


def import_csv(lines: Iterable[str]) -> ImportReport:
    """Create or update people from CSV with the header ``email,full_name[,password]``.

    All rows are checked first; nothing is saved when any row is wrong, so a bad export
    never leaves a half-imported directory.
    """
    report = ImportReport()
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or "email" not in reader.fieldnames:
        report.errors.append("the first line must be a header with at least an 'email' column")
        return report
    rows: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for number, row in enumerate(reader, start=2):
        try:
            email = clean_email(row.get("email") or "")
        except ValidationError:
            report.errors.append(f"line {number}: {row.get('email')!r} is not an e-mail address")
            continue
        if email in seen:
            report.errors.append(f"line {number}: {email} appears twice")
            continue
        seen.add(email)
        rows.append((email, (row.get("full_name") or "").strip(), row.get("password") or ""))
    if report.errors:
        return report
    with transaction.atomic():
        for email, full_name, password in rows:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User(email=email, full_name=full_name)
                # No password in the file: the person cannot sign in until one is set.
                if password:
                    user.set_password(password)
                else:
                    user.set_unusable_password()
                user.save()
                report.created.append(email)
            else:
                user.full_name = full_name or user.full_name
                if password:
                    user.set_password(password)
                user.save()
                report.updated.append(email)
    return report
