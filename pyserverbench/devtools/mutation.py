"""Mutation testing: run mutmut over the modules that decide a number or a verdict, then
print the score per module and every mutant that survived, with its change."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tabulate import tabulate

from pyserverbench import ROOT
from pyserverbench.cli.options import OneLineParser
from pyserverbench.cli.types import bounded_float

CAUGHT = ("killed", "timeout")  # a mutant the tests fail on, or that hangs them (pytest-timeout)


def statuses(text: str) -> dict[str, str]:
    """Mutant name -> status, from the lines `name: status` of `mutmut results --all true`."""
    found = {}
    for line in text.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            found[name] = status
    return found


def module_of(mutant: str) -> str:
    """`pyserverbench.report.rows.x_fmt_ms__mutmut_3` -> `pyserverbench/rows.py`."""
    parts = mutant.split(".")
    return "/".join(parts[:-1]) + ".py"


def score(found: dict[str, str]) -> float:
    """Percent of mutants caught: a mutant no test runs counts as not caught."""
    return _percent(Counter(found.values()))


def _percent(counts: Counter) -> float:
    total = sum(counts.values())
    if not total:
        raise ValueError("mutmut reported no mutants")
    return 100.0 * sum(counts[status] for status in CAUGHT) / total


def score_table(found: dict[str, str]) -> str:
    """One row per module and a total: caught, survived, not run by any test, score."""
    by_module: dict[str, Counter] = {}
    for name, status in found.items():
        by_module.setdefault(module_of(name), Counter())[status] += 1
    rows = [[module, sum(counts.values()), counts["killed"], counts["timeout"],
             counts["survived"], counts["no tests"], f"{_percent(counts):.1f}%"]
            for module, counts in sorted(by_module.items())]
    total = Counter(found.values())
    rows.append(["all", len(found), total["killed"], total["timeout"], total["survived"],
                 total["no tests"], f"{_percent(total):.1f}%"])
    return tabulate(rows, headers=["module", "mutants", "killed", "timeout", "survived",
                                   "no tests", "score"], tablefmt="github")


def _mutmut(*args: str, root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=root,
                          capture_output=True, text=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m pyserverbench mutants",
                           description="Run mutmut from scratch and print the score.")
    parser.add_argument("--fail-under", type=bounded_float(0, 100), default=85.0,
                        help="exit 1 when the score is below this percent (default 85)")
    options = parser.parse_args(argv)
    root = ROOT
    shutil.rmtree(root / "mutants", ignore_errors=True)  # mutmut's cache: score from scratch
    print("mutmut run: mutating and testing (a few minutes)...", flush=True)
    started = time.monotonic()
    done = _mutmut("run", root=root)  # its progress spinner stays out of the output
    took = time.monotonic() - started
    found = statuses(_mutmut("results", "--all", "true", root=root).stdout)
    if done.returncode != 0 or not found:
        tail = (done.stdout + done.stderr).replace("\r", "\n").splitlines()[-20:]
        print("\n".join(tail), file=sys.stderr)
        print(f"mutmut run failed (exit {done.returncode})", file=sys.stderr)
        return 2
    print(score_table(found))
    print(f"\nmutmut run took {took:.0f} s")
    for name in sorted(n for n, s in found.items() if s not in CAUGHT):
        print(f"\n{found[name]}: {name}")
        shown = _mutmut("show", name, root=root).stdout.splitlines()
        print("\n".join(line for line in shown if line[:1] in "+-" and line[:3] not in
                        ("+++", "---")))
    total = score(found)
    if total < options.fail_under:
        print(f"\nscore {total:.1f}% is below {options.fail_under:g}%", file=sys.stderr)
        return 1
    return 0
