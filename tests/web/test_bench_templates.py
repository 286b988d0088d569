"""bench/templates.py runs start to end in a tiny mode; it checks no figure (not a timed test)."""

from __future__ import annotations

from tests.test_bench_smoke import run


def test_templates_bench_tiny() -> None:
    # --plain swaps the pages for their plain sources in the cached loader and back; --http
    # GETs them from `vahva serve`: both must keep working, and every row must be printed.
    out = run("templates.py", "--renders", "3", "--rounds", "1", "--plain", "--http")
    for row in ("password", "verify", "password plain", "verify plain"):
        assert f"{row} render" in out
        assert f"{row} GET" in out
    assert "password GET, http" in out
    assert "verify GET, http" in out
