"""The CI fan-out's session list: `nox -l --json` on stdin, the workflow's inputs as
options, one matrix entry per chosen benchmark session on stdout (JSON). Standard
library only: the workflow runs it before installing anything."""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from pyserverbench.cli.capacity_options import search_options_problem
from pyserverbench.cli.options import OneLineParser, load_options_problem
from pyserverbench.cli.types import workers_count
from pyserverbench.matrix.stacks import STACKS

KINDS = ("bench_on", "capacity_on")


def _choice(parser: OneLineParser, option: str, text: str, valid: list[str]) -> list[str]:
    """A comma-separated list of valid values, or all of them for `all`."""
    if text.strip() == "all":
        return valid
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    wrong = [part for part in chosen if part not in valid]
    if wrong or not chosen:
        parser.error(f"{option} {text!r}: {', '.join(wrong) or 'nothing'} is not accepted "
                     f"(accepted: all, or a comma-separated list of {', '.join(valid)})")
    return chosen


def _counts(parser: OneLineParser, text: str) -> list[int | str]:
    """A comma-separated list of worker counts (1 to 64, or auto)."""
    try:
        counts = [workers_count(part.strip()) for part in text.split(",") if part.strip()]
    except argparse.ArgumentTypeError as exc:
        parser.error(f"--workers {text!r}: {exc}")
    if not counts:
        parser.error(f"--workers {text!r}: no count given (accepted: auto, or 1 to 64)")
    return counts


def choose(sessions: list[dict], kind: str, stacks: list[str], pythons: list[str],
           workers: list[int | str]) -> list[dict]:
    """Matrix entries, one per worker count for each listed session of `kind` that
    matches every choice (the count is passed to the session as `--workers`)."""
    return [{"session": s["session"], "python": s["python"],
             "stack": s["call_spec"]["server"], "workers": count}
            for s in sessions
            if s["name"] == kind and str(s["python"]) in pythons
            and s["call_spec"].get("server") in stacks
            for count in workers]


def build_parser() -> OneLineParser:
    """The options of the CI fan-out's listing step."""
    parser = OneLineParser(prog="python -m pyserverbench matrix",
                           description="Choose benchmark sessions from `nox -l --json`.")
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--stacks", default="all", help="all, or names like sync,uvicorn")
    parser.add_argument("--pythons", default="all", help="all, or versions like 3.12,3.13")
    parser.add_argument("--workers", default="2",
                        help="worker counts like 1,2,auto (each 1 to 64, or auto)")
    parser.add_argument("--options", default="",
                        help="what each session gets after --, checked here first")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        sessions = json.load(sys.stdin)
    except ValueError:
        parser.error("stdin is not the JSON of `nox -l --json`")
    listed = [s for s in sessions if isinstance(s, dict) and s.get("name") == args.kind]
    if not listed:
        parser.error(f"stdin lists no {args.kind} session (run `nox -l --json -s {args.kind}`)")
    versions = sorted({str(s["python"]) for s in listed})
    stacks = _choice(parser, "--stacks", args.stacks, list(STACKS))
    pythons = _choice(parser, "--pythons", args.pythons, versions)
    workers = _counts(parser, args.workers)
    options = shlex.split(args.options)
    problem = (load_options_problem(options, stacks[0] if len(stacks) == 1 else None)
               if args.kind == "bench_on" else
               next(filter(None, (search_options_problem(s, options) for s in stacks)), None))
    if problem:
        parser.error(f"--options {args.options!r}: {problem}")
    print(json.dumps(choose(sessions, args.kind, stacks, pythons, workers)))
    return 0
