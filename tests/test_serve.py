"""`vahva serve` caps glibc's malloc arenas (memory per waiting sign-in, bench/push.py)."""

from __future__ import annotations

import platform

import pytest

from vahva import cli


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_serve_caps_malloc_arenas_unless_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert cli.limit_malloc_arenas() is True
    # An operator's own MALLOC_ARENA_MAX wins: glibc read it at start, vahva leaves it.
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert cli.limit_malloc_arenas() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_serve_keeps_hash_memory_unless_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in cli.MALLOC_THRESHOLDS:
        monkeypatch.delenv(name, raising=False)
    assert cli.keep_hash_memory() is True
    # An operator's own threshold wins: glibc read it at start, vahva leaves both.
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert cli.keep_hash_memory() is False
