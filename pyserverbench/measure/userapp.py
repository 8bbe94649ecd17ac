"""A user's own app (`nox -s app`): its options, checked in one line each, what its
records keep, and the plan of sessions. Standard library only: the noxfile uses it
(packaging, which nox brings, reads a requirements file)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from pyserverbench import RESULTS, ROOT
from pyserverbench.cli.options import (
    DB_KINDS,
    OneLineParser,
    add_connections,
    add_db_latency,
    add_duration,
    add_goal,
    add_repeat,
    add_results_dir,
    add_server_cpus,
    add_threads,
    add_vus,
    add_workers,
)
from pyserverbench.cli.types import bounded_int, thread_counts, worker_counts
from pyserverbench.matrix.stacks import STACKS, app_stacks
from pyserverbench.measure.appenv import (  # noqa: F401 (MASK, shown: for callers)
    MASK,
    env_file,
    env_from,
    env_pair,
    given_env,
    masked,
    shown,
)
from pyserverbench.sitting.plan import AA_ROUNDS, ROUNDS, SWEEP_THREADS, SWEEP_WORKERS

SHIM_DIR = ROOT / "shim"
SHIM_TARGETS = {"wsgi": "pyserverbench_wsgi:app", "asgi": "pyserverbench_asgi:app"}
ENV_VARIABLE = "PYSERVERBENCH_APP_ENV"  # --env values, passed to the sessions off argv
DEFAULT_RESULTS = Path("pyserverbench-results")  # in the directory nox was run from
DEFAULT_GOAL_MS = 100.0
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_TARGET = re.compile(rf"^{_DOTTED}:{_DOTTED}$")


def target(text: str) -> str:
    """`package.module:attribute`, as the servers take it."""
    if not _TARGET.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an app (accepted: module:attribute, like "
            f"mysite.wsgi:application)")
    return text


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = ("POST", "PUT", "PATCH")  # the methods a --body may follow


class Request(NamedTuple):
    """One request of a user's load: its path, weight, method and JSON body file."""

    path: str
    weight: int = 1
    method: str = "GET"
    body: Path | None = None

    def label(self) -> str:
        """`POST /api/orders x2 (JSON body)`, as headings name the load."""
        return (f"{self.method} {self.path}" + (f" x{self.weight}" if self.weight != 1 else "")
                + (" (JSON body)" if self.body else ""))

    def options(self) -> list[str]:
        """The `--path` (and `--body`) options that give it."""
        method = "" if self.method == "GET" else f"{self.method} "
        return ["--path", f"{method}{self.path}={self.weight}",
                *(["--body", str(self.body)] if self.body else [])]

    def plain(self) -> bool:
        return self.method == "GET" and self.body is None

    def facts(self) -> dict:
        return {"method": self.method, "path": self.path, "weight": self.weight,
                "body": {"path": str(self.body), "sha256": sha256(self.body)}
                if self.body else None}

    def load(self) -> list:
        """What the k6 scripts get: [path, weight, method, body file or null]."""
        return [self.path, self.weight, self.method, str(self.body) if self.body else None]


def weighted_path(text: str) -> Request:
    """`/api/items=2` -> GET /api/items twice an iteration; `/` once; `POST /api/orders`
    a POST (a `--body` after it gives its JSON). A path with a query string names its
    weight: `/search?q=x=1`."""
    accepted = (f"accepted: [METHOD ]/PATH[=WEIGHT], method {', '.join(METHODS)}, weight 1 "
                f"to 100, like /api/items=2 or 'POST /api/orders'")
    method, sep, rest = text.partition(" ")
    if sep and method in METHODS:
        text = rest
    else:
        method = "GET"
    path, weight = text, "1"
    head, sep, tail = text.rpartition("=")
    if sep and (tail.isdigit() or "?" not in head):
        path, weight = head, tail
    if (not path.startswith("/") or any(c in path for c in ",: \t\"'")
            or not weight.isdigit() or not 1 <= int(weight) <= 100):
        raise argparse.ArgumentTypeError(f"{text!r} is not a path to load ({accepted}; no "
                                         f"commas, colons, quotes or spaces)")
    return Request(path, int(weight), method)


class BodyAction(argparse.Action):
    """`--body FILE`: the JSON body of the `--path` given just before it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        given = list(getattr(namespace, "paths", None) or [])
        if not given:
            parser.error("argument --body: give it after the --path it is the body of")
        last = given[-1]
        if last.method not in BODY_METHODS:
            parser.error(f"argument --body: {last.method} {last.path} takes no body "
                         f"(accepted after a --path of {', '.join(BODY_METHODS)})")
        if last.body is not None:
            parser.error(f"argument --body: {last.method} {last.path} has a body already")
        path = Path(str(values)).expanduser().resolve()
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except OSError:
            parser.error(f"argument --body: {values!r} is not a readable file")
        except ValueError as exc:
            parser.error(f"argument --body: {values!r} is not JSON ({exc})")
        given[-1] = last._replace(body=path)
        namespace.paths = given


def existing(kind: str) -> type:
    """An argparse type: a path to an existing file or directory, made absolute."""
    def check(text: str) -> Path:
        path = Path(text).expanduser().resolve()
        if not (path.is_dir() if kind == "directory" else path.is_file()):
            raise argparse.ArgumentTypeError(f"{text!r} is not an existing {kind}")
        return path
    check.__name__ = kind
    return check  # type: ignore[return-value]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class UserApp:
    """A user's app as one run serves and loads it."""

    name: str
    interface: str
    target: str
    app_dir: Path | None = None
    chdir: bool = False
    paths: tuple[Request, ...] = (Request("/"),)
    k6_script: Path | None = None
    env: tuple[tuple[str, str], ...] = ()
    requirements: Path | None = None

    @property
    def shim_target(self) -> str:
        return SHIM_TARGETS[self.interface]

    def server_env(self) -> dict[str, str]:
        """The variables the server gets beyond the clean room's."""
        return {**dict(self.env), "PYSERVERBENCH_APP_TARGET": self.target}

    def python_path(self) -> str:
        """The server's import path: the user's code, then the shim."""
        return os.pathsep.join(str(p) for p in (self.app_dir, SHIM_DIR) if p is not None)

    def mix(self) -> str:
        """The paths as a capacity search's mix: `/:2,/api:1`."""
        return ",".join(f"{r.path}:{r.weight}" for r in self.paths)

    def label(self) -> str:
        """The load, as headings name it."""
        if self.k6_script is not None:
            return f"k6 script {self.k6_script.name}"
        return ", ".join(r.label() for r in self.paths)

    def requests(self) -> list[list] | None:
        """The requests as the k6 scripts take them, None when every one is a plain GET
        (the scripts' path mix says it all)."""
        if all(r.plain() for r in self.paths):
            return None
        return [r.load() for r in self.paths]

    def facts(self) -> dict:
        """What a record keeps: everything that shapes the run; secret values masked."""
        facts: dict = {
            "name": self.name, "interface": self.interface, "target": self.target,
            "app_dir": str(self.app_dir) if self.app_dir else None, "chdir": self.chdir,
            "paths": [[r.path, r.weight] for r in self.paths], "env": masked(dict(self.env)),
            "k6_script": None, "requirements": None, "load": self.label(),
        }
        if self.k6_script is not None:
            facts["k6_script"] = {"path": str(self.k6_script), "sha256": sha256(self.k6_script)}
        if self.requirements is not None:
            facts["requirements"] = {"path": str(self.requirements),
                                     "sha256": sha256(self.requirements),
                                     "names": requirement_names(self.requirements)}
        if self.requests() is not None:
            facts["requests"] = [r.facts() for r in self.paths]
        facts["key"] = section_key(facts)
        return facts


def section_key(facts: dict) -> str:
    """What must match for two runs of a user's app to share a table: all but the
    interface and target, so its WSGI and ASGI stacks sit side by side."""
    shared = {k: v for k, v in facts.items() if k not in ("interface", "target", "key")}
    return hashlib.sha256(json.dumps(shared, sort_keys=True).encode()).hexdigest()[:12]


def requirement_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, requirement) for each line naming a package; pip's options, other
    files (-r) and blank or comment lines are left to pip."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split(" #", 1)[0].strip()
        if text and not text.startswith(("#", "-")):
            found.append((number, text))
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_REQUIREMENT_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_names(path: Path) -> list[str]:
    """The packages a requirements file names (so the report can show their versions);
    read by their leading name, as a stack's environment has no `packaging`."""
    names = {_canonical(match[1]) for _, text in requirement_lines(path)
             if (match := _REQUIREMENT_NAME.match(text))}
    return sorted(names)


def requirements_problem(path: Path, stacks: list[str]) -> str | None:
    """The first line of the requirements file that a stack's pins cannot satisfy, in
    one line naming both; None if none does (pip still checks what this cannot see)."""
    from packaging.requirements import InvalidRequirement, Requirement

    pins: dict[str, dict[str, str]] = {}  # package -> stack -> its pin, `name==version`
    for stack in stacks:
        for pin in STACKS[stack].server_requirements():
            name, _, version = pin.partition("==")
            plain = name.partition("[")[0]
            pins.setdefault(_canonical(plain), {})[stack] = f"{plain}=={version}"
    for number, text in requirement_lines(path):
        try:
            wanted = Requirement(text)
        except InvalidRequirement as exc:
            return f"--requirements {path} line {number}: {text!r} is not a requirement ({exc})"
        clashing = {stack: pin for stack, pin in pins.get(_canonical(wanted.name), {}).items()
                    if not wanted.specifier.contains(pin.partition("==")[2], prereleases=True)}
        if clashing:
            named = " or ".join(sorted(set(clashing.values())))
            plural = "s" if len(clashing) > 1 else ""
            return (f"--requirements {path} line {number}: {text!r} conflicts with the pin "
                    f"{named} of stack{plural} {', '.join(clashing)} (leave those out with "
                    f"--stacks, or change the line)")
    return None


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options the `app` session and each stack's run share."""
    parser.add_argument("--app-dir", type=existing("directory"), default=None,
                        help="where your code lives: put first on the server's import path")
    parser.add_argument("--chdir", action="store_true",
                        help="start the server in --app-dir (default: an empty directory)")
    parser.add_argument("--path", type=weighted_path, action="append", default=None,
                        dest="paths", help="a request and its weight, repeatable: /=2 "
                                           "/api/items=1, with a method: 'POST "
                                           "/api/orders=1' (default /)")
    parser.add_argument("--body", action=BodyAction, metavar="FILE",
                        help="a JSON file: the body of the POST, PUT or PATCH --path just "
                             "before it (sent as application/json)")
    parser.add_argument("--k6-script", type=existing("file"), default=None,
                        help="your own k6 script instead of --path loads: its default "
                             "function is one iteration, run by --vus for --duration "
                             "(closed loop) or at each step's arrival rate (--capacity, "
                             "--advise), with BASE_URL given; --path then names what is "
                             "checked before the load")
    parser.add_argument("--env", type=env_pair, action="append", default=[],
                        help="NAME=VALUE for the app, repeatable (its value is on a command "
                             "line: use --env-file or --env-from for secrets); values of "
                             "names holding PASS, PWD, AUTH, CREDENTIAL, JWT, PRIVATE, DSN, "
                             "KEY, SECRET or TOKEN, URL passwords and ?password= are masked "
                             "in records and output")
    parser.add_argument("--env-file", type=env_file, action="append", default=[],
                        dest="env_files", metavar="FILE",
                        help="NAME=VALUE lines for the app (# comments), repeatable")
    parser.add_argument("--env-from", type=env_from, action="append", default=[],
                        metavar="NAME",
                        help="give the app our variable NAME, repeatable: its value stays "
                             "off every command line and reaches only the server")
    parser.add_argument("--name", default=None,
                        help="what the report calls your app (default: the target's package)")
    add_workers(parser)
    add_server_cpus(parser, "pin the server to these CPUs (like 0), k6 and the fake DB to "
                            "the others (default: none in the closed loop, the lower half "
                            "of the CPUs with --capacity)")
    add_threads(parser, f"request threads per worker for {', '.join(thread_stacks())} (1 to "
                        f"256; default each server's own); other stacks run as they are")
    add_db_latency(parser, default=0, help="the fake DB's latency per call in ms, for an "
                                           "app that calls it at $PYSERVERBENCH_DB_URL "
                                           "(0 to 10000, default 0); with --db postgres, "
                                           "given to your app as "
                                           "$PYSERVERBENCH_DB_LATENCY_MS")
    parser.add_argument("--db", choices=DB_KINDS, default="fake",
                        help="postgres: start a real PostgreSQL for each run and give your "
                             "app its URL as $DATABASE_URL (its password masked); default "
                             "fake: the fake DB")
    parser.add_argument("--db-setup", type=existing("file"), default=None, metavar="FILE",
                        help="--db postgres only: SQL run as the app's role before the "
                             "server starts (your tables and rows)")
    add_duration(parser, 30, "closed loop: load duration, k6 style (default 30s)")
    add_vus(parser, "closed loop: k6 virtual users (1 to 1000, default 10)")
    add_repeat(parser, "runs (or searches) per stack, fresh processes each (default 1)")
    add_connections(parser, "closed loop: kept (default) or per-iteration")
    parser.add_argument("--capacity", action="store_true",
                        help="capacity searches (open loop, --path mix) instead of the "
                             "closed loop")
    add_goal(parser, f"--capacity only: the p99 goal in ms (default {DEFAULT_GOAL_MS:g})")
    add_results_dir(parser, DEFAULT_RESULTS, f"records go in its runs/, the report in its "
                                             f"README.md (default ./{DEFAULT_RESULTS}, never "
                                             f"the project's results/)")
    parser.add_argument("--requirements", type=existing("file"), default=None,
                        help="a requirements file installed beside each stack's pins")


def build_parser(prog: str = "nox -s app --", raising: bool = False) -> OneLineParser:
    """The `app` session's options."""
    parser = OneLineParser(prog=prog, raising=raising,
                           description="Benchmark your own WSGI or ASGI app under every "
                                       "stack that can serve it.")
    parser.add_argument("--wsgi", type=target, default=None,
                        help="your WSGI callable, module:attribute")
    parser.add_argument("--asgi", type=target, default=None,
                        help="your ASGI callable, module:attribute")
    parser.add_argument("--python", default=None,
                        help="the Python to run on, like 3.12 (default: the newest found)")
    parser.add_argument("--stacks", default=None,
                        help="only these stacks, comma-separated (default: every one that "
                             "serves your app's interface)")
    add_run_options(parser)
    parser.add_argument("--advise", action="store_true",
                        help="a sweep of capacity searches over --advise-workers x "
                             "--advise-threads per stack, in a sitting of --rounds; ends "
                             "with the configuration to run per stack")
    parser.add_argument("--advise-workers", type=worker_counts, default=None,
                        help=f"--advise only: worker counts, each 1 to 64 or auto (default "
                             f"{','.join(map(str, SWEEP_WORKERS))})")
    parser.add_argument("--advise-threads", type=thread_counts, default=None,
                        help=f"--advise only: thread counts for the stacks with threads "
                             f"(default {','.join(map(str, SWEEP_THREADS))})")
    parser.add_argument("--rounds", type=bounded_int(1, 20), default=None,
                        help="--advise only: rounds of the sitting (1 to 20, default 3: "
                             "fewer leave every configuration unranked)")
    return parser


def app_options_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the parsed options together, or None."""
    if args.chdir and args.app_dir is None:
        return "argument --chdir: needs --app-dir (the directory to start the server in)"
    if args.goal_ms is not None and not (args.capacity or getattr(args, "advise", False)):
        return "argument --goal-ms: applies to --capacity and --advise only"
    if not getattr(args, "advise", True):
        for option in ("advise_workers", "advise_threads", "rounds"):
            if getattr(args, option) is not None:
                return f"argument --{option.replace('_', '-')}: applies to --advise only"
    if args.db_setup is not None and args.db != "postgres":
        return "argument --db-setup: applies to --db postgres only, not 'fake'"
    names = [name for name, _ in args.env]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        return f"argument --env: {twice[0]!r} given twice"
    paths = [(r.method, r.path) for r in args.paths or []]
    if len(set(paths)) != len(paths):
        return "argument --path: a path given twice (give it once, with its weight)"
    return None


def thread_stacks() -> list[str]:
    """The stacks of user apps that take --threads."""
    return [name for name in app_stacks("wsgi") + app_stacks("asgi")
            if STACKS[name].uses_threads]


def chosen_stacks(args: argparse.Namespace) -> tuple[list[tuple[str, str, str]], str | None]:
    """(stack, interface, target) for each run, or a one-line problem."""
    targets = {"wsgi": args.wsgi, "asgi": args.asgi}
    if not any(targets.values()):
        return [], "give your app: --wsgi module:attribute and/or --asgi module:attribute"
    offered = [(stack, kind, app) for kind, app in targets.items() if app
               for stack in app_stacks(kind)]
    if args.stacks is None:
        return offered, chosen_threads_problem(args, offered)
    wanted = args.stacks.split(",")
    usable = [stack for stack, _, _ in offered]
    for name in wanted:
        if name not in usable:
            return [], (f"argument --stacks: {name!r} does not serve the app(s) given "
                        f"(accepted: {', '.join(usable)})")
    chosen = [entry for entry in offered if entry[0] in wanted]
    return chosen, chosen_threads_problem(args, chosen)


def chosen_threads_problem(args: argparse.Namespace,
                           chosen: list[tuple[str, str, str]]) -> str | None:
    """--threads given when none of the chosen stacks takes it, in one line."""
    takers = thread_stacks()
    if args.threads is None or any(stack in takers for stack, _, _ in chosen):
        return None
    return (f"argument --threads: none of the chosen stacks takes it (accepted with: "
            f"{', '.join(takers)})")


def default_name(app: str) -> str:
    """What the report calls an app given as `module:attribute`: its top package."""
    return app.partition(".")[0].partition(":")[0]


@dataclass(frozen=True)
class Plan:
    """What `nox -s app` runs: each stack's session arguments, on one Python; with
    --advise, the sweep's sitting plan instead (`sitting`)."""

    python: str
    runs: list[tuple[str, list[str]]]  # (stack, arguments of `python -m pyserverbench app`)
    env: dict[str, str]
    results_dir: Path
    requirements: Path | None
    sitting: dict | None = None
    warnings: tuple[str, ...] = ()


def run_arguments(args: argparse.Namespace, stack: str, interface: str, app: str) -> list[str]:
    """The arguments of one stack's `python -m pyserverbench app` (the --env values are
    passed in the environment, not on a command line nox prints)."""
    argv = ["--stack", stack, "--interface", interface, "--target", app,
            "--name", args.name or default_name(args.wsgi or args.asgi),
            "--workers", str(args.workers), "--db-latency", str(args.db_latency),
            "--duration", f"{args.duration}s", "--vus", str(args.vus),
            "--repeat", str(args.repeat), "--connections", args.connections,
            "--db", args.db, "--results-dir", str(args.results_dir.resolve() / "runs")]
    for request in args.paths or []:
        argv += request.options()
    for flag, value in (("--app-dir", args.app_dir), ("--k6-script", args.k6_script),
                        ("--requirements", args.requirements), ("--db-setup", args.db_setup)):
        if value is not None:
            argv += [flag, str(value)]
    if args.chdir:
        argv.append("--chdir")
    if args.server_cpus is not None:
        argv += ["--server-cpus", ",".join(map(str, sorted(args.server_cpus)))]
    if args.threads is not None and STACKS[stack].uses_threads:
        argv += ["--threads", str(args.threads)]
    if args.capacity:
        argv += ["--capacity", "--goal-ms", f"{args.goal_ms or DEFAULT_GOAL_MS:g}"]
    return argv


def plan(argv: list[str], pythons_found: list[str], cwd: Path) -> Plan:
    """The sessions `nox -s app -- argv` runs, paths read from `cwd` (where the user ran
    nox); ValueError with one line if the options are wrong, a requirement conflicts
    with a stack's pins, or no Python is found."""
    parser = build_parser(raising=True)
    here = Path.cwd()
    os.chdir(cwd)
    try:
        args = parser.parse_args(argv)
        args.results_dir = args.results_dir.resolve()
    finally:
        os.chdir(here)
    if args.results_dir == RESULTS.resolve() or RESULTS.resolve() in args.results_dir.parents:
        parser.error(f"argument --results-dir: {args.results_dir} is inside the project's "
                     f"reference results/ (accepted: any directory outside it)")
    wrong = app_options_problem(args)
    runs, stacks_problem = chosen_stacks(args)
    wrong = wrong or stacks_problem
    if wrong is None and args.requirements is not None:
        wrong = requirements_problem(args.requirements, sorted({s for s, _, _ in runs}))
    if wrong:
        parser.error(wrong)
    if not pythons_found:
        parser.error("no supported Python found on PATH")
    python = args.python or pythons_found[-1]
    if python not in pythons_found:
        parser.error(f"argument --python: {python!r} not found (accepted: "
                     f"{', '.join(pythons_found)})")
    chosen = [(stack, run_arguments(args, stack, kind, app)) for stack, kind, app in runs]
    sitting = advise_plan(args, chosen, python) if args.advise else None
    return Plan(python, chosen, dict(given_env(args)), args.results_dir, args.requirements,
                sitting,
                () if args.capacity or args.advise else client_warnings(args, runs))


def client_warnings(args: argparse.Namespace, runs: list[tuple[str, str, str]]) -> tuple:
    """One line per blocking stack whose slots the closed loop's users cannot fill: with
    no more users than slots, no request waits for one, so the users set the rate."""
    found = []
    for stack, _, _ in runs:
        if args.workers == "auto":
            continue  # its count is known once the server's CPUs are
        threads = args.threads if STACKS[stack].uses_threads else None
        slots = STACKS[stack].slots(args.workers, threads)
        if slots is not None and args.vus <= slots:
            found.append(f"{stack}: {args.vus} VUs cannot fill its {slots} slots (workers × "
                         f"threads), so the users, not the server, set its rate; give "
                         f"--vus {2 * slots} or more to find the server's limit")
    return tuple(found)


def without(argv: list[str], *options: str) -> list[str]:
    """argv less each of `options` and its value."""
    kept, skip = [], False
    for part in argv:
        if skip:
            skip = False
        elif part in options:
            skip = True
        else:
            kept.append(part)
    return kept


def advise_plan(args: argparse.Namespace, runs: list[tuple[str, list[str]]],
                python: str) -> dict:
    """The sitting of an --advise sweep: per stack, a capacity search of each worker
    count and (for a stack with threads) thread count, in a random interleaved order."""
    from pyserverbench.sitting.plan import Cell
    from pyserverbench.sitting.run import planned

    cells = []
    for stack, argv in runs:
        base = [*without(argv, "--workers", "--threads", "--capacity", "--goal-ms"),
                "--capacity", "--goal-ms", f"{args.goal_ms or DEFAULT_GOAL_MS:g}"]
        threads = (args.advise_threads or SWEEP_THREADS) if STACKS[stack].uses_threads \
            else (None,)
        cells += [Cell("app", stack, count, args.db_latency,
                       (*base, *(("--threads", str(each)) if each is not None else ())),
                       sweep=True)
                  for count in args.advise_workers or SWEEP_WORKERS for each in threads]
    install = [*(["--requirements", str(args.requirements)] if args.requirements else [])]
    return planned("advise", cells, args.rounds or ROUNDS["sweep"], AA_ROUNDS["sweep"],
                   python, install)


def requirements_of(argv: list[str]) -> Path | None:
    """The --requirements file among a stack's run arguments (its session installs it)."""
    for flag, value in zip(argv, argv[1:], strict=False):
        if flag == "--requirements":
            return Path(value)
    return None
