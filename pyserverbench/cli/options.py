"""Argument parsing that fails in one line, naming the option, the value and what is valid.

Standard library only: the noxfile and the fake DB import it too.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable
from typing import NoReturn

from pyserverbench.matrix.stacks import threads_help, threads_problem
from pyserverbench.matrix.workloads import add_workload_options, workload_problem


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a single line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _bounded(convert: Callable[[str], float], kind: str, low: float,
             high: float) -> Callable[[str], float]:
    """An argparse type: `convert` the text, then require low <= value <= high."""
    shown = [str(v) if isinstance(v, int) else f"{v:g}" for v in (low, high)]
    accepted = f"(accepted: {shown[0]} to {shown[1]})"

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind} {accepted}")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range {accepted}")
        return value

    parse.__name__ = kind
    return parse


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type accepting whole numbers from low to high."""
    return _bounded(int, "whole number", low, high)  # type: ignore[return-value]


def bounded_float(low: float, high: float) -> Callable[[str], float]:
    """Return an argparse type accepting finite numbers from low to high."""
    return _bounded(float, "number", low, high)


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_DURATION_S = 24 * 3600


def k6_duration(text: str) -> int:
    """Parse a k6-style duration (`15s`, `1m`, `1m30s`, `2h`) into whole seconds."""
    match = _DURATION.match(text)
    if not text or not match:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration (accepted: like 15s, 1m, 1m30s; 1s to 24h)"
        )
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if not 1 <= total <= MAX_DURATION_S:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range (accepted: 1s to 24h)")
    return total


CONNECTIONS = ("kept", "per-iteration")


def cpu_list(text: str) -> frozenset[int]:
    """Parse CPUs like `0`, `0,2` or `0-1`: some, not all, of those this process may use."""
    usable = sorted(os.sched_getaffinity(0))
    accepted = f"accepted: some but not all of CPUs {','.join(map(str, usable))}, like 0 or 0-1"
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a CPU list ({accepted})") from None
    if not cpus or not cpus <= set(usable) or cpus == set(usable):
        raise argparse.ArgumentTypeError(f"{text!r} is not usable here ({accepted})")
    return frozenset(cpus)


def add_k6_options(parser: argparse.ArgumentParser) -> None:
    """What k6 does in a closed-loop run: duration, users, repeats, connections and the
    workload (the bench sessions and the load role)."""
    parser.add_argument("--duration", type=k6_duration, default=60,
                        help="load duration, k6 style: 15s, 1m, 1m30s (default 60s)")
    parser.add_argument("--vus", type=bounded_int(1, 1000), default=10,
                        help="k6 virtual users (1 to 1000, default 10)")
    parser.add_argument("--repeat", type=bounded_int(1, 100), default=1,
                        help="run the configuration this many times, fresh processes each "
                             "(1 to 100, default 1)")
    parser.add_argument("--connections", choices=CONNECTIONS, default="kept",
                        help="kept: each virtual user keeps its connections for the whole "
                             "run (default); per-iteration: it opens new ones every iteration")
    add_workload_options(parser)


def add_load_options(parser: argparse.ArgumentParser) -> None:
    """Options a user may pass after `--` to the bench sessions."""
    add_k6_options(parser)
    parser.add_argument("--db-latency", type=bounded_int(0, 10_000), default=25,
                        help="fake DB latency per request in ms (0 to 10000, default 25)")
    parser.add_argument("--threads", type=bounded_int(1, 256), default=None,
                        help=threads_help())
    parser.add_argument("--server-cpus", type=cpu_list, default=None,
                        help="pin the server to these CPUs (like 0 or 0-1) and k6 and the "
                             "fake DB to the others (default: no pinning, cores shared)")


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def load_options_problem(argv: list[str], stack: str | None = None) -> str | None:
    """The one-line problem with argv as load options for `stack` (None: a session that
    runs several stacks), or None if they are valid."""
    parser = _RaisingParser(add_help=False)
    add_load_options(parser)
    try:
        args = parser.parse_args(argv)
    except ValueError as exc:
        return str(exc)
    return threads_problem(stack, args.threads) or workload_problem(args)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one error line to stderr and exit."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)
