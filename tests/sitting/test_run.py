"""Running a sitting: what it finds recorded, what it runs again, the options it refuses,
and a real sitting of two closed-loop runs that a second call resumes without rerunning."""

import json
import os
import sys

import pytest
from helpers import ROOT

from pyserverbench.sitting.plan import Cell, Slot, order
from pyserverbench.sitting.run import (
    NO_RECORD,
    build_parser,
    cells_of,
    main,
    near,
    new_plan,
    options_problem,
    place,
    recorded,
    reruns,
    sit,
    slots_of,
)


def _write(folder, name, record):
    (folder / f"{name}.json").write_text(json.dumps(record))


def test_recorded_finds_the_sittings_records_by_their_place(tmp_path):
    _write(tmp_path, "a", {"sitting": {"id": "S", "order": 2}})
    _write(tmp_path, "b", {"sitting": {"id": "T", "order": 3}})
    _write(tmp_path, "c", {"sitting": None})
    (tmp_path / "d.json").write_text("{not json")
    _write(tmp_path, "e", [1, 2])
    os.mkfifo(tmp_path / "f.json")  # read_text would wait on it for a writer, forever
    assert list(recorded(tmp_path, "S")) == [2]
    assert recorded(tmp_path, "nope") == {}


def test_a_disturbed_run_is_run_again_once_at_the_end():
    cell = Cell("run", "sync", 2, 25)
    slots = [Slot(cell, 1, 1), Slot(cell, 1, 2, aa=True)]
    calm = {"sitting": {"order": 1}, "machine": {"disturbed": []}}
    shaken = {"sitting": {"order": 2}, "machine": {"disturbed": ["CPU steal 9%"]}}
    [again] = reruns(slots, {1: calm, 2: shaken})
    assert (again.order, again.rerun_of, again.aa, again.round) == (3, 2, True, 1)
    rerun = {"sitting": {"order": 3, "rerun_of": 2}, "machine": {"disturbed": ["again"]}}
    assert reruns(slots + [again], {1: calm, 2: shaken, 3: rerun}) == []  # once only


def test_every_cells_options_are_checked_before_anything_runs():
    cells = [Cell("run", "sync", 2, 25), Cell("capacity", "uvicorn", 2, 25)]
    assert options_problem(cells, ["--duration", "2s"]) is not None  # capacity has no --duration
    assert options_problem(cells[:1], ["--duration", "2s"]) is None
    assert "--vus" in options_problem(cells[:1], ["--vus", "0"])
    assert options_problem(cells[1:], ["--step", "5s"]) is None


def test_a_new_plan_holds_its_seed_cells_and_options():
    args = build_parser().parse_args(["--plan", "map", "--stacks", "sync,gevent",
                                      "--db-latency", "25", "--seed", "9", "--python", "3.13"])
    plan = new_plan(args, ["--step", "5s"])
    assert plan["seed"] == 9 and plan["rounds"] == 3 and plan["options"] == ["--step", "5s"]
    assert plan["aa_rounds"] == 3 and plan["aa_draw"] == "each round"
    assert plan["id"].endswith("-map-9")
    assert [c.key() for c in cells_of(plan)] == ["capacity sync x2 25ms",
                                                 "capacity gevent x2 25ms"]
    assert slots_of(plan) == order(cells_of(plan), 3, 9, 3)
    older = {key: value for key, value in plan.items() if key != "aa_draw"}
    assert slots_of(older) == order(cells_of(plan), 3, 9, 3, draw="once")
    slot = order(cells_of(plan), 3, 9)[0]
    assert place(plan, slot) == {"id": plan["id"], "plan": "map", "seed": 9, "round": 1,
                                 "rounds": 3,
                                 "order": 1, "cell": slot.cell.key(), "aa": slot.aa,
                                 "rerun_of": None}


def test_a_sweep_plans_each_stacks_grid_and_its_own_noise_pairs():
    args = build_parser().parse_args(["--plan", "sweep", "--stacks", "gthread,uvicorn",
                                      "--workers", "1,auto", "--threads", "1,8", "--seed",
                                      "4", "--python", "3.13"])
    plan = new_plan(args, [])
    cells = cells_of(plan)
    assert [c.key() for c in cells] == [
        "capacity gthread x1 25ms --threads 1", "capacity gthread x1 25ms --threads 8",
        "capacity gthread xauto 25ms --threads 1", "capacity gthread xauto 25ms --threads 8",
        "capacity uvicorn x1 25ms", "capacity uvicorn xauto 25ms"]
    assert plan["rounds"] == 3 and plan["aa_rounds"] == 1
    assert cells[2].argv() == ["--workers", "auto", "--db-latency", "25", "--threads", "1"]
    assert cells[2].session("3.13") == "capacity_on-3.13(server='gthread')"
    slots = order(cells, plan["rounds"], plan["seed"], plan["aa_rounds"])
    pairs = [s.cell.stack for s in slots if s.aa]
    assert sorted(pairs) == ["gthread", "uvicorn"]  # one A/A pair per stack, round 2
    assert {s.round for s in slots if s.aa} == {2}


@pytest.mark.parametrize(("argv", "message"), [
    (["--stacks", "sync,bogus"], "argument --stacks: bogus is not a stack (accepted: sync,"),
    (["--rounds", "0"], "argument --rounds: '0' is not a number of rounds from 1 to 20"),
    (["--plan", "all"], "argument --plan: invalid choice: 'all'"),
    (["--plan", "tour"], "argument --python: required"),
    (["--resume", "nope"], "argument --resume: no sitting 'nope' in"),
    (["--python", "3.99", "--plan", "tour"],
     "argument --python: python3.99 is not on PATH or does not start, so every session"),
    (["--python", "3.13", "--plan", "map", "--duration", "2s"], "--duration"),
    (["--python", "3.13", "--plan", "study", "--workers", "3"],
     "argument --workers: applies to --plan map or tour or sweep or database, not 'study'"),
    (["--python", "3.13", "--plan", "map", "--threads", "4"],
     "argument --threads: applies to --plan sweep, not 'map'"),
    (["--plan", "sweep", "--workers", "1,65"], "argument --workers: '65' is not a worker count"),
    (["--plan", "sweep", "--workers", "2,2"], "argument --workers: '2,2' names a count twice"),
    (["--plan", "sweep", "--threads", "0,4"], "argument --threads: '0,4' is not a list of"),
    (["--python", "3.13", "--plan", "sweep", "--stacks", "uvicorn", "--threads", "4"],
     "argument --threads: none of the stacks uvicorn has threads (accepted with: gthread,"),
])
def test_bad_options_stop_in_one_line(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--results-dir", str(tmp_path)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "sittings").exists() or not list((tmp_path / "sittings").iterdir())


def _direct(plan, slot, results_dir, extra):
    """Run a slot's command in this environment, without nox (the tests have every stack)."""
    return [sys.executable, "-m", "pyserverbench", "run", "--stack", slot.cell.stack,
            "--workers", str(slot.cell.workers), *slot.cell.argv(), *plan["options"],
            *extra, "--results-dir", str(results_dir)]


@pytest.mark.processes
def test_a_real_sitting_records_its_places_and_resumes_without_rerunning(tmp_path,
                                                                          monkeypatch):
    monkeypatch.chdir(ROOT)
    plan = {"id": "T1-tour-4", "plan": "tour", "seed": 4, "rounds": 1, "python": "3",
            "options": ["--duration", "2s"],
            "cells": [{"kind": "run", "stack": s, "workers": 1, "db_latency_ms": 5,
                       "options": []} for s in ("sync", "uvicorn")]}
    slots = order(cells_of(plan), 1, 4, aa_rounds=0)
    assert sit(plan, slots, tmp_path, _direct) == 0
    found = recorded(tmp_path, "T1-tour-4")
    # A busy machine may disturb a run; it is then run again once, at a later place.
    reruns = {n: r["sitting"]["rerun_of"] for n, r in found.items()
              if r["sitting"].get("rerun_of")}
    assert sorted(set(found) - set(reruns)) == [1, 2]
    for number, record in found.items():
        first = reruns.get(number, number)
        assert record["ok"], record["error"]
        assert record["sitting"]["cell"] == slots[first - 1].cell.key()
        assert record["stack"] == slots[first - 1].cell.stack
        assert {"before", "during", "disturbed", "cpu_speed"} <= set(record["machine"])
        if number in reruns:
            assert found[first]["machine"]["disturbed"]

    def refuse(*args):
        raise AssertionError("a recorded slot ran again")
    assert sit(plan, slots, tmp_path, refuse) == 0


FAKE_RUN = """
import json, os, sys
place = json.loads(os.environ["PYSERVERBENCH_SITTING"])
if place["cell"].startswith("run nothing"):
    sys.exit(1)  # a failed command that wrote no record
if place["cell"].startswith("run skipped"):
    sys.exit(0)  # a session nox skipped (its stack did not install): no record, exit 0
shaken = place["cell"].startswith("run sync") or place.get("rerun_of") == 99
record = {"sitting": place, "ok": True,
          "machine": {"disturbed": ["CPU steal 9%"] if shaken else []}}
with open(os.path.join(sys.argv[1], f"{place['order']}.json"), "w") as out:
    json.dump(record, out)
"""


def _fake(plan, slot, results_dir, extra):
    return [sys.executable, "-c", FAKE_RUN, str(results_dir)]


@pytest.mark.processes
def test_disturbed_slots_run_again_once_and_a_run_that_wrote_nothing_is_not_retried(
        tmp_path, capsys):
    cells = [Cell("run", "sync", 2, 25), Cell("run", "uvicorn", 2, 25),
             Cell("run", "nothing", 2, 25)]
    plan = {"id": "F1", "seed": 1, "rounds": 2, "options": [], "python": "3"}
    slots = order(cells, 2, 1, aa_rounds=0)
    assert sit(plan, slots, tmp_path, _fake) == NO_RECORD  # "nothing" failed unrecorded
    found = recorded(tmp_path, "F1")
    sync = sorted(o for o, r in found.items() if r["sitting"]["cell"].startswith("run sync"))
    assert len(sync) == 4  # two rounds, each run again once (the rerun disturbed too)
    assert sorted(r["sitting"]["rerun_of"] for r in found.values()
                  if r["sitting"]["rerun_of"]) == sync[:2]
    assert not any(r["sitting"]["cell"].startswith("run nothing") for r in found.values())
    assert "6 records in" in capsys.readouterr().out


@pytest.mark.processes
def test_a_slot_that_exits_well_but_leaves_no_record_fails_the_sitting(tmp_path, capsys):
    plan = {"id": "F2", "seed": 1, "rounds": 1, "options": [], "python": "3"}
    slots = order([Cell("run", "uvicorn", 2, 25), Cell("run", "skipped", 2, 25)], 1, 1,
                  aa_rounds=0)
    assert sit(plan, slots, tmp_path, _fake) == NO_RECORD  # not the 1 of a failed run
    captured = capsys.readouterr()
    assert "1 records in" in captured.out and "1 left no record" in captured.out
    assert "slot 2 (run skipped x2 25ms) left no record" in captured.err


def test_a_capacity_cell_starts_near_the_median_of_its_earlier_answers():
    cell = Cell("capacity", "uvicorn", 2, 25)
    other = Cell("capacity", "sync", 2, 25)

    def done(cell, rps, ok=True):
        return {"ok": ok, "sitting": {"cell": cell.key()}, "capacity": {"rps": rps}}
    assert near(cell, {}) is None
    records = {1: done(cell, 900.0), 2: done(other, 200.0), 3: done(cell, 1300.0, ok=False),
               4: done(cell, None, ok=False)}
    assert near(cell, records) == 900.0
    records[5] = done(cell, 1000.0)
    records[6] = done(cell, 1200.0)
    assert near(cell, records) == 1000.0  # the median, failed searches left out
    assert near(Cell("run", "uvicorn", 2, 25), {1: done(Cell("run", "uvicorn", 2, 25), 5)}) \
        is None


FAKE_SEARCH = """
import json, os, sys
place = json.loads(os.environ["PYSERVERBENCH_SITTING"])
record = {"sitting": place, "ok": True, "machine": {"disturbed": []}, "argv": sys.argv[2:],
          "capacity": {"rps": 100.0 * place["order"]}}
with open(os.path.join(sys.argv[1], f"{place['order']}.json"), "w") as out:
    json.dump(record, out)
"""


@pytest.mark.processes
def test_a_sitting_passes_a_cells_earlier_answers_to_its_later_searches(tmp_path):
    cell = Cell("capacity", "uvicorn", 2, 25)
    plan = {"id": "N1", "seed": 1, "rounds": 3, "options": [], "python": "3"}

    def command(plan, slot, results_dir, extra):
        return [sys.executable, "-c", FAKE_SEARCH, str(results_dir), *extra]
    assert sit(plan, order([cell], 3, 1, aa_rounds=0), tmp_path, command) == 0
    found = recorded(tmp_path, "N1")
    assert [found[n]["argv"] for n in (1, 2, 3)] == [[], ["--near", "100"],
                                                     ["--near", "150"]]
