"""Every option a command takes, each defined here once, and the one parser class whose
errors are one line naming the option, the value and what is accepted. A command that
words an option its own way (the `app` session's closed-loop options, say) passes its
help text; the option, its type, bounds and default stay here.

Standard library only: the noxfile checks options before anything installs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from pyserverbench import RUNS
from pyserverbench.cli.types import (
    bounded_float,
    bounded_int,
    cpu_list,
    k6_duration,
    latencies,
    workers_count,
)
from pyserverbench.matrix.stacks import STACKS, threads_help, threads_problem
from pyserverbench.matrix.workloads import DEFAULT_CALLS, MAX_CALLS, MAX_ROWS, WORKLOADS

CONNECTIONS = ("kept", "per-iteration")


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: printed with exit code 2, or raised
    as a ValueError holding that line when made with `raising=True` (a session checks
    its options before it queues anything)."""

    def __init__(self, *args: Any, raising: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raising = raising

    def error(self, message: str) -> NoReturn:
        if self.raising:
            raise ValueError(message)
        self.exit(2, f"{self.prog}: error: {message}\n")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one error line to stderr and exit."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


Target = argparse.ArgumentParser | argparse._MutuallyExclusiveGroup


def add_stack(parser: argparse.ArgumentParser, choices: list[str] | None = None) -> None:
    parser.add_argument("--stack", required=True, choices=choices or list(STACKS),
                        help="which server stack to run")


def add_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=workers_count, default=2,
                        help="server worker processes: 1 to 64, or auto (the stack's own "
                             "rule for the server's CPUs; default 2)")


def add_threads(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument("--threads", type=bounded_int(1, 256), default=None,
                        help=help or threads_help())


def add_db_latency(parser: argparse.ArgumentParser, several: bool = False,
                   default: int = 25, help: str | None = None) -> None:
    """One fake-DB latency, or (for capacity searches) a list of them, one search each."""
    if help is not None:
        parser.add_argument("--db-latency", type=bounded_int(0, 10_000), default=default,
                            help=help)
    elif several:
        parser.add_argument("--db-latency", type=latencies, default=[25],
                            help="fake DB latency in ms, or several: 0,5,25,100 (one search "
                                 "each; default 25)")
    else:
        parser.add_argument("--db-latency", type=bounded_int(0, 10_000), default=25,
                            help="fake DB latency per request in ms (0 to 10000, default 25)")


DB_KINDS = ("fake", "postgres")


def add_db(parser: argparse.ArgumentParser) -> None:
    """`--db` and `--db-pool`: which database the apps call, and each worker's pool."""
    parser.add_argument("--db", choices=DB_KINDS, default="fake",
                        help="fake: the fake DB, a sleep per call (default); postgres: a real "
                             "PostgreSQL started for the run, queried through each model's "
                             "pool (docs/database.md)")
    parser.add_argument("--db-pool", type=bounded_int(1, 1000), default=None,
                        help="postgres only: connections per worker process (1 to 1000; "
                             "default: one per request thread for thread-per-request "
                             "servers, 10 for event loops and gevent)")


def db_problem(args: argparse.Namespace) -> str | None:
    """`--db-pool` without `--db postgres`, in one line; else None."""
    if getattr(args, "db_pool", None) is not None and args.db != "postgres":
        return "argument --db-pool: applies to --db postgres only, not 'fake'"
    return None


def add_duration(parser: argparse.ArgumentParser, default: int = 60,
                 help: str = "load duration, k6 style: 15s, 1m, 1m30s (default 60s)") -> None:
    parser.add_argument("--duration", type=k6_duration, default=default, help=help)


def add_vus(parser: argparse.ArgumentParser,
            help: str = "k6 virtual users (1 to 1000, default 10)") -> None:
    parser.add_argument("--vus", type=bounded_int(1, 1000), default=10, help=help)


def add_repeat(parser: argparse.ArgumentParser,
               help: str = "run the configuration this many times, fresh processes each "
                           "(1 to 100, default 1)") -> None:
    parser.add_argument("--repeat", type=bounded_int(1, 100), default=1, help=help)


def add_connections(parser: argparse.ArgumentParser,
                    help: str = "kept: each virtual user keeps its connections for the whole "
                                "run (default); per-iteration: it opens new ones every "
                                "iteration") -> None:
    parser.add_argument("--connections", choices=CONNECTIONS, default="kept", help=help)


def add_server_cpus(target: Target,
                    help: str = "pin the server to these CPUs (like 0 or 0-1) and k6 and the "
                                "fake DB to the others (default: no pinning, cores shared)"
                    ) -> None:
    target.add_argument("--server-cpus", type=cpu_list, default=None, help=help)


def add_goal(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--goal-ms", type=bounded_float(1, 60_000), default=None, help=help)


def add_results_dir(parser: argparse.ArgumentParser, default: Path = RUNS,
                    help: str = "where to write the records (default results/runs)") -> None:
    parser.add_argument("--results-dir", type=Path, default=default, help=help)


def add_workload_options(parser: argparse.ArgumentParser) -> None:
    """`--workload` and its dials."""
    parser.add_argument("--workload", choices=WORKLOADS, default="mix",
                        help="what a request does: mix (the study's, default), page "
                             "(templating only), api (one fake-DB call), fanout (several)")
    parser.add_argument("--page-rows", type=bounded_int(0, MAX_ROWS), default=None,
                        help=f"page only: rows of a table built per request (0 to "
                             f"{MAX_ROWS}, default 0: the study's page)")
    parser.add_argument("--fanout-calls", type=bounded_int(1, MAX_CALLS), default=None,
                        help=f"fanout only: fake-DB calls per request (1 to {MAX_CALLS}, "
                             f"default {DEFAULT_CALLS})")


def workload_problem(args: argparse.Namespace) -> str | None:
    """A dial given to a workload it does not apply to, in one line; else None."""
    for option, owner in (("page_rows", "page"), ("fanout_calls", "fanout")):
        if getattr(args, option) is not None and args.workload != owner:
            flag = "--" + option.replace("_", "-")
            return (f"argument {flag}: applies to --workload {owner} only, not "
                    f"{args.workload!r}")
    return None


def add_k6_options(parser: argparse.ArgumentParser) -> None:
    """What k6 does in a closed-loop run: duration, users, repeats, connections and the
    workload (the bench sessions and the load role)."""
    add_duration(parser)
    add_vus(parser)
    add_repeat(parser)
    add_connections(parser)
    add_workload_options(parser)


def add_load_options(parser: argparse.ArgumentParser) -> None:
    """Options a user may pass after `--` to the bench sessions."""
    add_k6_options(parser)
    add_db_latency(parser)
    add_db(parser)
    add_threads(parser)
    add_server_cpus(parser)


def load_options_problem(argv: list[str], stack: str | None = None) -> str | None:
    """The one-line problem with argv as load options for `stack` (None: a session that
    runs several stacks), or None if they are valid."""
    parser = OneLineParser(add_help=False, raising=True)
    add_workers(parser)
    add_load_options(parser)
    try:
        args = parser.parse_args(argv)
    except ValueError as exc:
        return str(exc)
    return threads_problem(stack, args.threads) or workload_problem(args) or db_problem(args)
