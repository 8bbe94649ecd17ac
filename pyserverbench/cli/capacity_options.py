"""The options of a capacity search. Standard library only: the noxfile checks them."""

from __future__ import annotations

import argparse
from pathlib import Path

from pyserverbench import ROOT
from pyserverbench.cli.options import (
    OneLineParser,
    bounded_float,
    bounded_int,
    cpu_list,
    k6_duration,
)
from pyserverbench.cli.progress import add_progress_option
from pyserverbench.matrix.stacks import STACKS, threads_help, threads_problem
from pyserverbench.matrix.workloads import (
    STUDY_MIX,
    add_workload_options,
    parse_mix,
    workload_problem,
)

MAP_LATENCIES = "0,5,25,100"  # the capacity map's DB latencies, in ms


def latencies(text: str) -> list[int]:
    """`25` or `0,5,25,100` -> DB latencies in ms, one search each."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or any(not 0 <= v <= 10_000 for v in values):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of latencies (accepted: like 25 or 0,5,25,100; "
            f"each a whole number from 0 to 10000)")
    return values


def _mix(text: str) -> str:
    try:
        parse_mix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def default_server_cpus(usable: set[int]) -> frozenset[int] | None:
    """The server's CPUs when none are given: the lower half of those usable (at least
    one), so k6 and the fake DB get the rest; None on a single CPU."""
    ordered = sorted(usable)
    if len(ordered) < 2:
        return None
    return frozenset(ordered[: len(ordered) // 2])


def build_parser(prog: str = "python -m pyserverbench capacity") -> OneLineParser:
    """The options of `capacity`; the nox sessions pass --stack and --workers."""
    parser = OneLineParser(prog=prog, description="Find the highest arrival rate a stack "
                                                  "sustains within a latency goal (open loop).")
    parser.add_argument("--stack", required=True, choices=list(STACKS))
    parser.add_argument("--workers", type=bounded_int(1, 64), default=2,
                        help="server worker processes (1 to 64, default 2)")
    parser.add_argument("--threads", type=bounded_int(1, 256), default=None,
                        help=threads_help())
    parser.add_argument("--db-latency", type=latencies, default=[25],
                        help="fake DB latency in ms, or several: 0,5,25,100 (one search "
                             "each; default 25)")
    parser.add_argument("--goal-ms", type=bounded_float(1, 60_000), default=None,
                        help="p99 latency goal in ms (default: DB latency + 50)")
    parser.add_argument("--step", type=k6_duration, default=5,
                        help="measured part of each step, k6 style (default 5s)")
    parser.add_argument("--warmup", type=k6_duration, default=2,
                        help="uncounted warm-up at the start of each step (default 2s)")
    parser.add_argument("--resolution", type=bounded_float(0.01, 1.0), default=0.05,
                        help="stop when the lowest failing rate is within this fraction "
                             "above the highest passing one (0.01 to 1, default 0.05)")
    parser.add_argument("--start-rps", type=bounded_float(1, 100_000), default=50.0,
                        help="first rate tried, requests per second (default 50)")
    parser.add_argument("--max-rps", type=bounded_float(1, 100_000), default=20_000.0,
                        help="highest rate tried (1 to 100000, default 20000)")
    add_workload_options(parser)
    parser.add_argument("--mix", type=_mix, default=None,
                        help=f"--workload mix only: requests and their weights (default "
                             f"{STUDY_MIX})")
    parser.add_argument("--repeat", type=bounded_int(1, 100), default=1,
                        help="searches per latency, fresh processes each (1 to 100, default 1)")
    placement = parser.add_mutually_exclusive_group()
    placement.add_argument("--server-cpus", type=cpu_list, default=None,
                           help="pin the server to these CPUs, k6 and the fake DB to the "
                                "others (default: the lower half of the CPUs)")
    placement.add_argument("--shared-cpus", action="store_true",
                           help="no pinning: the server, k6 and the fake DB share every CPU")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "results" / "runs",
                        help="where to write the records (default results/runs)")
    parser.add_argument("--progress-label", default="",
                        help="text put before every progress line (the map uses it)")
    add_progress_option(parser)
    return parser


def search_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with parsed options beyond each one's own check, or None."""
    wrong = threads_problem(args.stack, args.threads) or workload_problem(args)
    if wrong:
        return wrong
    if args.mix is not None and args.workload != "mix":
        return f"argument --mix: applies to --workload mix only, not {args.workload!r}"
    if args.start_rps > args.max_rps:
        return f"argument --start-rps: {args.start_rps:g} is above --max-rps {args.max_rps:g}"
    return None


class _Raising(OneLineParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ValueError(message)


def search_options_problem(stack: str, workers: int, argv: list[str]) -> str | None:
    """The one-line problem with argv as a session's capacity options, or None."""
    parser = build_parser()
    parser.__class__ = _Raising
    try:
        args = parser.parse_args(["--stack", stack, "--workers", str(workers), *argv])
    except ValueError as exc:
        return str(exc)
    return search_problem(args)
