"""`python -m pyserverbench sitting`: plan a set of cells and measure them in a random,
interleaved order, each through its own nox session; resume a sitting stopped part way.
Standard library only: it runs under nox's own Python (the sitting session)."""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from pyserverbench import ROOT
from pyserverbench.cli.capacity_options import search_options_problem
from pyserverbench.cli.options import OneLineParser, add_results_dir, fail, load_options_problem
from pyserverbench.cli.progress import clock
from pyserverbench.cli.types import latencies, thread_counts, worker_counts
from pyserverbench.matrix.pythons import runs
from pyserverbench.matrix.stacks import STACKS
from pyserverbench.records import read_json
from pyserverbench.sitting.plan import (
    AA_ROUNDS,
    PLAN_OPTIONS,
    PLANS,
    ROUNDS,
    SITTING_VARIABLE,
    SWEEP_STACKS,
    SWEEP_THREADS,
    SWEEP_WORKERS,
    Cell,
    Slot,
    order,
    plan_cells,
)

PLAN_FOLDER = "sittings"  # under the results directory: one plan file per sitting


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="nox -s sitting --", description=__doc__.splitlines()[0])
    parser.add_argument("--plan", choices=PLANS, default="map",
                        help="what to measure (default map: capacity at 0, 5, 25, 100 ms; "
                             "sweep: capacity of each stack over a grid of workers x "
                             "threads; database: capacity at 25 ms on the fake DB and on "
                             "PostgreSQL, and where a pool of 4 is the limit)")
    parser.add_argument("--stacks", type=stack_list, default=None,
                        help="comma-separated stacks (default: all 13; a sweep's: "
                             f"{', '.join(SWEEP_STACKS)})")
    parser.add_argument("--db-latency", type=latencies, default=None,
                        help="map, sweep and database: DB latencies in ms, comma-separated "
                             "(a sweep's and database's default: 25); reference: its "
                             "capacity map's (its closed loops are at 25 ms)")
    parser.add_argument("--workers", type=worker_counts, default=None,
                        help="map, tour, sweep and database: worker counts, comma-separated, "
                             "each 1 "
                             "to 64 or auto (default 2; a sweep's: "
                             f"{','.join(map(str, SWEEP_WORKERS))})")
    parser.add_argument("--threads", type=thread_counts, default=None,
                        help="sweep only: thread counts for the stacks with threads, "
                             f"comma-separated, each 1 to 256 (default "
                             f"{','.join(map(str, SWEEP_THREADS))})")
    parser.add_argument("--rounds", type=rounds_type, default=None,
                        help="rounds: each a fresh random order of every cell (1 to 20; "
                             "default 3 for map, reference, sweep and database, 1 for study "
                             "and tour)")
    parser.add_argument("--seed", type=int, default=None,
                        help="the order's random seed (default: a new one, printed)")
    parser.add_argument("--resume", metavar="ID", default=None,
                        help="go on with sitting ID, skipping what it recorded")
    parser.add_argument("--python", default=None, help="the Python to measure on")
    add_results_dir(parser)
    return parser


def stack_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    wrong = [name for name in names if name not in STACKS]
    if wrong or not names:
        raise argparse.ArgumentTypeError(
            f"{', '.join(wrong) or repr(text)} is not a stack (accepted: {', '.join(STACKS)})")
    return names


def plan_problem(args: argparse.Namespace) -> str | None:
    """An option given to a plan that does not take it, in one line."""
    for option, plans in PLAN_OPTIONS.items():
        if getattr(args, option) is not None and args.plan not in plans:
            return (f"argument --{option.replace('_', '-')}: applies to --plan "
                    f"{' or '.join(plans)}, not {args.plan!r}")
    chosen = args.stacks or SWEEP_STACKS
    if args.threads is not None and not any(STACKS[name].uses_threads for name in chosen):
        takers = ", ".join(name for name, stack in STACKS.items() if stack.uses_threads)
        return (f"argument --threads: none of the stacks {', '.join(chosen)} has threads "
                f"(accepted with: {takers})")
    return None


def rounds_type(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 20:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of rounds from 1 to 20")
    return int(text)


def planned(name: str, cells: list[Cell], rounds: int, aa_rounds: int, python: str | None,
            install: list[str] | None = None, options: list[str] | None = None,
            seed: int | None = None) -> dict:
    """A fresh sitting's plan: id, seed, cells, rounds, the options every cell gets, and
    what its sessions are installed with (`install`: a user's requirements)."""
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    started = datetime.now(timezone.utc)
    return {"id": f"{started:%Y%m%dT%H%M%SZ}-{name}-{seed}", "plan": name, "seed": seed,
            "rounds": rounds, "aa_rounds": aa_rounds, "aa_draw": "each round",
            "cells": [asdict(cell) for cell in cells], "options": options or [],
            "install": install or [], "python": python,
            "started_at": started.isoformat(timespec="seconds")}


def new_plan(args, extra: list[str]) -> dict:
    """A fresh sitting's plan from the command's options."""
    latencies_given = tuple(args.db_latency) if args.db_latency else None
    cells = plan_cells(args.plan, args.stacks, latencies_given, args.workers, args.threads)
    return planned(args.plan, cells, args.rounds or ROUNDS[args.plan], AA_ROUNDS[args.plan],
                   args.python, options=extra, seed=args.seed)


def save_plan(plan: dict, results_dir: Path) -> Path:
    """Write a plan where `--resume` finds it."""
    path = results_dir / PLAN_FOLDER / f"{plan['id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan, indent=2) + "\n")
    return path


def cells_of(plan: dict) -> list[Cell]:
    return [Cell(c["kind"], c["stack"], c["workers"], c["db_latency_ms"], tuple(c["options"]),
                 c.get("sweep", False)) for c in plan["cells"]]


def slots_of(plan: dict) -> list[Slot]:
    """A plan's slots in order (a plan saved before the A/A draw went per round keeps its
    own, so that it resumes as it began)."""
    return order(cells_of(plan), plan["rounds"], plan["seed"], plan.get("aa_rounds"),
                 plan.get("aa_draw", "once"))


def options_problem(cells: list[Cell], extra: list[str]) -> str | None:
    """The first cell whose command would refuse its options, in one line."""
    for cell in cells:
        if cell.kind == "app":
            continue  # the app session checked them
        argv = [*cell.argv(), *extra]
        wrong = (search_options_problem(cell.stack, argv)
                 if cell.kind == "capacity" else load_options_problem(argv, cell.stack))
        if wrong:
            return wrong
    return None


def recorded(runs: Path, sitting: str) -> dict[int, dict]:
    """The records of sitting `sitting` under `runs`, by their place in its order."""
    found = {}
    for path in sorted(runs.glob("*.json")):
        try:
            record = read_json(path)  # a FIFO or huge file is passed over, not waited on
        except ValueError:
            continue
        place = record.get("sitting") if isinstance(record, dict) else None
        if isinstance(place, dict) and place.get("id") == sitting:
            found[place.get("order")] = record
    return found


def reruns(slots: list[Slot], done: dict[int, dict]) -> list[Slot]:
    """A slot, once more at the end, for each disturbed record not yet run again."""
    rerun_of = {r["sitting"].get("rerun_of") for r in done.values()}
    extra, last = [], max((s.order for s in slots), default=0)
    last = max([last, *done])
    for slot in slots:
        record = done.get(slot.order)
        if record and record.get("machine", {}).get("disturbed") and \
                slot.rerun_of is None and slot.order not in rerun_of:
            last += 1
            extra.append(Slot(slot.cell, slot.round, last, slot.aa, rerun_of=slot.order))
    return extra


def near(cell: Cell, done: dict[int, dict]) -> float | None:
    """Where a capacity cell's earlier searches in this sitting ended: the median of their
    capacities (None for another kind, or before one finished). A later round starts
    there, which saves the climb; it still confirms both ends of its own answer."""
    if cell.kind != "capacity":
        return None
    found = [r["capacity"]["rps"] for r in done.values()
             if r.get("ok") and r.get("sitting", {}).get("cell") == cell.key()
             and isinstance((r.get("capacity") or {}).get("rps"), (int, float))]
    return round(statistics.median(found), 1) if found else None


def place(plan: dict, slot: Slot) -> dict:
    return {"id": plan["id"], "plan": plan.get("plan"), "seed": plan["seed"], "round": slot.round,
            "rounds": plan["rounds"], "order": slot.order, "cell": slot.cell.key(),
            "aa": slot.aa, "rerun_of": slot.rerun_of}


def nox(*args: str) -> list[str]:
    return [sys.executable, "-m", "nox", "--noxfile", str(ROOT / "noxfile.py"), *args]


class Stopped(Exception):
    """Ctrl-C or SIGTERM reached the sitting: the slot running was stopped."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


Command = Callable[[dict, Slot, Path, list[str]], list[str]]


def slot_command(plan: dict, slot: Slot, results_dir: Path, extra: list[str]) -> list[str]:
    """The command that measures one slot: its nox session, installed already, with
    `extra` options for this slot alone."""
    return nox("-R", "-s", slot.cell.session(plan["python"]), "--",
               *slot.cell.argv(), *plan["options"], *extra, "--results-dir",
               str(results_dir))


def run_slot(plan: dict, slot: Slot, results_dir: Path, command: Command = slot_command,
             extra: list[str] | None = None) -> int:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Measure one slot (by `command`); its exit code. A signal to the sitting is passed
    on to the command, which stops what it started; then Stopped is raised."""
    env = {**os.environ, SITTING_VARIABLE: json.dumps(place(plan, slot))}
    argv = command(plan, slot, results_dir, extra or [])
    caught: list[int] = []
    child = subprocess.Popen(argv, env=env)

    def passed_on(signum: int, frame: object) -> None:
        caught.append(signum)
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, passed_on) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise Stopped(caught[0])
    return code


def python_problem(version: str) -> str | None:
    """Why the sitting cannot measure on Python `version`, in one line, or None: nox
    would skip every session of a Python it cannot find, and nothing would be measured."""
    if runs(version):
        return None
    return (f"argument --python: python{version} is not on PATH or does not start, so "
            f"every session would be skipped (with pyenv, list it in PYENV_VERSION)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    results_dir = args.results_dir
    plans = results_dir / PLAN_FOLDER
    if args.resume:
        path = plans / f"{args.resume}.json"
        if not path.is_file():
            fail(f"argument --resume: no sitting {args.resume!r} in {plans}")
        plan = json.loads(path.read_text(encoding="utf-8"))
        wrong = python_problem(plan["python"])
        if wrong:
            fail(wrong)
    else:
        if args.python is None:
            fail("argument --python: required")
        wrong = plan_problem(args)
        if wrong:
            fail(wrong)
        plan = new_plan(args, extra)
        wrong = options_problem(cells_of(plan), extra) or python_problem(args.python)
        if wrong:
            fail(wrong)
        save_plan(plan, results_dir)
    cells = cells_of(plan)
    slots = slots_of(plan)
    pairs = sum(slot.aa for slot in slots)
    print(f"sitting {plan['id']}: plan {plan['plan']}, {len(cells)} cells x "
          f"{plan['rounds']} rounds and {pairs} A/A seconds: {len(slots)} slots, seed "
          f"{plan['seed']}", flush=True)
    sessions = sorted({cell.session(plan["python"]) for cell in cells})
    install = ["--", *plan["install"]] if plan.get("install") else []
    if subprocess.run(nox("-r", "--install-only", "-s", *sessions, *install),
                      check=False).returncode:
        fail("installing the sitting's environments failed (nox's output is above)")
    return sit(plan, slots, results_dir)


NO_RECORD = 3  # the exit code of a sitting in which a slot left no record at all


def sit(plan: dict, slots: list[Slot], results_dir: Path,
        command: Command = slot_command) -> int:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Run every slot not yet recorded, then, once, the reruns of disturbed ones. Exits 0,
    1 if a run failed (its record says so), NO_RECORD if a slot left no record."""
    began, counts = time.monotonic(), {"ran": 0, "failed": 0, "missing": 0}
    for phase in ("plan", "reruns"):
        done = recorded(results_dir, plan["id"])
        todo = [slot for slot in (slots if phase == "plan" else reruns(slots, done))
                if slot.order not in done]
        now = done  # the records as they stand: read again after each slot
        for number, slot in enumerate(todo):
            so_far = time.monotonic() - began
            left = len(todo) - number
            eta = (f", about {clock(so_far / counts['ran'] * left)} left"
                   if counts["ran"] else "")
            print(f"sitting {plan['id']}: slot {slot.order} (round {slot.round}"
                  f"{', A/A' if slot.aa else ''}{', rerun' if slot.rerun_of else ''}): "
                  f"{slot.cell.key()}; {len(done) + number} recorded{eta}", flush=True)
            earlier = near(slot.cell, now)
            extra = [] if earlier is None else ["--near", f"{earlier:g}"]
            try:
                code = run_slot(plan, slot, results_dir, command, extra)
            except Stopped as stop:
                print(f"sitting {plan['id']}: stopped by {stop} at slot {slot.order}; go on "
                      f"with `nox -s sitting -- --resume {plan['id']}`", file=sys.stderr)
                return 128 + stop.signum
            counts["ran"] += 1
            counts["failed"] += code != 0
            now = recorded(results_dir, plan["id"])
            if slot.order not in now:
                counts["missing"] += 1  # skipped, or it broke before its record was made
                print(f"sitting {plan['id']}: slot {slot.order} ({slot.cell.key()}) left no "
                      f"record (nox's output above says why)", file=sys.stderr)
            if code not in (0, 1):  # 1: the run failed and says so in its record
                print(f"sitting {plan['id']}: stopped at slot {slot.order} (exit code "
                      f"{code}); go on with --resume {plan['id']}", file=sys.stderr)
                return code
    failed = counts["failed"]
    done = recorded(results_dir, plan["id"])
    disturbed = sum(bool(r.get("machine", {}).get("disturbed")) for r in done.values())
    missing = counts["missing"]
    print(f"sitting {plan['id']}: {len(done)} records in {clock(time.monotonic() - began)}, "
          f"{failed} failed, {missing} left no record, {disturbed} disturbed (each run again "
          f"once)", flush=True)
    return NO_RECORD if missing else 1 if failed else 0
