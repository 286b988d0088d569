"""Before and after in one invocation: a bench script run against another checkout, then this one.

    .venv/bin/python bench/compare.py --before /tmp/main/src -- signin.py --seconds 4
    .venv/bin/python bench/compare.py --before /tmp/main/src --order after,before -- oidc.py

``--before`` is the ``src`` directory of the checkout to compare with (``git archive <commit>
src | tar -x -C DIR`` makes one); the script runs with it first on PYTHONPATH, so the bench
process and the ``vahva serve`` it starts import that ``vahva`` (the dependencies are this
checkout's virtualenv: compare only checkouts with the same ones). The bench script itself is
this checkout's. Both outputs are printed whole, each with the load average at its start and
end, and then one table: every phase with the server's CPU ms per operation before and after,
and the verdict lines of both.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(script: list[str], source: str | None) -> tuple[str, str, str, float]:
    env = dict(os.environ)
    if source:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    began, start = load(), time.monotonic()
    done = subprocess.run(
        [sys.executable, str(HERE / script[0]), *script[1:]],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + (f"\n[stderr]\n{done.stderr[-3000:]}" if done.returncode else "")
    return output, began, load(), time.monotonic() - start


def cpu_column(output: str) -> dict[str, float]:
    """phase -> cpu ms/op, from every table in ``output`` (fixed-width, right-aligned)."""
    figures: dict[str, float] = {}
    end = None
    for line in output.splitlines():
        if "cpu ms/op" in line and line.startswith("phase"):
            end = line.index("cpu ms/op") + len("cpu ms/op")
            continue
        if end is None or not line.strip() or line.startswith("-"):
            if not line.strip():
                end = None
            continue
        cell = line[max(0, end - 10) : end].strip()
        phase = re.split(r"\s{2,}", line, maxsplit=1)[0].strip()
        try:
            figures[phase] = float(cell)
        except ValueError:
            continue
    return figures


def verdicts(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.match(r"(goal|target|verdict)\b", line)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the other checkout's src directory")
    parser.add_argument("--order", default="before,after", choices=("before,after", "after,before"))
    parser.add_argument(
        "script", nargs=argparse.REMAINDER, help="-- a bench script and its options"
    )
    args = parser.parse_args(argv)
    script = [part for part in args.script if part != "--"]
    if not script:
        parser.error("name a bench script after --")
    if not (Path(args.before) / "vahva").is_dir():
        parser.error(f"{args.before} holds no vahva package")
    outputs: dict[str, str] = {}
    for side in args.order.split(","):
        output, began, ended, took = run(script, args.before if side == "before" else None)
        outputs[side] = output
        print(f"==== {side}: {' '.join(script)} ({took:.0f} s; load average {began} -> {ended})")
        print(output)
    before, after = cpu_column(outputs["before"]), cpu_column(outputs["after"])
    print(f"==== server CPU ms per operation, before -> after ({' '.join(script)})")
    for phase, was in before.items():
        now = after.get(phase)
        if now is None:
            continue
        change = f"{100 * (now - was) / was:+.0f} %" if was else ""
        print(f"  {phase:<44} {was:9.2f} -> {now:9.2f}  {change}")
    for side in ("before", "after"):
        for line in verdicts(outputs[side]):
            print(f"  {side}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
