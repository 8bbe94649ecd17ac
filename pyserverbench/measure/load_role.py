"""The load role: k6 against a server role, its fake DB a db role, each maybe on a host
of its own; one record per run that names every role's host and address."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

from pyserverbench.cli.options import (
    OneLineParser,
    add_k6_options,
    add_results_dir,
    workload_problem,
)
from pyserverbench.harness.checks import check_app
from pyserverbench.harness.k6 import find_k6, k6_argv, k6_version, run_k6
from pyserverbench.harness.machine import host_facts
from pyserverbench.harness.probe import judge, probe_facts
from pyserverbench.harness.procs import ProcessError
from pyserverbench.harness.usage import children_cpu
from pyserverbench.matrix.ceiling import ceiling_facts
from pyserverbench.matrix.stacks import STACKS
from pyserverbench.matrix.workloads import Workload, from_record, workload_from
from pyserverbench.measure.closed import LOAD_SCRIPT, read_results, verdict
from pyserverbench.measure.control import TOKEN_VARIABLE, TokenError, read_token
from pyserverbench.measure.lifecycle import guarded, measured, new_group, record_fields
from pyserverbench.measure.roles import address_arg, url
from pyserverbench.records import record_problem

ASK_TIMEOUT_S = 10.0
MAX_ANSWER = 1024 * 1024  # a role's facts are about 10 KB


class RoleError(ProcessError):
    """A role did not answer as a role should."""


def ask(method: str, base: str, path: str, token: str | None = None) -> dict:
    """A role's control endpoint's JSON object, read up to MAX_ANSWER bytes."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.stream(method, base + path, timeout=ASK_TIMEOUT_S,
                          headers=headers) as answer:
            answer.raise_for_status()
            body = b""
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER:
                    raise RoleError(f"{method} {base}{path}: answered more than "
                                    f"{MAX_ANSWER} bytes")
        found = json.loads(body)
    except (httpx.HTTPError, ValueError, RecursionError) as exc:
        raise RoleError(f"{method} {base}{path}: {exc}") from None
    if not isinstance(found, dict):
        raise RoleError(f"{method} {base}{path}: answered {type(found).__name__}, not an object")
    return found


def facts_problem(name: str, facts: dict, at: tuple[str, int]) -> str | None:
    """Why a role's facts cannot go in a record, in one line (the record's own checks
    come after), or None. A role must answer for the address we asked it at."""
    from jsonschema import Draft202012Validator

    error = next(iter(Draft202012Validator(FACTS[name]).iter_errors(facts)), None)
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "its facts"
        return f"the {name} role's {where} is not as a role writes it ({error.validator})"
    if facts["listen"] != f"{at[0]}:{at[1]}":
        return (f"the {name} role asked at {at[0]}:{at[1]} says it listens on "
                f"{facts['listen'][:60]!r}")
    if name == "server" and facts["stack"] not in STACKS:
        return f"the server role's stack {facts['stack'][:40]!r} is not one of ours"
    return None


_TEXT = {"type": "string", "maxLength": 200}
_COMMAND = {"type": "array", "maxItems": 200, "items": {"type": "string", "maxLength": 4096}}
_COMMON = {"listen": _TEXT, "command": _COMMAND, "host": {"type": "object"},
           "python": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+t?$"}}
FACTS = {
    "db": {"type": "object", "required": ["role", "listen", "command", "db_latency_ms", "host"],
           "properties": {**_COMMON, "role": {"const": "db"},
                          "db_latency_ms": {"type": "integer", "minimum": 0,
                                            "maximum": 10_000}}},
    "server": {"type": "object",
               "required": ["role", "listen", "command", "stack", "workers", "threads",
                            "processes", "host", "python", "python_build",
                            "python_implementation", "free_threaded", "packages", "project"],
               "properties": {**_COMMON, "role": {"const": "server"}, "stack": _TEXT,
                              "python_build": _TEXT, "python_implementation": _TEXT,
                              "free_threaded": {"type": ["boolean", "null"]},
                              "project": {"type": "object"},
                              "workers": {"type": "integer", "minimum": 1, "maximum": 64},
                              "threads": {"type": ["integer", "null"], "minimum": 1},
                              "processes": {"type": "integer", "minimum": 1, "maximum": 65},
                              "packages": {"type": "object"}}},
}


def _local_address(host: str, port: int) -> str:
    """The address this host uses to reach host:port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                       socket.SOCK_DGRAM) as probe:
        probe.connect((host, port))
        return probe.getsockname()[0]


def placement(load: dict, server: dict, db: dict) -> dict:
    """Where each role ran: its host id and address (a section per such layout)."""
    return {"roles": {name: f"{facts['host']['id']} {facts['listen']}"
                      for name, facts in (("load", load), ("server", server), ("db", db))},
            "shared": None}


def record_from(server: dict, db: dict, load: dict, workload: Workload, vus: int,
                duration_s: int, connections: str, started: datetime, k6_line: str) -> dict:
    """The record's fields before the load: the server's facts are the run's (its Python,
    packages, host), and every role is named with its host and address."""
    record = record_fields(STACKS[server["stack"]], server["workers"], server["threads"],
                           server, db["db_latency_ms"], workload, vus, connections,
                           duration_s, started, k6_line, server.get("workers_rule"))
    record.update(roles={"load": load, "server": server, "db": db},
                  placement=placement(load, server, db),
                  commands={"server": server["command"], "fakedb": db["command"]})
    return record


def _usage(server: dict, db: dict, k6_cpu: float, wall_s: float) -> dict:
    """The usage part of the record, from what each role's window saw and k6's cost."""
    return {"window_s": server["window_s"], "server": server["server"],
            "fakedb": db["fakedb"], "k6": {"cpu_s": round(k6_cpu, 3), "wall_s": round(wall_s, 2)},
            "connections": server["connections"]}


def _ints(mapping: dict) -> dict:
    return {int(key): value for key, value in mapping.items()}


def measure(record: dict, server_at: tuple[str, int], db_base: str, k6: str,
            logs: Path, token: str | None = None) -> tuple[dict, str | None]:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Check, load and measure: the run's results (as a closed-loop run's), and why they
    do not count (None if they do). The load goes to server_at, from our command line."""
    server = record["roles"]["server"]
    base_url = url(*server_at)
    server_base = url(server_at[0], server_at[1] + 1)
    summary = logs / "k6-summary.json"
    argv = k6_argv(k6, LOAD_SCRIPT, summary, base_url, record["vus"], record["duration_s"],
                   record["connections"] == "per-iteration",
                   from_record(record).request())
    record["commands"]["k6"] = argv
    check_app(base_url)
    for base in (server_base, db_base):
        ask("POST", base, "/start", token)
    children_before = children_cpu()  # k6 is the only child reaped here
    started = time.monotonic()
    code, abort = run_k6(argv, logs / "k6.log", record["duration_s"] + 120.0, [])
    wall = time.monotonic() - started
    k6_cpu = children_cpu() - children_before
    served, fed = ask("POST", server_base, "/stop", token), ask("POST", db_base, "/stop", token)
    summary_data, metrics = read_results(summary, abort)
    probe = probe_facts(server["processes"], _ints(served["before"]), _ints(served["after"]),
                        served["alive"], _ints(served["threads"]), _ints(served["nodelay"]),
                        served["nodelay_error"])
    stack = STACKS[record["stack"]]
    probe["contradictions"] = judge(stack.loop, stack.parser, server["processes"], probe,
                                    metrics["requests"], record["vus"],
                                    bool(record["free_threaded"]))
    result = {"k6_exit_code": code, "k6_summary": summary_data, "abort": abort,
              "metrics": metrics, "usage": _usage(served, fed, k6_cpu, wall), "probe": probe,
              "ceiling": ceiling_facts(metrics["requests"], record["vus"],
                                       record["duration_s"], record["db_latency_ms"],
                                       from_record(record), record["app"])}
    return result, verdict(result) or window_problem(served, fed)


def window_problem(served: dict, fed: dict) -> str | None:
    """Why the two roles' windows do not both cover the load, or None: each began at our
    /start, so one much shorter than the other was restarted during the load."""
    server_s, db_s = served["window_s"], fed["window_s"]
    if min(server_s, db_s) < 0.9 * max(server_s, db_s):
        return (f"the roles measured windows of {server_s:g} s (server) and {db_s:g} s "
                f"(db): one was restarted during the load, so its usage does not cover it")
    return None


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m pyserverbench load-role",
                           description="Drive a server role with k6 and write the record.")
    parser.add_argument("--server", type=address_arg, default="127.0.0.1:8000",
                        metavar="ADDRESS:PORT",
                        help="where the server role listens (default 127.0.0.1:8000)")
    parser.add_argument("--db", type=address_arg, default="127.0.0.1:8100",
                        metavar="ADDRESS:PORT",
                        help="where the db role listens (default 127.0.0.1:8100)")
    parser.add_argument("--token-file", type=Path, default=None, metavar="FILE",
                        help=f"the roles' control token (its first line), else "
                             f"${TOKEN_VARIABLE}; needed for roles beyond loopback")
    add_k6_options(parser)
    add_results_dir(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    server_at, db_at = args.server, args.db
    wrong = workload_problem(args)
    if wrong:
        parser.error(wrong)
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    server_base, db_base = url(server_at[0], server_at[1] + 1), url(db_at[0], db_at[1] + 1)
    try:
        token = read_token(args.token_file)
    except TokenError as exc:
        parser.error(str(exc))
    group = new_group()

    def runs() -> int:
        try:
            server = ask("GET", server_base, "/facts", token)
            db = ask("GET", db_base, "/facts", token)
        except RoleError as exc:
            print(f"error: a role does not answer: {exc} (start the db and server roles "
                  f"first; see docs/separate-hosts.md)", file=sys.stderr)
            return 2
        wrong = facts_problem("server", server, server_at) or facts_problem("db", db, db_at)
        if wrong:
            print(f"error: refused: {wrong}", file=sys.stderr)
            return 2
        k6 = find_k6()
        load = {"role": "load", "host": host_facts(),
                "listen": _local_address(*server_at), "command": sys.argv}
        failed = 0
        for index in range(1, args.repeat + 1):
            record = record_from(server, db, load, workload_from(args), args.vus,
                                 args.duration, args.connections,
                                 datetime.now(timezone.utc), k6_version(k6))
            record["repeat"] = {"group": group, "index": index, "of": args.repeat}
            lie = record_problem({**record, "ok": False, "metrics": None})
            if lie:
                print(f"error: refused: the roles' facts do not make a record ({lie})",
                      file=sys.stderr)
                return 2
            record, path = measured(
                record, lambda logs, record=record: measure(record, server_at, db_base, k6,
                                                            logs, token),
                args.results_dir)
            failed += not record["ok"]
            _say(record, path)
        return 1 if failed else 0

    return guarded(runs, "run")


def _say(record: dict, path: Path) -> None:
    rel = os.path.relpath(path)
    hosts = ", ".join(f"{name} {facts['listen']}" for name, facts in record["roles"].items())
    if not record["ok"]:
        print(f"error: run failed: {record['error']} (record: {rel})", file=sys.stderr)
        return
    m = record["metrics"]
    print(f"{record['stack']} x{record['workers']} on Python {record['python']} ({hosts}): "
          f"{m['requests']} requests, p95 {m['duration_p95_ms']:.2f} ms (record: {rel})")

