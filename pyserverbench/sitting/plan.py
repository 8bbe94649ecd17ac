"""A sitting's plan: its cells (a kind of measurement of one stack at one setting), and
the order it runs them in. Each round is a fresh random permutation of every cell, so
every stack meets the machine's drift alike; a few cells are measured a second time in
each round, half a round away, as A/A pairs for the noise floor. Standard library only:
the sitting runs under nox's own Python."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pyserverbench.matrix.stacks import STACKS, STUDY_RUNS

SITTING_VARIABLE = "PYSERVERBENCH_SITTING"  # a run's place in its sitting, as JSON
# a cell's command -> its nox session (app: a user's app, `nox -s app -- --advise`)
KINDS = {"run": "bench_on", "capacity": "capacity_on", "app": "app_on"}
MAP_LATENCIES = (0, 5, 25, 100)


@dataclass(frozen=True)
class Cell:
    """One thing a sitting measures: `kind` of `stack` with `workers` at a DB latency,
    with further options for its command (a workload, a duration)."""

    kind: str
    stack: str
    workers: int | str  # a count, or `auto`
    db_latency_ms: int
    options: tuple[str, ...] = ()
    sweep: bool = False  # one configuration of a stack in a sweep (compared within it)

    def key(self) -> str:
        """The cell's name in the plan and in its records."""
        extra = f" {' '.join(self.options)}" if self.options else ""
        return f"{self.kind} {self.stack} x{self.workers} {self.db_latency_ms}ms{extra}"

    def section(self) -> str:
        """The cells compared with each other: all but the stack; in a sweep, a stack's
        configurations (workers and threads) at one latency."""
        if self.sweep:
            return f"{self.kind} {self.stack} sweep {self.db_latency_ms}ms"
        extra = f" {' '.join(self.options)}" if self.options else ""
        return f"{self.kind} x{self.workers} {self.db_latency_ms}ms{extra}"

    def session(self, python: str) -> str:
        """The nox session that measures it on `python`."""
        return f"{KINDS[self.kind]}-{python}(server='{self.stack}')"

    def argv(self) -> list[str]:
        """Its command's options (the session adds --stack; a user's app's options name
        its stack and have no DB latency)."""
        if self.kind == "app":
            return ["--workers", str(self.workers), *self.options]
        return ["--workers", str(self.workers), "--db-latency", str(self.db_latency_ms),
                *self.options]


@dataclass(frozen=True)
class Slot:
    """A cell's place in the order: its round, its place overall (from 1), and whether it
    is the second measurement of an A/A pair (`aa`) or a rerun of a disturbed one."""

    cell: Cell
    round: int
    order: int
    aa: bool = False
    rerun_of: int | None = None


FANOUT = ("--workload", "fanout", "--fanout-calls", "3")
POSTGRES = ("--db", "postgres")
# The database plan's pool-bound cells: a small pool where the server could do more.
POOL_BOUND = ("--db", "postgres", "--db-pool", "4")
POOL_BOUND_STACKS = ("uvicorn", "gevent")
REFERENCE_RUN = ("--duration", "15s")  # the reference's closed loops: 15 s (it must fit 2 h)


# The sweep's stacks and grid by default: the models users weigh for blocking calls.
SWEEP_STACKS = ("sync", "gthread", "gevent", "granian-wsgi", "uvicorn", "uvicorn-worker")
SWEEP_WORKERS: tuple[int | str, ...] = (1, 2, 3, 5)
SWEEP_THREADS = (1, 4, 16)
SWEEP_LATENCIES = (25,)


def sweep_cells(stacks: list[str], workers: tuple[int | str, ...],
                threads: tuple[int, ...], latencies: tuple[int, ...]) -> list[Cell]:
    """A capacity cell per stack, worker count and (for a stack with threads) thread
    count, at each latency."""
    return [Cell("capacity", stack, count, latency,
                 ("--threads", str(each)) if each is not None else (), sweep=True)
            for latency in latencies for stack in stacks for count in workers
            for each in (threads if STACKS[stack].uses_threads else (None,))]


def plan_cells(name: str, stacks: list[str] | None = None,
               latencies: tuple[int, ...] | None = None,
               workers: tuple[int | str, ...] | None = None,
               threads: tuple[int, ...] | None = None) -> list[Cell]:
    """The cells of a named plan, for `stacks` (all if None; the sweep's six for a
    sweep), and `latencies`, `workers` and `threads` where the plan takes them (each
    count of `workers` a cell of its own; default 2)."""
    chosen = stacks or list(STACKS)
    counts = workers or (2,)
    if name == "tour":
        return [Cell("run", stack, count, 25) for count in counts for stack in chosen]
    if name == "study":
        return [Cell("run", stack, count, latency) for stack, count, latency in STUDY_RUNS
                if stack in chosen]
    if name == "map":
        return [Cell("capacity", stack, count, latency) for count in counts
                for latency in latencies or MAP_LATENCIES for stack in chosen]
    if name == "reference":
        return [*(Cell("run", stack, 2, 25, REFERENCE_RUN) for stack in chosen),
                *(Cell("capacity", stack, 2, latency)
                  for latency in latencies or MAP_LATENCIES for stack in chosen),
                *(Cell("run", stack, 2, 25, (*REFERENCE_RUN, *FANOUT)) for stack in chosen)]
    if name == "database":
        return [*(Cell("capacity", stack, count, latency, options)
                  for count in counts for latency in latencies or (25,) for stack in chosen
                  for options in ((), POSTGRES)),
                *(Cell("capacity", stack, count, latency, POOL_BOUND)
                  for count in counts for latency in latencies or (25,)
                  for stack in POOL_BOUND_STACKS if stack in chosen)]
    if name == "sweep":
        return sweep_cells(stacks or list(SWEEP_STACKS), workers or SWEEP_WORKERS,
                           threads or SWEEP_THREADS, latencies or SWEEP_LATENCIES)
    raise ValueError(f"unknown plan {name!r} (accepted: {', '.join(PLANS)})")


PLANS = ("reference", "map", "study", "tour", "sweep", "database")
ROUNDS = {"reference": 3, "map": 3, "study": 1, "tour": 1, "sweep": 3, "database": 3}
# rounds with A/A seconds (a sweep's: one configuration of each stack, the middle round)
AA_ROUNDS = {"reference": 3, "map": 3, "study": 0, "tour": 0, "sweep": 1, "database": 1}
# which plans take --workers, --threads, --db-latency
PLAN_OPTIONS = {"workers": ("map", "tour", "sweep", "database"), "threads": ("sweep",),
                "db_latency": ("map", "reference", "sweep", "database")}


def paired_sections(cells: list[Cell]) -> list[list[Cell]]:
    """The cells of each section that has two or more (the sections with A/A pairs)."""
    sections: dict[str, list[Cell]] = {}
    for cell in cells:
        sections.setdefault(cell.section(), []).append(cell)
    return [members for members in sections.values() if len(members) > 1]


def aa_cells(cells: list[Cell], rng: random.Random) -> list[Cell]:
    """One cell of each section, chosen at random, to be measured twice (the plans saved
    before the draw went per round: a resumed one keeps its order)."""
    return [rng.choice(members) for members in paired_sections(cells)]


def aa_turns(cells: list[Cell], rounds: list[int], seed: int) -> dict[int, list[Cell]]:
    """For each of `rounds`, one cell of each section to measure twice: a section's cells
    take turns in a random order (none again before all have had one), so that its noise
    floor is not one cell's. Drawn apart from the order, which stays as it is."""
    rng = random.Random(f"aa {seed}")
    chosen: dict[int, list[Cell]] = {number: [] for number in rounds}
    for members in paired_sections(cells):
        turn: list[Cell] = []
        for number in rounds:
            turn = turn or rng.sample(members, len(members))
            chosen[number].append(turn.pop())
    return chosen


def order(cells: list[Cell], rounds: int, seed: int, aa_rounds: int | None = None,
          draw: str = "each round") -> list[Slot]:
    """Every slot of the sitting in the order it runs them; the middle `aa_rounds`
    rounds (all if None) hold the A/A seconds, drawn `draw`: "each round" (aa_turns) or
    "once" (aa_cells, the plans saved before)."""
    rng = random.Random(seed)
    once = aa_cells(cells, rng) if draw == "once" else []
    paired = rounds if aa_rounds is None else min(aa_rounds, rounds)
    first_paired = (rounds - paired) // 2 + 1
    numbers = list(range(first_paired, first_paired + paired))
    turns = {n: once for n in numbers} if draw == "once" else aa_turns(cells, numbers, seed)
    slots: list[Slot] = []
    for number in range(1, rounds + 1):
        ordered = rng.sample(cells, len(cells))
        placed: list[tuple[Cell, bool]] = [(cell, False) for cell in ordered]
        for cell in turns.get(number, []):
            first = ordered.index(cell)
            half = len(ordered) // 2
            at = first + half if first < half else first - half
            # half a round after (or before) its first place
            placed.insert(at + (at > first), (cell, True))
        slots += [Slot(cell, number, len(slots) + place, repeat)
                  for place, (cell, repeat) in enumerate(placed, start=1)]
    return slots
