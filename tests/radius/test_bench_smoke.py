"""bench/radius.py runs start to end in its tiny mode (it asserts no rate: a shared machine is
too noisy for that, but the script must keep working)."""

from __future__ import annotations

from tests.test_bench_smoke import run


def test_radius_bench_quick() -> None:
    out = run("radius.py", "--quick")
    assert "password only" in out
    assert "password,code in one request" in out
    assert "20 waiting pushes" in out
    assert "KiB per waiting request" in out
