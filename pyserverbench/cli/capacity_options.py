"""The options of a capacity search. Standard library only: the noxfile checks them."""

from __future__ import annotations

import argparse

from pyserverbench.cli.options import (
    OneLineParser,
    add_db,
    add_db_latency,
    add_goal,
    add_repeat,
    add_results_dir,
    add_server_cpus,
    add_stack,
    add_threads,
    add_workers,
    add_workload_options,
    db_problem,
    workload_problem,
)
from pyserverbench.cli.progress import add_progress_option
from pyserverbench.cli.types import bounded_float, bounded_int, k6_duration, mix
from pyserverbench.matrix.stacks import threads_problem
from pyserverbench.matrix.workloads import STUDY_MIX

MAP_LATENCIES = "0,5,25,100"  # the capacity map's DB latencies, in ms
MIN_REQUESTS = 1000  # a step measures at least this many requests (where 10 s allow)
START_RPS = 500.0  # a search's first rate unless given (or --max-rps, if lower)


def default_server_cpus(usable: set[int]) -> frozenset[int] | None:
    """The server's CPUs when none are given: the lower half of those usable (at least
    one), so k6 and the fake DB get the rest; None on a single CPU."""
    ordered = sorted(usable)
    if len(ordered) < 2:
        return None
    return frozenset(ordered[: len(ordered) // 2])


def build_parser(prog: str = "python -m pyserverbench capacity",
                 raising: bool = False) -> OneLineParser:
    """The options of `capacity`; the nox sessions pass --stack and --workers."""
    parser = OneLineParser(prog=prog, raising=raising,
                           description="Find the highest arrival rate a stack sustains "
                                       "within a latency goal (open loop).")
    add_stack(parser)
    add_workers(parser)
    add_threads(parser)
    add_db_latency(parser, several=True)
    add_db(parser)
    add_goal(parser, "p99 latency goal in ms (default: DB latency + 50)")
    parser.add_argument("--step", type=k6_duration, default=2,
                        help="shortest measured part of a step, k6 style (default 2s; "
                             "longer where needed for --min-requests, up to 10s)")
    parser.add_argument("--min-requests", type=bounded_int(10, 100_000), default=MIN_REQUESTS,
                        help=f"requests a step measures at least, where --step and 10 s "
                             f"allow (10 to 100000, default {MIN_REQUESTS:,}: p99 is then "
                             f"the 10th largest)")
    parser.add_argument("--warmup", type=k6_duration, default=1,
                        help="uncounted warm-up at the start of each step (default 1s)")
    parser.add_argument("--resolution", type=bounded_float(0.01, 1.0), default=0.05,
                        help="stop when the lowest failing rate is within this fraction "
                             "above the highest passing one (0.01 to 1, default 0.05)")
    parser.add_argument("--start-rps", type=bounded_float(1, 100_000), default=None,
                        help="first rate tried, requests per second (default 500, or 80%% of "
                             "a blocking server's slots over its DB wait where that is "
                             "lower)")
    parser.add_argument("--near", type=bounded_float(1, 100_000), default=None,
                        help="an earlier search's capacity for the same cell (a sitting "
                             "passes its earlier rounds' median): start there and move by "
                             "the resolution instead of climbing from --start-rps")
    parser.add_argument("--max-rps", type=bounded_float(1, 100_000), default=20_000.0,
                        help="highest rate tried (1 to 100000, default 20000)")
    add_workload_options(parser)
    parser.add_argument("--mix", type=mix, default=None,
                        help=f"--workload mix only: requests and their weights (default "
                             f"{STUDY_MIX})")
    add_repeat(parser, "searches per latency, fresh processes each (1 to 100, default 1)")
    placement = parser.add_mutually_exclusive_group()
    add_server_cpus(placement, "pin the server to these CPUs, k6 and the fake DB to the "
                               "others (default: the lower half of the CPUs)")
    placement.add_argument("--shared-cpus", action="store_true",
                           help="no pinning: the server, k6 and the fake DB share every CPU")
    add_results_dir(parser)
    parser.add_argument("--progress-label", default="",
                        help="text put before every progress line (the map uses it)")
    add_progress_option(parser)
    return parser


def search_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with parsed options beyond each one's own check, or None."""
    wrong = (threads_problem(args.stack, args.threads) or workload_problem(args)
             or db_problem(args))
    if wrong:
        return wrong
    if args.mix is not None and args.workload != "mix":
        return f"argument --mix: applies to --workload mix only, not {args.workload!r}"
    if args.start_rps is not None and args.start_rps > args.max_rps:
        return f"argument --start-rps: {args.start_rps:g} is above --max-rps {args.max_rps:g}"
    if args.near is not None and args.near > args.max_rps:
        return f"argument --near: {args.near:g} is above --max-rps {args.max_rps:g}"
    return None


def search_options_problem(stack: str, argv: list[str]) -> str | None:
    """The one-line problem with argv as a session's capacity options (its worker count
    among them), or None."""
    parser = build_parser(raising=True)
    try:
        args = parser.parse_args(["--stack", stack, *argv])
    except ValueError as exc:
        return str(exc)
    return search_problem(args)
