"""The directory's configuration, parsed once per settings change."""

from __future__ import annotations

from typing import Any

from vahva.conf import settings

from .config import DirectoryConfig, parse

_last: list[tuple[Any, DirectoryConfig]] = []


def current_config() -> DirectoryConfig:
    """``VAHVA["DIRECTORY"]`` typed (the settings object keeps one dict until reloaded)."""
    value = settings.DIRECTORY
    if _last and _last[0][0] is value:
        return _last[0][1]
    config = parse(value)
    _last[:] = [(value, config)]
    return config
