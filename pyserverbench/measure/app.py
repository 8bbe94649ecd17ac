"""`python -m pyserverbench app`: a user's own app under one stack, in that stack's
environment (the `app` session runs it once per stack). Closed loop by default, capacity
searches with --capacity; one record per run or search, as for our own apps."""

from __future__ import annotations

import json
import os
import sys

from pyserverbench.cli.capacity_options import MIN_REQUESTS, default_server_cpus
from pyserverbench.cli.options import OneLineParser
from pyserverbench.cli.progress import Progress, add_progress_option
from pyserverbench.harness.redact import keep_secret, scrub_terminal
from pyserverbench.matrix.stacks import STACKS, app_stacks, threads_problem
from pyserverbench.measure.appenv import given_env, secret_values
from pyserverbench.measure.capacity import CapacityConfig, search_main
from pyserverbench.measure.closed import run_main
from pyserverbench.measure.setup import RunConfig, resolve_workers
from pyserverbench.measure.userapp import (
    DEFAULT_GOAL_MS,
    ENV_VARIABLE,
    Request,
    UserApp,
    add_run_options,
    app_options_problem,
    default_name,
    env_pair,
    target,
)

CAPACITY_STEP_S = 5
CAPACITY_WARMUP_S = 2


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m pyserverbench app",
                           description="Run a user's app under one stack and record it.")
    parser.add_argument("--stack", required=True,
                        choices=app_stacks("wsgi") + app_stacks("asgi"))
    parser.add_argument("--interface", required=True, choices=("wsgi", "asgi"))
    parser.add_argument("--target", required=True, type=target,
                        help="the app callable, module:attribute")
    add_run_options(parser)
    add_progress_option(parser)
    return parser


def env_from_environment() -> list[tuple[str, str]]:
    """The --env pairs the `app` session passed in ENV_VARIABLE (kept off argv, which
    nox prints), taken out of our environment so that k6 and the rest do not inherit it."""
    given = os.environ.pop(ENV_VARIABLE, None)
    if not given:
        return []
    return [env_pair(f"{name}={value}") for name, value in json.loads(given).items()]


def parse_args(argv: list[str] | None = None) -> tuple[RunConfig, dict, Progress | None]:
    """The run's config, the capacity settings ({} for the closed loop), the progress."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.env = env_from_environment() + given_env(args)
    keep_secret(secret_values(args.env))  # from here on, never written or shown
    wrong = app_options_problem(args)
    wrong = wrong or threads_problem(args.stack, args.threads)
    if wrong is None and STACKS[args.stack].interface != args.interface:
        wrong = (f"argument --stack: {args.stack!r} serves {STACKS[args.stack].interface} "
                 f"apps, not {args.interface} (accepted: "
                 f"{', '.join(app_stacks(args.interface))})")
    if wrong:
        parser.error(wrong)
    app = UserApp(name=args.name or default_name(args.target),
                  interface=args.interface, target=args.target, app_dir=args.app_dir,
                  chdir=args.chdir, paths=tuple(args.paths or [Request("/")]),
                  k6_script=args.k6_script, env=tuple(args.env),
                  requirements=args.requirements)
    capacity = {}
    cpus = args.server_cpus
    if args.capacity:
        capacity = {"goal_ms": args.goal_ms or DEFAULT_GOAL_MS}
        cpus = cpus or default_server_cpus(os.sched_getaffinity(0))
    workers, rule = resolve_workers(STACKS[args.stack], args.workers, cpus)
    config = RunConfig(stack=STACKS[args.stack], workers=workers, workers_rule=rule,
                       threads=args.threads,
                       duration_s=CAPACITY_STEP_S if args.capacity else args.duration,
                       db_latency_ms=args.db_latency, vus=0 if args.capacity else args.vus,
                       results_dir=args.results_dir, repeat=args.repeat, server_cpus=cpus,
                       connections=args.connections, app=app, db=args.db,
                       db_setup=args.db_setup)
    return config, capacity, args.progress


def search_config(config: RunConfig, goal_ms: float) -> CapacityConfig:
    """A capacity search of the user's app: its steps measure MIN_REQUESTS each, as ours."""
    return CapacityConfig(run=config, goal_ms=goal_ms, warmup_s=CAPACITY_WARMUP_S,
                          resolution=0.05, min_requests=MIN_REQUESTS, start_rps=50.0,
                          max_rps=20_000.0, mix=config.app.mix())


def main(argv: list[str] | None = None) -> int:
    scrub_terminal()  # a secret in an error or a server's log excerpt is masked
    config, capacity, progress = parse_args(argv)
    if not capacity:
        return run_main(config, progress)
    return search_main([search_config(config, capacity["goal_ms"])], config.repeat, "",
                       progress)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
