"""The new benchmarks run start to end in their tiny mode (``--quick``): they are not timed
tests (a shared machine is too noisy to assert a rate), but they must keep working."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(script: str, *args: str, timeout: float = 600) -> str:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_totp_api_quick() -> None:
    out = run("totp_api.py", "--quick", "--no-privacyidea")
    assert "vahva, 1 client" in out
    assert "vahva, 4 clients" in out
    assert "checks/s" in out


def test_signin_pairs_quick() -> None:
    # One-second phases: the figures mean nothing, the shape does. Each pair is a floor and a
    # load on the same server, and the verdict is on their median.
    out = run("signin.py", "--seconds", "1", "--clients", "2", "--pairs", "2")
    assert "http, 2 clients" in out
    pairs = [line.split() for line in out.splitlines() if line[:1] in {"1", "2"}]
    assert [row[0] for row in pairs] == ["1", "2"]
    ratios = sorted(float(row[3]) for row in pairs)
    verdict = re.search(r"median of 2 pairs: (?:not )?met \((\S+); (\S+) to (\S+)\)", out)
    assert verdict, out[-2000:]
    median, low, high = (float(value) for value in verdict.groups())
    assert (low, high) == (ratios[0], ratios[1])
    # Of the unrounded ratios: the printed median is within rounding of their mean.
    assert abs(median - sum(ratios) / 2) <= 0.01


def test_signin_before_and_after_quick(tmp_path: Path) -> None:
    # Two servers take turns: a copy of this checkout's src as "before", this one as "after".
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    out = run(
        "signin.py",
        "--seconds",
        "1",
        "--clients",
        "2",
        "--before",
        str(tmp_path / "src"),
        "--rounds",
        "2",
    )
    assert f"before: {tmp_path / 'src'}; after: this checkout" in out
    rounds = [line.split() for line in out.splitlines() if line[:1] in {"1", "2"}]
    assert [row[0] for row in rounds] == ["1", "2"]
    ratios = sorted(float(after) / float(before) for _, before, after, _ in rounds)
    verdict = re.search(r"median of 2 rounds: (\S+) \((\S+) to (\S+)\)", out)
    assert verdict, out[-2000:]
    median, low, high = (float(value) for value in verdict.groups())
    # Of the unrounded figures: the printed ratios are within rounding of those recomputed.
    assert abs(low - ratios[0]) <= 0.002
    assert abs(high - ratios[1]) <= 0.002
    assert abs(median - sum(ratios) / 2) <= 0.002


def test_signin_before_must_be_a_src_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "signin.py"), "--before", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert f"--before {tmp_path}: not a src directory with vahva in it" in done.stderr


def _postgres_installed() -> bool:
    return any(Path("/usr/lib/postgresql").glob("*/bin/postgres"))


@pytest.mark.skipif(not _postgres_installed(), reason="PostgreSQL is not installed")
def test_scale_quick() -> None:
    out = run("scale.py", "--quick")
    assert "20,000 people" in out
    assert "40,000 methods" in out
    assert "goal: within 10 % of 200 people:" in out
    assert "Index Scan using accounts_user" in out
    assert "sequential scans of large tables" not in out


def test_push_two_nodes_quick() -> None:
    # Tiny: 10 people, 20 waits; the memory phase still waits its 10 s. The notification
    # must cross from node B to node A through Redis, each approval's outcome published once.
    out = run("push.py", "--nodes", "2", "--quick", "--waits", "10", "--memory-waits", "20")
    database = "PostgreSQL" if _postgres_installed() else "SQLite in WAL mode"
    assert f"shared by both: {database}" in out
    assert "node B: while A has 20 waiting" in out
    assert "approve sent to B -> notified on A" in out
    assert "Redis: 9 PUBLISH during the 9 timed approvals (1.00 each)" in out
    assert "10 streams opened in" in out
    assert "budget: 10 waits within 10,000 in < 500 MB" in out
    assert "load average at the end:" in out
    assert "errors; first" not in out


def test_hash_turns_quick() -> None:
    out = run("hash_turns.py", "--quick")
    assert "5 argon2id verifications (m=19456,t=2,p=1) and 100 renders" in out
    rows = {line[:34].strip(): line.split()[-2:] for line in out.splitlines()[-3:]}
    assert list(rows) == [
        "one after the other",
        "two threads, argon2-cffi",
        "two threads, hash holds the GIL",
    ]
    assert rows["one after the other"][1] == "1.00"  # each way is given to the first


def test_directory_quick() -> None:
    out = run("directory.py", "--quick")
    assert "directory sign-in by bind:" in out
    assert "second sync (no change)" in out
    assert "'created': 1004" in out


def test_compare_reads_the_cpu_column_of_both_sides() -> None:
    """bench/compare.py's side-by-side table comes from the scripts' printed tables."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import compare
    finally:
        sys.path.remove(str(REPO / "bench"))
    header = f"{'phase':<28} {'ops':>6} {'ops/s':>8} {'ratio':>6} {'p50 ms':>8} {'p99 ms':>8}"
    header += f" {'cpu ms/op':>10} {'cpu ratio':>9}"
    row = "{:<28} {:>6} {:8.1f} {:6.2f} {:8.1f} {:8.1f} {:10.2f} {:9.2f}"
    output = "\n".join(
        [
            header,
            "-" * len(header),
            row.format("argon2id verify, 1 core", 54, 10.7, 1.0, 74.7, 471.9, 21.55, 1.0),
            row.format("http, 4 clients", 32, 5.6, 0.53, 606.8, 1499.6, 70.0, 0.31),
            "  http, 4 clients: load generator used 0.2 CPU s",
            "",
            "target cpu ratio >= 0.60 (issue 20): not met (http, 4 clients: 0.31)",
        ]
    )
    assert compare.cpu_column(output) == {"argon2id verify, 1 core": 21.55, "http, 4 clients": 70.0}
    assert compare.verdicts(output) == [
        "target cpu ratio >= 0.60 (issue 20): not met (http, 4 clients: 0.31)"
    ]
