"""A sitting's cells and order: every round a permutation, A/A seconds half a round away,
the same order from the same seed."""

import collections

import pytest

from pyserverbench.matrix.stacks import STACKS, STUDY_RUNS
from pyserverbench.sitting.plan import Cell, aa_cells, order, plan_cells


def test_a_cell_names_its_session_options_and_section():
    cell = Cell("capacity", "sync", 2, 25, ("--workload", "fanout"))
    assert cell.key() == "capacity sync x2 25ms --workload fanout"
    assert cell.section() == "capacity x2 25ms --workload fanout"
    assert cell.session("3.13") == "capacity_on-3.13(server='sync')"
    assert cell.argv() == ["--workers", "2", "--db-latency", "25", "--workload", "fanout"]
    assert Cell("run", "gevent", 1, 0).session("3.12") == "bench_on-3.12(server='gevent')"
    assert Cell("run", "gevent", "auto", 0).argv()[:2] == ["--workers", "auto"]
    app = Cell("app", "sync", 3, 0, ("--stack", "sync", "--capacity"), sweep=True)
    assert app.session("3.13") == "app_on-3.13(server='sync')"
    assert app.argv() == ["--workers", "3", "--stack", "sync", "--capacity"]  # no latency
    assert app.section() == "app sync sweep 0ms"


def test_the_plans_hold_what_they_promise():
    assert len(plan_cells("tour")) == len(STACKS)
    assert len(plan_cells("study")) == len(STUDY_RUNS)
    assert {c.db_latency_ms for c in plan_cells("map")} == {0, 5, 25, 100}
    assert [c.db_latency_ms for c in plan_cells("map", ["sync"], (25,))] == [25]
    reference = plan_cells("reference")
    kinds = collections.Counter((c.kind, c.db_latency_ms, c.options) for c in reference)
    assert kinds[("run", 25, ("--duration", "15s"))] == len(STACKS)
    assert kinds[("capacity", 100, ())] == len(STACKS)
    assert kinds[("run", 25, ("--duration", "15s", "--workload", "fanout",
                              "--fanout-calls", "3"))] == len(STACKS)
    narrow = plan_cells("reference", latencies=(25,))
    assert {(c.kind, c.db_latency_ms) for c in narrow} == {("run", 25), ("capacity", 25)}
    assert len(narrow) == 3 * len(STACKS)  # the closed loops stay, the map is one latency
    with pytest.raises(ValueError, match="unknown plan 'nope'"):
        plan_cells("nope")


def test_every_round_is_a_permutation_of_every_cell_with_its_aa_second():
    cells = plan_cells("map", ["sync", "gthread", "gevent", "uvicorn"], (0, 25))
    slots = order(cells, rounds=3, seed=11)
    assert [s.order for s in slots] == list(range(1, len(slots) + 1))
    for number in (1, 2, 3):
        firsts = [s.cell for s in slots if s.round == number and not s.aa]
        assert sorted(firsts, key=Cell.key) == sorted(cells, key=Cell.key)
    orders = {tuple(s.cell.key() for s in slots if s.round == n and not s.aa) for n in (1, 2, 3)}
    assert len(orders) == 3  # each round its own order
    seconds = [s for s in slots if s.aa]
    assert len(seconds) == 2 * 3  # one cell per section (0 ms, 25 ms), each round


def test_an_aa_second_is_half_a_round_from_its_first():
    cells = plan_cells("map", list(STACKS), (25,))
    for seed in range(20):
        slots = order(cells, rounds=2, seed=seed)
        for second in (s for s in slots if s.aa):
            [first] = [s for s in slots if s.round == second.round and not s.aa
                       and s.cell == second.cell]
            assert abs(first.order - second.order) >= len(cells) // 2


def test_the_same_seed_gives_the_same_order_and_another_seed_another():
    cells = plan_cells("map", ["sync", "gthread", "gevent", "uvicorn"], (25,))
    assert order(cells, 3, 5) == order(cells, 3, 5)
    assert order(cells, 3, 5) != order(cells, 3, 6)


def test_aa_seconds_go_in_the_middle_rounds_asked_for():
    cells = plan_cells("map", ["sync", "gthread", "gevent"], (25,))
    assert {s.round for s in order(cells, 3, 2, aa_rounds=1) if s.aa} == {2}
    assert {s.round for s in order(cells, 5, 2, aa_rounds=3) if s.aa} == {2, 3, 4}
    assert not any(s.aa for s in order(cells, 3, 2, aa_rounds=0))
    # the cells' own order does not depend on where the A/A seconds go
    assert ([s.cell for s in order(cells, 3, 2, aa_rounds=0)]
            == [s.cell for s in order(cells, 3, 2, aa_rounds=1) if not s.aa])


def test_one_cell_per_section_has_no_aa_pair():
    assert not any(s.aa for s in order(plan_cells("tour"), 1, 3, aa_rounds=0))
    assert aa_cells([Cell("run", "sync", 2, 25)], __import__("random").Random(1)) == []


def test_each_paired_round_measures_another_cell_twice_while_the_section_has_one():
    cells = plan_cells("map", ["sync", "gthread", "gevent", "uvicorn"], (0, 25))
    for seed in range(10):
        slots = order(cells, rounds=3, seed=seed)
        for latency in (0, 25):
            twice = [s.cell for s in slots if s.aa and s.cell.db_latency_ms == latency]
            assert len(twice) == 3 and len(set(twice)) == 3  # three rounds, three cells
    # more paired rounds than cells: every cell has its turn before one has a second
    two = plan_cells("map", ["sync", "gevent"], (25,))
    seconds = collections.Counter(s.cell for s in order(two, 4, 1) if s.aa)
    assert sorted(seconds.values()) == [2, 2]


def test_a_plan_saved_before_the_per_round_draw_keeps_its_order():
    cells = plan_cells("map", ["sync", "gthread", "gevent"], (25,))
    once = order(cells, 3, 8, draw="once")
    assert len({s.cell for s in once if s.aa}) == 1  # the same cell in every round
    assert once != order(cells, 3, 8)
