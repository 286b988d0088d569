"""The push settings are validated like every other VAHVA setting."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from vahva.conf import validate


def test_defaults() -> None:
    values = validate({})
    assert values["PUSH_TTL"] == 60
    assert values["DEVICE_REQUEST_WINDOW"] == 120
    assert values["PUSH_ALLOW_PRIVATE_ENDPOINTS"] is False


@pytest.mark.parametrize(
    "overrides",
    [
        {"PUSH_TTL": 0},
        {"PUSH_TTL": "60"},
        {"PUSH_TTL": True},
        {"DEVICE_REQUEST_WINDOW": -1},
        {"PUSH_ALLOW_PRIVATE_ENDPOINTS": "yes"},
    ],
)
def test_bad_values_are_errors(overrides: dict[str, object]) -> None:
    with pytest.raises(ImproperlyConfigured, match=next(iter(overrides))):
        validate(overrides)
