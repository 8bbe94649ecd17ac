"""The benchmark matrix as data: one entry per server stack (their pins: pins.py).

This module is imported by the noxfile, so it uses the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyserverbench.matrix.pins import HARNESS_PACKAGES, SUITE_PACKAGES, pinned

AUTO = "auto"  # `--workers auto`: the stack's own rule for the server's CPUs


@dataclass(frozen=True)
class WorkersRule:
    """How many workers a stack's documentation says to run on `cpus` CPUs: `per_cpu` ×
    CPUs + `plus`, or `fixed` whatever the CPUs; `source` names where that is said."""

    name: str
    text: str
    source: str
    per_cpu: int = 1
    plus: int = 0
    fixed: int | None = None

    def count(self, cpus: int) -> int:
        return self.fixed if self.fixed is not None else self.per_cpu * cpus + self.plus


RULES = {rule.name: rule for rule in (
    WorkersRule("gunicorn", "(2 × CPUs) + 1", "gunicorn's documentation, Design: How Many "
                "Workers? (docs.gunicorn.org/en/stable/design.html)", per_cpu=2, plus=1),
    WorkersRule("granian", "one per CPU", "granian warns when workers exceed the CPUs "
                "(granian/server/common.py; emmett-framework/granian#840)"),
    WorkersRule("uvicorn", "one per CPU", "uvicorn documents no rule (--workers defaults to "
                "$WEB_CONCURRENCY or 1): ours, since each worker is one event loop on one "
                "CPU"),
    WorkersRule("hypercorn", "one per CPU", "hypercorn documents no rule: ours, since each "
                "worker is one event loop on one CPU"),
    WorkersRule("waitress", "4 threads, one process", "waitress's own default, threads = 4 "
                "(waitress/adjustments.py); it has no worker processes", fixed=4),
)}


@dataclass(frozen=True)
class Stack:
    """One server x worker model x app combination."""

    name: str
    mode: str
    server: str
    worker_class: str | None
    app: str
    app_target: str
    packages: tuple[str, ...]
    # argv after `python`; {workers} {host} {port} {target} are filled in.
    command: tuple[str, ...]
    # What the running server must be found on (the probe checks): the event loop
    # (uvloop, asyncio, gevent or none) and the HTTP parser (httptools, h11, gunicorn).
    loop: str
    parser: str
    # `--threads N` is accepted and passed to the server as `threads_flag N`, before the
    # app; without it, default_threads is passed, so the command always states it.
    uses_threads: bool = False
    threads_flag: str = "--threads"
    default_threads: int | None = None
    # One process whose `--workers N` are N request threads (waitress has no workers).
    one_process: bool = False
    # A worker (or each of its threads) holds one request at a time, DB wait included.
    blocking: bool = False
    # Its colour and marker in every chart: Paul Tol's muted scheme with black, grey and
    # two of Okabe and Ito's, each with a marker of its own (colour-blind safe together).
    look: tuple[str, str] = ("#888888", "o")
    # Which of RULES gives its count for `--workers auto`.
    workers_rule: str = "gunicorn"

    @property
    def interface(self) -> str:
        """`wsgi` or `asgi`: what kind of app callable the server calls."""
        return "asgi" if self.app in ("async", "blocking-async") else "wsgi"

    @property
    def serves_apps(self) -> bool:
        """Runs a user's own app (`nox -s app`): the stacks that run our plain apps; the
        two that show a mistake in the app (stupid-async, donkey-patched) do not."""
        return self.app in ("sync", "async")

    @property
    def threaded(self) -> bool:
        """Serves requests on threads of one interpreter: free-threaded Python applies."""
        return self.uses_threads or self.one_process

    def auto_workers(self, cpus: int) -> tuple[int, dict]:
        """The count `--workers auto` gives on `cpus` server CPUs, and the facts of the
        rule for the record."""
        rule = RULES[self.workers_rule]
        return rule.count(cpus), {"asked": AUTO, "rule": rule.text, "source": rule.source,
                                  "server_cpus": cpus}

    def processes(self, workers: int) -> int:
        """Worker processes the running server must show for `--workers`."""
        return 1 if self.one_process else workers

    def threads(self, workers: int, threads: int | None) -> int | None:
        """Request threads per process that the server runs with, None if it has none."""
        if self.one_process:
            return workers
        if not self.uses_threads:
            return None
        return threads if threads is not None else self.default_threads

    def slots(self, workers: int, threads: int | None) -> int | None:
        """Requests the server can hold at once if it blocks, else None (no fixed limit)."""
        if not self.blocking:
            return None
        return self.processes(workers) * (self.threads(workers, threads) or 1)

    def argv(
        self, python: str, host: str, port: int, workers: int, threads: int | None = None,
        target: str | None = None,
    ) -> list[str]:
        """Return the full command line that starts this stack's server, serving `target`
        (`module:attribute`; default this stack's own app)."""
        values = {"workers": workers, "host": host, "port": port,
                  "target": target or self.app_target}
        argv = [python] + [part.format(**values) for part in self.command]
        if threads is not None and not self.uses_threads:
            raise ValueError(f"stack {self.name!r} has no thread setting")
        if self.uses_threads:
            argv[-1:-1] = [self.threads_flag, str(self.threads(workers, threads))]
        return argv

    def requirements(self) -> list[str]:
        """Pinned requirements for this stack's environment, harness included."""
        names = list(dict.fromkeys(self.packages + HARNESS_PACKAGES))
        return pinned(*names)

    def server_requirements(self) -> list[str]:
        """Pinned requirements for a user's app under this stack: the server and the
        harness, without the packages only our own apps use."""
        names = [n for n in self.packages if n not in APP_PACKAGES]
        return pinned(*dict.fromkeys(names + list(HARNESS_PACKAGES)))


WSGI_PACKAGES = ("gunicorn", "werkzeug", "jinja2", "httpx")
APP_PACKAGES = ("werkzeug", "starlette", "jinja2")  # our apps' own, not the servers'
ASGI_PACKAGES = ("starlette", "jinja2", "httpx")
# uvicorn as its documentation says to install it: uvloop and httptools come with it.
UVICORN_STANDARD = ("uvicorn[standard]", "uvloop", "httptools")

_GUNICORN = ("-m", "gunicorn", "--workers", "{workers}", "--bind", "{host}:{port}")
_UVICORN = ("-m", "uvicorn", "--workers", "{workers}", "--host", "{host}", "--port", "{port}",
            "--no-access-log")


_GRANIAN = ("-m", "granian", "--workers", "{workers}", "--host", "{host}", "--port", "{port}")


def _gunicorn(worker_class: str, *options: str) -> tuple[str, ...]:
    return _GUNICORN + ("--worker-class", worker_class, *options, "{target}")


STACKS: dict[str, Stack] = {
    stack.name: stack
    for stack in (
        Stack(
            name="sync", look=("#CC6677", "s"),
            mode="Sync", server="gunicorn", worker_class="sync", app="sync",
            app_target="apps.sync_app:app", packages=WSGI_PACKAGES,
            command=_gunicorn("sync"), loop="none", parser="gunicorn", blocking=True,
        ),
        Stack(
            name="gthread", look=("#882255", "D"),
            mode="Sync", server="gunicorn[gthread]", worker_class="gthread",
            app="sync", app_target="apps.sync_app:app", packages=WSGI_PACKAGES,
            command=_gunicorn("gthread"), loop="none", parser="gunicorn", uses_threads=True,
            default_threads=1, blocking=True,
        ),
        Stack(
            name="gevent", look=("#117733", "o"),
            mode="Async", server="gunicorn[gevent]", worker_class="gevent",
            app="sync", app_target="apps.sync_app:app",
            packages=("gunicorn[gevent]", "gevent") + WSGI_PACKAGES[1:],
            command=_gunicorn("gevent"), loop="gevent", parser="gunicorn",
        ),
        Stack(
            name="uvicorn", look=("#332288", "^"), workers_rule="uvicorn",
            mode="Async", server="uvicorn", worker_class=None, app="async",
            app_target="apps.async_app:app", packages=ASGI_PACKAGES + UVICORN_STANDARD,
            command=_UVICORN + ("{target}",), loop="uvloop", parser="httptools",
        ),
        Stack(
            name="uvicorn-worker", look=("#88CCEE", "v"),
            mode="Async", server="gunicorn[UvicornWorker]",
            worker_class="uvicorn_worker.UvicornWorker", app="async",
            app_target="apps.async_app:app",
            packages=ASGI_PACKAGES + ("gunicorn", *UVICORN_STANDARD, "uvicorn-worker"),
            command=_gunicorn("uvicorn_worker.UvicornWorker"), loop="uvloop",
            parser="httptools",
        ),
        Stack(
            name="stupid-async", look=("#AA4499", "X"), workers_rule="uvicorn",
            mode="Stupid async", server="uvicorn", worker_class=None,
            app="blocking-async", app_target="apps.stupid_async_app:app",
            packages=ASGI_PACKAGES + UVICORN_STANDARD, command=_UVICORN + ("{target}",),
            loop="uvloop", parser="httptools", blocking=True,
        ),
        Stack(
            name="donkey-patched", look=("#000000", "P"),
            mode="Donkey-patched", server="gunicorn", worker_class="sync",
            app="asyncio.run-per-request", app_target="apps.donkey_patched_async_app:app",
            packages=WSGI_PACKAGES, command=_gunicorn("sync"), loop="none", parser="gunicorn",
            blocking=True,
        ),
        # Plain `pip install uvicorn`: pure asyncio and h11, named explicitly so that an
        # environment holding uvloop cannot change it. Shows upstream's TCP_NODELAY effect.
        Stack(
            name="uvicorn-asyncio", look=("#44AA99", "<"), workers_rule="uvicorn",
            mode="Async", server="uvicorn",
            worker_class=None, app="async", app_target="apps.async_app:app",
            packages=ASGI_PACKAGES + ("uvicorn",),
            command=_UVICORN + ("--loop", "asyncio", "--http", "h11", "{target}"),
            loop="asyncio", parser="h11",
        ),
        # granian runs WSGI apps on a pool of blocking threads per worker, no event loop
        # in the request's thread. 256 is its own default at 2 workers (backpressure/2),
        # passed explicitly so a new default cannot change the label.
        Stack(
            name="granian-wsgi", look=("#999933", "h"), workers_rule="granian",
            mode="Sync", server="granian", worker_class=None,
            app="sync", app_target="apps.sync_app:app",
            packages=("granian",) + WSGI_PACKAGES[1:],
            command=_GRANIAN + ("--interface", "wsgi", "--loop", "asyncio", "{target}"),
            loop="none", parser="hyper", uses_threads=True,
            threads_flag="--blocking-threads", default_threads=256, blocking=True,
        ),
        Stack(
            name="granian-asgi", look=("#DDCC77", ">"), workers_rule="granian",
            mode="Async", server="granian[uvloop]", worker_class=None,
            app="async", app_target="apps.async_app:app",
            packages=ASGI_PACKAGES + ("granian[uvloop]", "uvloop"),
            command=_GRANIAN + ("--interface", "asgi", "--loop", "uvloop", "{target}"),
            loop="uvloop", parser="hyper",
        ),
        Stack(
            name="hypercorn", look=("#E69F00", "p"), workers_rule="hypercorn",
            mode="Async", server="hypercorn[uvloop]", worker_class="uvloop",
            app="async", app_target="apps.async_app:app",
            packages=ASGI_PACKAGES + ("hypercorn[uvloop]", "uvloop"),
            command=("-m", "hypercorn", "--workers", "{workers}", "--bind", "{host}:{port}",
                     "--worker-class", "uvloop", "{target}"),
            loop="uvloop", parser="h11",
        ),
        # gunicorn's own ASGI worker (gunicorn 25+), with what a plain `pip install
        # gunicorn` has: asyncio and gunicorn's Python parser, both named explicitly.
        Stack(
            name="gunicorn-asgi", look=("#0072B2", "*"),
            mode="Async", server="gunicorn", worker_class="asgi",
            app="async", app_target="apps.async_app:app",
            packages=ASGI_PACKAGES + ("gunicorn",),
            command=_gunicorn("asgi", "--asgi-loop", "asyncio", "--http-parser", "python"),
            loop="asyncio", parser="gunicorn",
        ),
        # waitress is one process with a pool of threads: `--workers N` gives N threads.
        Stack(
            name="waitress", look=("#888888", "d"), workers_rule="waitress",
            mode="Sync", server="waitress", worker_class=None,
            app="sync", app_target="apps.sync_app:app",
            packages=("waitress",) + WSGI_PACKAGES[1:],
            command=("-m", "waitress", "--listen={host}:{port}", "--threads={workers}",
                     "{target}"),
            loop="none", parser="waitress", one_process=True, blocking=True,
        ),
    )
}


def threads_help() -> str:
    """The `--threads` help: which stacks take it and their defaults."""
    takers = ", ".join(f"{n} (default {stack.default_threads})" for n, stack in STACKS.items()
                       if stack.uses_threads)
    return f"request threads per worker, for {takers}"


def threads_problem(name: str | None, threads: int | None) -> str | None:
    """The one-line problem with `--threads` for stack `name` (None: several stacks)."""
    if threads is None or (name is not None and STACKS[name].uses_threads):
        return None
    takers = ", ".join(n for n, stack in STACKS.items() if stack.uses_threads)
    if name is None:
        return f"argument --threads: applies to one stack at a time (accepted with: {takers})"
    if STACKS[name].one_process:
        return (f"argument --threads: stack {name!r} runs one process, whose --workers N are "
                f"its N threads (--threads is accepted with: {takers})")
    return f"argument --threads: stack {name!r} has no threads (accepted only with: {takers})"


# The study's three tables as (stack, workers, DB latency in ms): `nox -s study` runs them.
STUDY_RUNS: tuple[tuple[str, int, int], ...] = (
    *((name, 2, 25) for name in STACKS),
    *((name, 1, 25) for name in ("sync", "uvicorn", "uvicorn-worker", "uvicorn-asyncio")),
    *((name, 2, 0) for name in ("sync", "uvicorn", "uvicorn-worker", "uvicorn-asyncio")),
)


def suite_requirements() -> list[str]:
    """Everything the test suite needs: every stack's packages, the harness, pytest."""
    names = {name for stack in STACKS.values() for name in stack.packages}
    names |= set(HARNESS_PACKAGES) | set(SUITE_PACKAGES)
    plain = {name.partition("[")[0] for name in names if "[" in name}
    return pinned(*sorted(names - plain))


def app_stacks(interface: str) -> list[str]:
    """The stacks that run a user's app of this interface (`wsgi` or `asgi`)."""
    return [n for n, s in STACKS.items() if s.serves_apps and s.interface == interface]
