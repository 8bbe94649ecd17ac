"""Separate hosts: the fake DB and the server each run as a role of their own, on the
address named on the command line, with a control endpoint on the next port that the
load role asks for the role's facts and for its usage during the load."""

from __future__ import annotations

import argparse
import ipaddress
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pyserverbench.cli.options import (
    OneLineParser,
    add_db_latency,
    add_stack,
    add_threads,
    add_workers,
)
from pyserverbench.harness import signals
from pyserverbench.harness.checks import CheckError, check_app, check_db
from pyserverbench.harness.cleanroom import make_room
from pyserverbench.harness.probe import NodelayReader, read_workers, running
from pyserverbench.harness.procs import Process, ProcessError
from pyserverbench.harness.services import (
    fakedb_argv,
    fakedb_environment,
    server_environment,
    tree_pids,
    wait_ready,
)
from pyserverbench.harness.usage import LoadMonitor, split_facts
from pyserverbench.matrix.stacks import STACKS, threads_problem
from pyserverbench.measure.control import TOKEN_VARIABLE, TokenError, control_server, role_token
from pyserverbench.measure.lifecycle import guarded, local_facts
from pyserverbench.measure.setup import resolve_workers

SAMPLE_S = 0.5


def address(text: str) -> tuple[str, int]:
    """`HOST:PORT` with HOST one IPv4 address (not a wildcard; the servers and k6 are
    started on IPv4) and PORT 1-65534 (the next port is the role's control endpoint)."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    accepted = "accepted: ADDRESS:PORT, one IPv4 address and a port from 1 to 65534"
    try:
        ip = ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise ValueError(f"{text!r} is not an address ({accepted})") from None
    if not sep or not 1 <= number <= 65534:
        raise ValueError(f"{text!r} is not an address ({accepted})")
    if ip.is_unspecified:
        raise ValueError(f"{text!r} listens on every address: name the one to listen on "
                         f"({accepted})")
    if ip.version != 4:
        raise ValueError(f"{text!r} is an IPv6 address, which the roles do not serve yet "
                         f"({accepted})")
    return str(ip), number


def address_arg(text: str) -> tuple[str, int]:
    """`address` as an argparse type."""
    try:
        return address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Window:
    """What a role's process did between /start and /stop: its tree's usage and, for a
    server, its workers' connections and what they served (sampled on a thread by the
    LoadMonitor a local run uses)."""

    def __init__(self, proc: Process, probe_dir: Path | None = None, port: int = 0) -> None:
        self.proc, self.probe_dir, self.port = proc, probe_dir, port
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> dict:
        self.stop_sampling()
        server = self.probe_dir is not None
        self.before = read_workers(self.probe_dir) if server else {}
        workers = running(self.before, tree_pids(self.proc))
        self.monitor = LoadMonitor(self.proc if server else None, self.port,
                                   None if server else self.proc, workers,
                                   cpu_interval_s=SAMPLE_S)
        self.monitor.sample()
        self.nodelay = NodelayReader(workers, self.port)
        self.stopping.clear()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return {"started": True}

    def _sample(self) -> None:
        while not self.stopping.wait(SAMPLE_S):
            self.monitor.tick()
            if self.probe_dir:
                self.nodelay.tick()

    def stop_sampling(self) -> None:
        if self.thread is not None:
            self.stopping.set()
            self.thread.join()
            self.thread = None

    def stop(self) -> dict:
        if self.thread is None:
            raise ValueError("no window was started")
        self.stop_sampling()
        self.monitor.sample()
        found: dict = {"window_s": round(self.monitor.window_s, 2)}
        if self.probe_dir is None:
            return {**found, "fakedb": self.monitor.db_facts()}
        after = read_workers(self.probe_dir)
        return {**found, "server": self.monitor.server_facts(),
                "connections": split_facts(self.monitor.connections),
                "before": self.before, "after": after,
                "alive": running(after, tree_pids(self.proc)),
                "threads": self.monitor.server.peak_threads,
                "nodelay": self.nodelay.readings, "nodelay_error": self.nodelay.error}


def _facts(role: str, listen: str, command: list[str], **more: object) -> dict:
    return {"role": role, "listen": listen, "command": command, **local_facts(), **more}


def _serve(role: str, start: Callable[[Path], tuple[Process, Window, dict]], host: str,
           port: int, token_file: Path | None) -> int:
    """Start the role's process, answer on the control port, until a signal stops it."""
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    try:
        token, made = role_token(host, token_file)
    except TokenError as exc:
        print(f"error: {role} role: {exc}", file=sys.stderr)
        return 2

    def body() -> int:
        try:
            return _until_stopped(role, start, host, port, token, made)
        except (ProcessError, CheckError, OSError) as exc:
            print(f"error: {role} role: {exc}", file=sys.stderr)
            return 1
        except signals.Interrupted as exc:
            print(f"{role} role stopped ({exc})", flush=True)
            return 0

    return guarded(body, role)


def _until_stopped(role: str, start: Callable[[Path], tuple[Process, Window, dict]],
                   host: str, port: int, token: str | None, made: bool) -> int:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Serve the role until its process dies (an error) or a signal arrives."""
    with tempfile.TemporaryDirectory(prefix="pyserverbench-") as logs:
        proc, window, facts = start(Path(logs))  # stop_all stops it, whatever happens
        routes = {("GET", "/facts"): lambda: facts, ("POST", "/start"): window.start,
                  ("POST", "/stop"): window.stop}
        try:
            control = control_server(host, port + 1, routes, token, threading.Lock())
        except OSError as exc:
            raise ProcessError(f"control port {port + 1} on {host}: {exc.strerror}") from None
        threading.Thread(target=control.serve_forever, daemon=True).start()
        if made:
            print(f"{role} role control token (give it to the load role in a file or "
                  f"${TOKEN_VARIABLE}): {token}", flush=True)
        print(f"{role} role ready: {url(host, port)} (control {url(host, port + 1)}); "
              f"Ctrl-C or SIGTERM stops it", flush=True)
        try:
            while True:
                proc.check_alive()
                time.sleep(0.2)
        finally:
            control.shutdown()
            window.stop_sampling()
            proc.stop()


def _parser(role: str, default: str) -> OneLineParser:
    parser = OneLineParser(prog=f"python -m pyserverbench {role}-role",
                           description=f"Run the {role} role until Ctrl-C or SIGTERM.")
    parser.add_argument("--listen", type=address_arg, default=default, metavar="ADDRESS:PORT",
                        help=f"where to listen (default {default}: loopback only; any other "
                             f"address is your choice, named here); control on PORT + 1")
    parser.add_argument("--token-file", type=Path, default=None, metavar="FILE",
                        help=f"the control token (its first line), else ${TOKEN_VARIABLE}; "
                             f"beyond loopback one is made and printed if neither is given")
    return parser


def db_parser() -> OneLineParser:
    parser = _parser("db", "127.0.0.1:8100")
    add_db_latency(parser)
    return parser


def server_parser() -> OneLineParser:
    parser = _parser("server", "127.0.0.1:8000")
    add_stack(parser)
    add_workers(parser)
    add_threads(parser)
    parser.add_argument("--db", type=address_arg, default="127.0.0.1:8100",
                        metavar="ADDRESS:PORT",
                        help="where the db role listens (default 127.0.0.1:8100)")
    return parser


def db_main(argv: list[str] | None = None) -> int:
    parser = db_parser()
    args = parser.parse_args(argv)
    host, port = args.listen
    argv_db = fakedb_argv(host, port, args.db_latency)

    def start(logs: Path) -> tuple[Process, Window, dict]:
        room = make_room(logs)
        proc = Process("fake DB", argv_db, logs / "fakedb.log", env=fakedb_environment(room),
                       cwd=room)
        proc.start()
        wait_ready(proc, port, url(host, port) + "/")
        check_db(url(host, port) + "/")
        return proc, Window(proc), _facts("db", f"{host}:{port}", argv_db,
                                              db_latency_ms=args.db_latency)

    return _serve("db", start, host, port, args.token_file)


def server_main(argv: list[str] | None = None) -> int:
    parser = server_parser()
    args = parser.parse_args(argv)
    host, port = args.listen
    db_url = url(*args.db) + "/"
    stack = STACKS[args.stack]
    wrong = threads_problem(stack.name, args.threads)
    if wrong:
        parser.error(wrong)
    workers, rule = resolve_workers(stack, args.workers, None)
    command = stack.argv(sys.executable, host, port, workers, args.threads)
    processes = stack.processes(workers)

    def start(logs: Path) -> tuple[Process, Window, dict]:
        room, probe_dir = make_room(logs), logs / "probe"
        probe_dir.mkdir()
        proc = Process("server", command, logs / "server.log",
                       env=server_environment(room, db_url, probe_dir), cwd=room)
        proc.start()
        base = url(host, port)
        wait_ready(proc, port, base + "/", processes, probe_dir)
        check_app(base)
        facts = _facts("server", f"{host}:{port}", command, stack=stack.name,
                       workers=workers, workers_rule=rule,
                       threads=stack.threads(workers, args.threads), processes=processes,
                       db=db_url)
        return proc, Window(proc, probe_dir, port), facts

    return _serve("server", start, host, port, args.token_file)
